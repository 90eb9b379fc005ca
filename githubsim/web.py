"""The web host (https://github.com, or https://HOST on GHES), apart from the API: the user-authorization
flow of a GitHub App (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app).

``GET /login/oauth/authorize`` sends the signed-in person back to the App's callback with a code (the
simulator has no browser session: ``login=`` names the person who signs in). ``POST
/login/oauth/access_token`` trades the code for a user token; its errors come with a 200, in the body
(https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors),
and the answer is JSON only when asked for with ``Accept: application/json``.

The App's installation page, ``GET /apps/{slug}/installations/new?state=…``
(https://docs.github.com/apps/sharing-github-apps/sharing-your-github-app), lets the signed-in person
pick one of their accounts (their own, or an organization they own) and install the App on all its
repositories (``POST /apps/{slug}/installations``). Since the App requests user authorization during
installation, GitHub then sends the person to the App's callback URL with ``code``, ``installation_id``,
``setup_action`` (``install``, or ``update`` when the App was already installed on that account) and
the ``state`` it was given
(https://docs.github.com/apps/creating-github-apps/registering-a-github-app/about-the-setup-url). The
simulator's sign-in is ``GET /login?login=<who>&return_to=<path>``, which sets the ``user_session`` cookie.
"""

from __future__ import annotations

import html
import json
import re
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from githubsim.api_base import StateServer
from githubsim.oauth import REFRESH_TOKEN_LIFETIME_SECONDS, USER_TOKEN_LIFETIME_SECONDS
from githubsim.server_base import QuietHandler
from githubsim.state import Fault, SimulatorState

DOC_ERRORS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
ERRORS = {
    "bad_verification_code": "The code passed is incorrect or expired.",
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for this application.",
}


SESSION_COOKIE = "user_session"
_INSTALL_PAGE = re.compile(r"^/apps/([^/]+)/installations/new$")
_INSTALL = re.compile(r"^/apps/([^/]+)/installations$")


class WebServer(StateServer):
    def __init__(self, address: tuple[str, int], sim: SimulatorState) -> None:
        super().__init__(address, sim, WebHandler)


