"""The REST API's request handling shared by every group of endpoints: dispatch, faults, rate-limit
headers, credentials (App JWT, installation token) and repository visibility.

Behaviour follows GitHub's documentation (links per method) and the spec's github.md: errors are
``{"message", "documentation_url", "status"}``, every API response carries the rate-limit headers of the
credential that made it, and an installation's private repositories are invisible (404) to everyone else.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

from githubsim.control import handle_control
from githubsim.server_base import DOCS, Abort, QuietHandler, Reply, SimulatorServer, error, not_found
from githubsim.state import Fault, InstallationToken, Repository, SimulatorState

Route = tuple[str, re.Pattern[str], str]  # (method, path pattern, endpoint name: handler `ep_<name>`)

DOC_APPS = "https://docs.github.com/rest/apps/apps"
DOC_JWT = "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app"
DOC_RATE = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
REASONS = {
    400: "Bad Request",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    429: "Too Many Requests",
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
DOC_REDIRECTS = "https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#follow-redirects"


class StateServer(SimulatorServer):
    """A server whose handlers read and change one simulator's state."""

    def __init__(self, address: tuple[str, int], sim: SimulatorState, handler: type[BaseHTTPRequestHandler]) -> None:
        self.sim = sim
        super().__init__(address, handler)


class ApiHandlerBase(QuietHandler):
    server: StateServer
    routes: ClassVar[list[Route]] = []  # the concrete handler lists every group's routes

    @property
    def sim(self) -> SimulatorState:
        return self.server.sim

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path, self.query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        self.body = self._read_body()
        if path.startswith("/_sim/"):
            self._send(handle_control(self.sim, self.command, path[len("/_sim/") :], self.body, self.client_address[0]))
            return
        endpoint, params = "unknown", {}
        for method, pattern, name in self.routes:
            match = pattern.match(path)
            if match and method == self.command:
                endpoint, params = name, {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                break
        self.credential: str | None = None
        self.endpoint = endpoint
        self.sim.count_call(endpoint)
        if self.sim.latency_ms:
            self.sim.wait(self.sim.latency_ms / 1000)  # GitHub's round trip (set_load)
        fault = self.sim.take_fault(endpoint) if endpoint != "unknown" else None
        if fault is None and endpoint != "unknown" and not endpoint.startswith("oidc_"):
            load_status = self.sim.take_load_failure()
            fault = Fault("status", load_status, None, 1) if load_status is not None else None
        if fault is not None and fault.kind in ("timeout", "reset"):
            self._drop(fault.kind)
            return
        try:
            if fault is not None:
                reply = self._fault_reply(fault)
            elif not endpoint.startswith("oidc_") and not self.headers.get("User-Agent"):
                # https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent
                reply = Reply(
                    403,
                    raw=b"Request forbidden by administrative rules. "
                    b"Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/"
                    b"resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other "
                    b"possible causes.\n",
                    headers={"Content-Type": "text/plain; charset=utf-8"},
                )
            elif endpoint == "unknown":
                reply = not_found()
            else:
                reply = getattr(self, f"ep_{endpoint}")(**self._by_name(params))
        except Abort as abort:
            reply = abort.reply
        if not endpoint.startswith("oidc_"):
            self._rate_headers(reply)
        self._send(reply)

    def _by_name(self, params: dict[str, str]) -> dict[str, str]:
        """Handlers take a repository by its current name; one addressed by id is found here (an id never
        moves, where a name can be renamed away)."""
        if "repository_id" not in params:
            return params
        rest = {k: v for k, v in params.items() if k != "repository_id"}
        repo = self.sim.repository_by_id(int(params["repository_id"]))
        if repo is None:
            raise Abort(not_found())
        return {**rest, "owner": repo.owner.login, "repo": repo.name}

    def _missing(self, owner: str, name: str, *, visible: bool | None = None, token: InstallationToken | None) -> Abort:
        """The answer for a name no repository has: 301 to the repository's id when it was renamed away
        (for a caller that may see it), else 404 (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#follow-redirects)."""
        moved = self.sim.renamed_to(f"{owner}/{name}")
        if moved is None or not (visible if visible is not None else self._can_see(moved, token)):
            return Abort(not_found())
        location = self.sim.api_url + re.sub(r"^/repos/[^/]+/[^/?]+", f"/repositories/{moved.id}", self.path)
        body = {"message": "Moved Permanently", "url": location, "documentation_url": DOC_REDIRECTS}
        return Abort(Reply(301, body, {"Location": location}))

    def _read_body(self) -> bytes:
        raw = self.headers.get("Content-Length") or "0"
        length = int(raw) if raw.isdigit() else 0
        if length > 10 * 1024 * 1024:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        if reply.raw is not None:
            data = reply.raw
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(reply.body, indent=2).encode()
        self.send_response(reply.status)
        if reply.body is not None and reply.raw is None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("X-GitHub-Request-Id", hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:20].upper())
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self, kind: str) -> None:
        if kind == "timeout":
            self.sim.hold()
        # Abortive close (RST), what a client sees when a load balancer drops the connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _fault_reply(self, fault: Any) -> Reply:
        now = int(time.time())
        if fault.kind == "rate_limit":
            reply = error(fault.status or 403, "API rate limit exceeded for installation.", DOC_RATE)
            reset = now + (fault.retry_after if fault.retry_after is not None else 60)
            reply.headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "_forced": "1"})
            return reply
        if fault.kind == "secondary_rate_limit":
            reply = error(
                fault.status or 403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                "If you reach out to GitHub Support for help, please include the request ID.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            )
            reply.headers["retry-after"] = str(fault.retry_after if fault.retry_after is not None else 60)
            return reply
        if fault.kind == "malformed":
            return Reply(
                fault.status or 200, raw=b"<html>upstream hiccup</html>", headers={"Content-Type": "text/html"}
            )
        status = int(fault.status)
        reply = error(status, REASONS.get(status, "Error"))
        if fault.retry_after is not None:
            reply.headers["retry-after"] = str(fault.retry_after)
        return reply

    def _rate_headers(self, reply: Reply) -> None:
        credential = self.credential or f"ip:{self.client_address[0]}"
        bucket = self.sim.rate_bucket(credential)
        # Conditional requests answered 304 do not count against the rate limit, nor does reading it
        # (https://docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user).
        if reply.status != 304 and self.endpoint != "rate_limit":
            with self.sim._lock:
                bucket.used = min(bucket.limit, bucket.used + 1)
        forced = reply.headers.pop("_forced", None)
        headers = {
            "x-ratelimit-limit": str(bucket.limit),
            "x-ratelimit-remaining": str(bucket.limit - bucket.used),
            "x-ratelimit-used": str(bucket.used),
            "x-ratelimit-reset": str(bucket.reset),
            "x-ratelimit-resource": "core",
        }
        if forced:
            headers.update({k: v for k, v in reply.headers.items() if k.startswith("x-ratelimit-")})
        reply.headers.update(headers)

    # -- authentication ------------------------------------------------------------------------

    def _bearer(self, *, schemes: tuple[str, ...] = ("bearer", "token")) -> str | None:
        """The credential of the Authorization header; installation tokens also work as ``token X``."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() not in schemes or not value.strip():
            raise Abort(error(401, "Bad credentials"))
        return value.strip()

    def _charge(self, credential: str) -> None:
        self.credential = credential
        bucket = self.sim.rate_bucket(credential)
        if bucket.used >= bucket.limit:
            reply = error(403, "API rate limit exceeded for installation.", DOC_RATE)
            raise Abort(reply)

    def _require_app(self) -> None:
        """App endpoints: only a valid App JWT (never an installation token)."""
        try:
            raw = self._bearer(schemes=("bearer",))  # an App JWT goes only as a Bearer
        except Abort:
            raw = ""
        if not raw:
            raise Abort(error(401, "A JSON web token could not be decoded", DOC_JWT))
        problem = self._app_jwt_problem(raw)
        if problem:
            raise Abort(error(401, problem, DOC_JWT))
        self._charge(f"app:{self.sim.app_id}")

    def _app_jwt_problem(self, raw: str) -> str | None:
        # https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
        undecodable = "A JSON web token could not be decoded"
        try:
            header = jwt.get_unverified_header(raw)
            unverified = jwt.decode(raw, options={"verify_signature": False})
        except jwt.PyJWTError:
            return undecodable
        if header.get("alg") != "RS256":
            return undecodable
        issuer = unverified.get("iss")
        if str(issuer) not in (str(self.sim.app_id), self.sim.client_id) or isinstance(issuer, bool):
            if not (isinstance(issuer, int) or (isinstance(issuer, str) and issuer.isdigit())):
                return "'Issuer' claim ('iss') must be an Integer"
            return "Integration not found"
        try:
            claims = jwt.decode(
                raw,
                self.sim.app_public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return undecodable
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        # An iat in the future is refused outright: GitHub's docs backdate iat by 60 s for that reason.
        if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now:
            return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            return (
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
                "the assertion expires"
            )
        # GitHub's own examples use iat = now - 60, exp = now + 600: the bound is on exp from now.
        if exp - now > 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def _require_token(self, *, optional: bool = False) -> InstallationToken | None:
        """Installation endpoints: a live installation token (an App JWT is not one)."""
        raw = self._bearer()
        if raw is None:
            if optional:
                self._charge(f"ip:{self.client_address[0]}")
                return None
            raise Abort(error(401, "Requires authentication"))
        record = self.sim.lookup_token(raw) if raw.startswith("ghs_") else None
        readiness = self.sim.token_readiness(record) if record is not None else "unknown"
        if record is None or readiness == "unknown":
            raise Abort(error(401, "Bad credentials"))
        self._charge(installation_budget(record))
        installation = self.sim.installations.get(record.installation_id)
        if installation is None:
            raise Abort(error(401, "Bad credentials"))
        if installation.suspended_at is not None:
            raise Abort(error(403, "This installation has been suspended", DOC_APPS))
        if readiness == "permissions_pending":
            raise Abort(error(403, "Resource not accessible by integration", DOCS))
        return record

    # -- JSON shapes ---------------------------------------------------------------------------

    def _visible_repo(self, owner: str, name: str, token: InstallationToken | None) -> Repository:
        repo = self.sim.repositories.get(f"{owner}/{name}".lower())
        if repo is None:
            raise self._missing(owner, name, token=token)
        if not self._can_see(repo, token):
            raise Abort(not_found())
        return repo

    def _can_see(self, repo: Repository, token: InstallationToken | None) -> bool:
        # Public repositories are readable by any credential; private ones only through a covering token.
        return not repo.private or (token is not None and repo in self.sim.token_repositories(token))


def installation_budget(token: InstallationToken) -> str:
    # The rate limit belongs to the installation: every token of it, ours and the callers', spends one budget.
    return f"installation:{token.installation_id}"


T = TypeVar("T")


def page_of(items: Sequence[T], query: dict[str, list[str]], *, base: str) -> tuple[Sequence[T], dict[str, str]]:
    """One page of a list as GitHub pages it: ``per_page`` (30 by default, 100 at most), ``page``, and a
    ``Link`` header (https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api)."""
    per_page = _int_param(query, "per_page", 30, minimum=1, maximum=100)
    page = _int_param(query, "page", 1, minimum=1, maximum=10**6)
    chunk = items[(page - 1) * per_page : page * per_page]
    last = max(1, -(-len(items) // per_page))
    links = []
    if page < last:
        links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
        links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
    if page > 1:
        links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
        links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
    return chunk, ({"Link": ", ".join(links)} if links else {})


def _int_param(query: dict[str, list[str]], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = (query.get(name) or [""])[0]
    if not raw.isdigit():
        return default
    return max(minimum, min(maximum, int(raw)))
