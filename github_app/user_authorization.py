"""The App acting for a person: GitHub's user-authorization flow, used to prove who may link an installation.

During installation GitHub hands our setup URL a one-use ``code``; exchanged for a user access token
(on the web host, not the API), that token lists the App's installations the person can reach
(https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app,
https://docs.github.com/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token).
That list holds every installation the person has explicit permission of any level on, read-only
included, so reaching one proves nothing about who may administer it: `user_administers` asks GitHub
whether the person is an active admin of the organization
(https://docs.github.com/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user), or
is the personal account itself (https://docs.github.com/rest/users/users#get-the-authenticated-user).
The token lives in a `UserToken` in memory for the length of one request: it is never stored, logged or
put in an error, and its `repr` does not show it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from github_app.answers import error_for
from github_app.client import API_VERSION
from github_app.errors import (
    GitHubAuthenticationFailed,
    GitHubError,
    GitHubForbidden,
    GitHubUnavailable,
)
from github_app.http import http_request

# A person reaches few installations; past this many pages GitHub's answer is not what it documents.
MAX_INSTALLATION_PAGES = 50
# https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
CODE_ERRORS = frozenset({"bad_verification_code", "redirect_uri_mismatch"})


class GitHubCodeRefused(GitHubError):
    """GitHub refused the code: made up, already used, expired (``bad_verification_code``), or given to another URL."""


@dataclass(frozen=True)
class UserToken:
    value: str = field(repr=False)


@dataclass(frozen=True)
class InstallationAccount:
    """The account an installation is on, as `GET /user/installations` names it."""

    type: str  # "Organization" or "User"
    login: str
    id: int


@dataclass(frozen=True)
class OAuthApp:
    """The App's OAuth side: its client id and secret, and GitHub's web host and API."""

    web_url: str
    api_url: str
    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_settings(cls) -> OAuthApp:
        if not settings.GITHUB_APP_CLIENT_ID or not settings.GITHUB_APP_CLIENT_SECRET:
            raise GitHubAuthenticationFailed(
                "The GitHub App's OAuth client is not configured (GITHUB_APP_CLIENT_ID, GITHUB_APP_CLIENT_SECRET)."
            )
        return cls(
            web_url=settings.GITHUB_WEB_URL.rstrip("/"),
            api_url=settings.GITHUB_API_URL.rstrip("/"),
            client_id=settings.GITHUB_APP_CLIENT_ID,
            client_secret=settings.GITHUB_APP_CLIENT_SECRET,
        )

    def user_token_for(self, code: str) -> UserToken:
        """Exchanges a code for a user token. GitHub reports a bad code in the body of a 200, and answers
        JSON only when asked for it. Raises GitHubCodeRefused, GitHubAuthenticationFailed (our client
        credentials) or GitHubUnavailable."""
        with _transport("POST /login/oauth/access_token"):
            response = http_request(
                "POST",
                f"{self.web_url}/login/oauth/access_token",
                data={"client_id": self.client_id, "client_secret": self.client_secret, "code": code},
                headers={"Accept": "application/json"},
            )
        if response.status_code != 200:
            raise GitHubUnavailable(f"GitHub answered {response.status_code} to the code exchange.")
        with _malformed("the code exchange"):
            body = response.json()
            tag = str(body.get("error") or "")
            token = str(body.get("access_token") or "")
        if tag in CODE_ERRORS:
            raise GitHubCodeRefused(f"GitHub refused the authorization code ({tag}).")
        if tag == "incorrect_client_credentials":
            raise GitHubAuthenticationFailed("GitHub refused the App's OAuth client id or secret.")
        if tag:
            raise GitHubError(f"GitHub refused the code exchange ({tag[:100]}).")
        if not token:
            raise GitHubUnavailable("GitHub's answer to the code exchange held no token.")
        return UserToken(token)

    def installation_account(self, token: UserToken, installation_id: int) -> InstallationAccount | None:
        """The account of the installation if `GET /user/installations` lists it for this person, paging
        until it is found; None when it is not listed."""
        url: str | None = f"{self.api_url}/user/installations?per_page=100"
        for _ in range(MAX_INSTALLATION_PAGES):
            if url is None:
                return None
            response = self._get(url, token, "/user/installations")
            with _malformed("user installations"):
                for item in response.json()["installations"]:
                    if int(item["id"]) == installation_id:
                        return _account_of(item["account"])
            url = response.links.get("next", {}).get("url")
            if url is not None and not url.startswith(self.api_url + "/"):
                raise GitHubUnavailable("GitHub's next page of user installations points elsewhere.")
        raise GitHubUnavailable("GitHub lists more pages of user installations than any person has.")

    def user_administers(self, token: UserToken, account: InstallationAccount) -> bool:
        """Whether GitHub confirms the person administers the account: for an organization, an active
        membership with the admin role (owner), of that very organization; for a personal account, the
        person is that account. Anything short of that confirmation, or another type of account, is no."""
        if account.type == "User":
            with _malformed("the authenticated user"):
                me = self._get(f"{self.api_url}/user", token, "/user").json()
                return isinstance(me, dict) and _same_id(me.get("id"), account.id)
        if account.type != "Organization":
            return False
        path = f"/user/memberships/orgs/{quote(account.login, safe='')}"
        try:
            response = self._get(f"{self.api_url}{path}", token, "/user/memberships/orgs/{org}")
        except GitHubForbidden:
            return False  # a membership this token may not see (GitHub's documented 403; not a rate limit)
        except GitHubError as error:
            if error.status == 404:
                return False  # not a member (GitHub's documented 404)
            raise
        with _malformed("the organization membership"):
            membership = response.json()
        if not isinstance(membership, dict):
            raise GitHubUnavailable("GitHub's answer on the organization membership was malformed.")
        organization = membership.get("organization")
        return (
            membership.get("state") == "active"
            and membership.get("role") == "admin"
            and isinstance(organization, dict)
            and isinstance(organization.get("login"), str)
            and organization["login"].lower() == account.login.lower()
            and _same_id(organization.get("id"), account.id)
        )

    def _get(self, url: str, token: UserToken, endpoint: str) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {token.value}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        with _transport(f"GET {endpoint}"):
            response = http_request("GET", url, headers=headers)
        if response.status_code != 200:
            raise error_for(response, "GET", endpoint)
        return response


def _account_of(raw: Any) -> InstallationAccount:
    """Raises KeyError/TypeError/ValueError (read as a malformed answer) when the account lacks its fields."""
    kind, login, number = raw["type"], raw["login"], raw["id"]
    if not isinstance(kind, str) or not isinstance(login, str) or not login or not _is_id(number):
        raise ValueError("an installation's account without its type, login or id")
    return InstallationAccount(type=kind, login=login, id=number)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _same_id(value: Any, expected: int) -> bool:
    return _is_id(value) and value == expected


@contextlib.contextmanager
def _transport(where: str) -> Iterator[None]:
    try:
        yield
    except requests.RequestException as error:
        raise GitHubUnavailable(f"GitHub did not answer {where}: {type(error).__name__}.") from None


@contextlib.contextmanager
def _malformed(what: str) -> Iterator[None]:
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GitHubUnavailable(f"GitHub's answer to {what} was malformed.") from None