class WebHandler(QuietHandler):
    server: WebServer

    @property
    def sim(self) -> SimulatorState:
        return self.server.sim

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        install_page = _INSTALL_PAGE.match(parts.path)
        if parts.path == "/":
            who = self._signed_in()
            self._page(200, f"Signed in as {html.escape(who)}." if who else "Welcome to GitHub.")
        elif parts.path == "/login":
            self._sign_in(query)
        elif install_page is not None:
            self.sim.count_call("app_installation_page")
            self._install_page(install_page.group(1), query)
        elif parts.path == "/login/oauth/authorize":
            self.sim.count_call("oauth_authorize")
            self._authorize(query)
        else:
            self._page(404, "Not Found")

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 64 * 1024)) if length > 0 else b""
        install = _INSTALL.match(parts.path)
        if install is not None:
            self.sim.count_call("app_install")
            form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()}
            self._install(install.group(1), form)
            return
        if parts.path != "/login/oauth/access_token":
            self._page(404, "Not Found")
            return
        self.sim.count_call("oauth_access_token")
        fault = self.sim.take_fault("oauth_access_token")
        if fault is not None:
            self._fault(fault)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            params.update({k: str(v) for k, v in body.items()} if isinstance(body, dict) else {})
        else:
            params.update({k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()})
        self._answer(self._access_token(params))

    # -- signing in and installing the App -----------------------------------------------------

    def _signed_in(self) -> str | None:
        cookie = SimpleCookie(self.headers.get("Cookie") or "")
        morsel = cookie.get(SESSION_COOKIE)
        return self.sim.oauth.signed_in(morsel.value) if morsel is not None else None

    def _sign_in(self, query: dict[str, str]) -> None:
        login = query.get("login", "")
        account = self.sim.account(login) if login else None
        if account is None or account.type != "User":
            self._page(200, "Incorrect username or password.")
            return
        return_to = query.get("return_to", "/")
        if not return_to.startswith("/") or return_to.startswith("//"):
            return_to = "/"  # GitHub sends a person back to its own pages only
        session = self.sim.oauth.sign_in(account.login)
        self.send_response(302)
        self.send_header("Set-Cookie", f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax")
        self.send_header("Location", return_to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _accounts_of(self, login: str) -> list[str]:
        """Where a person may install the App: their own account and the organizations they own (role
        ``admin``); GitHub offers a plain member only to request it, which the simulator leaves out."""
        return [login, *self.sim.oauth.organizations_of(login, role="admin")]

    def _install_page(self, slug: str, query: dict[str, str]) -> None:
        if slug != self.sim.app_slug:
            self._page(404, "Not Found")
            return
        login = self._signed_in()
        if login is None:
            here = html.escape(self.path)
            self._page(
                200,
                'Sign in to GitHub to continue. <form method="get" action="/login"><input name="login">'
                f'<input type="hidden" name="return_to" value="{here}"><button type="submit">Sign in</button></form>',
            )
            return
        choices = "".join(
            f'<label><input type="radio" name="account" value="{html.escape(name)}"> {html.escape(name)}</label>'
            for name in self._accounts_of(login)
        )
        state = html.escape(query.get("state", ""))
        self._page(
            200,
            f"Install {html.escape(slug)} on: "
            f'<form method="post" action="/apps/{html.escape(slug)}/installations">'
            f'<input type="hidden" name="state" value="{state}">{choices}'
            '<input type="hidden" name="repository_selection" value="all">'
            '<button type="submit">Install</button></form>',
        )

    def _install(self, slug: str, form: dict[str, str]) -> None:
        login = self._signed_in()
        if slug != self.sim.app_slug or login is None:
            self._page(404, "Not Found")
            return
        wanted = form.get("account", "").lower()
        account = next((name for name in self._accounts_of(login) if name.lower() == wanted), None)
        if account is None:
            self._page(404, "Not Found")  # GitHub shows no account the person cannot administer
            return
        existing = next(
            (i for i in self.sim.installations.values() if i.account.login.lower() == account.lower()), None
        )
        if existing is not None:
            installation_id, setup_action = existing.id, "update"
        else:
            account_type = "User" if account.lower() == login.lower() else "Organization"
            installation_id = self.sim.add_installation(account, account_type=account_type, repository_selection="all")
            setup_action = "install"
        callback = self.sim.oauth_callback_url
        if not callback:
            self._page(200, f"Installed on {html.escape(account)}.")
            return
        code = self.sim.oauth.new_code(login=login, redirect_uri=callback)
        params = {"code": code, "installation_id": str(installation_id), "setup_action": setup_action}
        if form.get("state"):
            params["state"] = form["state"]
        self._redirect(callback, params)

    # -- the flow ------------------------------------------------------------------------------

    def _authorize(self, params: dict[str, str]) -> None:
        if params.get("client_id") != self.sim.client_id:
            self._page(404, "Not Found")
            return
        callback = self.sim.oauth_callback_url
        redirect_uri = params.get("redirect_uri") or callback
        if not redirect_uri:
            self._page(400, "The App has no callback URL.")
            return
        if callback and not _under(redirect_uri, callback):
            self._redirect(callback, {"error": "redirect_uri_mismatch", "error_description": ERRORS[
                "redirect_uri_mismatch"], "error_uri": DOC_ERRORS, "state": params.get("state", "")})  # fmt: skip
            return
        login = params.get("login", "")
        if not login or self.sim.account(login) is None:
            self._page(200, "Sign in to GitHub to continue to the App.")
            return
        code = self.sim.oauth.new_code(login=login, redirect_uri=redirect_uri)
        self._redirect(redirect_uri, {"code": code, "state": params.get("state", "")})

    def _access_token(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("client_id") != self.sim.client_id or params.get("client_secret") != self.sim.client_secret:
            return _error("incorrect_client_credentials")
        grant = self.sim.oauth.redeem(params.get("code", ""))
        if grant is None:
            return _error("bad_verification_code")
        if params.get("redirect_uri") and params["redirect_uri"] != grant.redirect_uri:
            return _error("redirect_uri_mismatch")
        token, refresh = self.sim.oauth.new_user_token(grant.login)
        return {
            "access_token": token,
            "expires_in": USER_TOKEN_LIFETIME_SECONDS,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TOKEN_LIFETIME_SECONDS,
            "scope": "",
            "token_type": "bearer",
        }

    # -- replies -------------------------------------------------------------------------------

    def _fault(self, fault: Fault) -> None:
        """The faults the web host can show: an outage page, an answer that is not JSON, a hang."""
        if fault.kind in ("timeout", "reset"):
            if fault.kind == "timeout":
                self.sim.hold()
            self.close_connection = True
            return
        if fault.kind == "malformed":
            self._send(fault.status or 200, b"<html>upstream hiccup</html>", "text/html")
            return
        self._page(fault.status or 502, "GitHub is having trouble.")

    def _answer(self, body: dict[str, Any]) -> None:
        if "application/json" in (self.headers.get("Accept") or ""):
            self._send(200, json.dumps(body).encode(), "application/json; charset=utf-8")
        else:
            self._send(200, urlencode(body).encode(), "application/x-www-form-urlencoded; charset=utf-8")

    def _redirect(self, target: str, params: dict[str, str]) -> None:
        separator = "&" if "?" in target else "?"
        self.send_response(302)
        self.send_header("Location", target + separator + urlencode(params))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _page(self, status: int, text: str) -> None:
        self._send(status, f"<!DOCTYPE html><html><body><p>{text}</p></body></html>".encode(), "text/html")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error(tag: str) -> dict[str, Any]:
    return {"error": tag, "error_description": ERRORS[tag], "error_uri": f"{DOC_ERRORS}#{tag.replace('_', '-')}"}


def _under(url: str, callback: str) -> bool:
    """GitHub's rule: same scheme, host and port as the callback URL, and a path at or below its path."""
    asked, registered = urlsplit(url), urlsplit(callback)
    same_origin = (asked.scheme, asked.netloc) == (registered.scheme, registered.netloc)
    base = registered.path.rstrip("/")
    return same_origin and (asked.path == registered.path or asked.path.startswith(base + "/"))
