"""The GitHub App client: everything this server asks of GitHub's REST API, and nothing else.

Installation tokens pass through here in memory only; no method logs one or puts one in an error.
GitHub's behaviour that shapes this code: https://docs.github.com/en/rest/apps/apps and
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import jwt
import requests
from django.conf import settings

from github_app.credentials import app_jwts, app_jwts_lock, app_private_key, rate_limits, reader_tokens
from github_app.errors import (
    GitHubAuthenticationFailed,
    GitHubError,
    GitHubForbidden,
    GitHubInstallationSuspended,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubUnprocessable,
)
from github_app.http import http_request

API_VERSION = "2022-11-28"
MAX_REPOSITORIES_PER_TOKEN = 500  # GitHub's limit for `repositories` on access_tokens
READ_ATTEMPTS = 3
READ_DEADLINE_SECONDS = 8.0


@dataclass(frozen=True)
class Installation:
    id: int
    account_login: str
    account_id: int
    account_type: str
    repository_selection: str
    permissions: dict[str, str]
    suspended_at: str | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Installation:
        account = body.get("account") or {}
        return cls(
            id=int(body["id"]),
            account_login=str(account.get("login", "")),
            account_id=int(account.get("id", 0)),
            account_type=str(account.get("type", "")),
            repository_selection=str(body.get("repository_selection", "")),
            permissions=dict(body.get("permissions") or {}),
            suspended_at=body.get("suspended_at"),
        )


@dataclass(frozen=True)
class Repository:
    id: int
    full_name: str


@dataclass(frozen=True)
class InstallationToken:
    token: str = field(repr=False)
    expires_at: str  # exactly as GitHub returned it (RFC 3339, UTC)
    permissions: dict[str, str]
    repositories: list[Repository]

    @property
    def expires_at_datetime(self) -> datetime:
        return datetime.fromisoformat(self.expires_at.replace("Z", "+00:00"))


@dataclass(frozen=True)
class FileContent:
    """A file read from a repository: `content` is None when the file does not exist."""

    content: bytes | None
    etag: str | None
    not_modified: bool = False


class GitHubApp:
    def __init__(self, *, api_url: str, app_id: str, private_key_pem: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.app_id = app_id
        self._private_key_pem = private_key_pem

    def __repr__(self) -> str:
        return f"GitHubApp(api_url={self.api_url!r}, app_id={self.app_id!r})"

    @classmethod
    def from_settings(cls) -> GitHubApp:
        if not settings.GITHUB_APP_ID or not settings.GITHUB_APP_PRIVATE_KEY:
            raise GitHubAuthenticationFailed(
                "The GitHub App is not configured (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY)."
            )
        return cls(
            api_url=settings.GITHUB_API_URL,
            app_id=settings.GITHUB_APP_ID,
            private_key_pem=settings.GITHUB_APP_PRIVATE_KEY,
        )

    # --- App-authenticated calls ---

    def app_jwt(self) -> str:
        """https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app

        Reused until a minute before it expires: signing is cheap once the key is loaded, but
        loading a PEM (with its consistency checks) costs tens of milliseconds."""
        key = (self.app_id, self._private_key_pem)
        with app_jwts_lock:
            cached = app_jwts.get(key)
            if cached is not None and cached[1] - time.time() > 60:
                return cached[0]
            now = int(time.time())
            # iat is backdated 60 s against clock drift; exp stays well inside GitHub's 10-minute bound.
            expires = now + 540
            token = jwt.encode(
                {"iat": now - 60, "exp": expires, "iss": self.app_id},
                app_private_key(self._private_key_pem),
                algorithm="RS256",
            )
            app_jwts[key] = (token, float(expires))
            return token

    def installation_for_repository(self, full_name: str) -> Installation | None:
        response = self._call(
            "GET", f"/repos/{_repo_path(full_name)}/installation", bearer=self.app_jwt(), credential="app"
        )
        if response is None:
            return None
        with _malformed_answer("installation"):
            return Installation.from_api(response.json())

    def installation(self, installation_id: int) -> Installation | None:
        response = self._call(
            "GET", f"/app/installations/{int(installation_id)}", bearer=self.app_jwt(), credential="app"
        )
        if response is None:
            return None
        with _malformed_answer("installation"):
            return Installation.from_api(response.json())

    def create_installation_token(
        self,
        installation_id: int,
        *,
        repositories: list[str] | None = None,
        repository_ids: list[int] | None = None,
        permissions: Mapping[str, str],
    ) -> InstallationToken:
        """https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app

        `repositories` are names without the owner, `repository_ids` GitHub's ids (they survive renames);
        neither: every repository of the installation. Not retried: a POST that may have succeeded must
        not hand out a second token."""
        body: dict[str, Any] = {"permissions": dict(permissions)}
        if repositories is not None or repository_ids is not None:
            # An empty list would mean "every repository" to GitHub: never send one.
            count = len(repositories or []) + len(repository_ids or [])
            if not 0 < count <= MAX_REPOSITORIES_PER_TOKEN:
                raise ValueError(f"An installation token covers 1 to {MAX_REPOSITORIES_PER_TOKEN} repositories.")
            if repositories:
                body["repositories"] = repositories
            if repository_ids:
                body["repository_ids"] = repository_ids
        response = self._call(
            "POST",
            f"/app/installations/{int(installation_id)}/access_tokens",
            bearer=self.app_jwt(),
            credential="app",
            json=body,
            retry=False,
        )
        if response is None:
            raise GitHubNotFound(f"GitHub does not know installation {installation_id}.", status=404)
        with _malformed_answer("access_tokens"):
            payload = response.json()
            token = InstallationToken(
                token=str(payload["token"]),
                expires_at=str(payload["expires_at"]),
                permissions=dict(payload.get("permissions") or {}),
                repositories=[
                    Repository(int(repo["id"]), str(repo["full_name"])) for repo in payload.get("repositories") or []
                ],
            )
        return token

    # --- Installation-token calls ---

    def installation_repositories(self, installation_id: int) -> list[Repository]:
        """Every repository the installation covers (https://docs.github.com/en/rest/apps/installations#list-repositories-accessible-to-the-app-installation)."""
        token = reader_tokens.get(self, installation_id)
        found: list[Repository] = []
        page = 1
        while True:
            response = self._call(
                "GET",
                "/installation/repositories",
                bearer=token,
                credential=f"installation:{installation_id}",
                params={"per_page": 100, "page": page},
            )
            if response is None:
                raise GitHubNotFound(
                    f"GitHub does not list repositories for installation {installation_id}.", status=404
                )
            with _malformed_answer("installation_repositories"):
                batch = response.json().get("repositories") or []
                found.extend(Repository(int(repo["id"]), str(repo["full_name"])) for repo in batch)
            if 'rel="next"' not in response.headers.get("Link", "") or not batch:
                return found
            page += 1

    def read_file(
        self,
        *,
        installation_id: int,
        full_name: str,
        path: str,
        etag: str | None = None,
        repository_id: int | None = None,
    ) -> FileContent:
        """https://docs.github.com/en/rest/repos/contents#get-repository-content ; a conditional
        request answered 304 does not count against the rate limit.

        With `repository_id`, the repository is addressed by GitHub's id (`/repositories/{id}/…`):
        after a rename, a name can belong to someone else, an id never does."""
        headers = {"If-None-Match": etag} if etag else {}
        where = (
            f"/repositories/{int(repository_id)}" if repository_id is not None else f"/repos/{_repo_path(full_name)}"
        )

        def fetch() -> requests.Response | None:
            return self._call(
                "GET",
                f"{where}/contents/{quote(path)}",
                bearer=reader_tokens.get(self, installation_id),
                credential=f"installation:{installation_id}",
                headers=headers,
                allow_not_modified=True,
            )

        try:
            response = fetch()
        except GitHubAuthenticationFailed:
            # Our reader token was revoked or expired early: make a new one, once.
            reader_tokens.forget(self, installation_id)
            response = fetch()
        if response is None:
            return FileContent(content=None, etag=None)
        if response.status_code == 304:
            return FileContent(content=None, etag=etag, not_modified=True)
        with _malformed_answer("contents"):
            body = response.json()
            if not isinstance(body, dict) or body.get("type") != "file":
                return FileContent(content=None, etag=None)  # a directory (an array) or a symlink: not a file
            if body.get("encoding") != "base64":
                raise GitHubUnavailable(f"GitHub returned {path[:200]} in an unexpected encoding.")
            content = base64.b64decode(str(body.get("content", "")))
        return FileContent(content=content, etag=response.headers.get("ETag"))

    def revoke_installation_token(self, token: str) -> bool:
        """https://docs.github.com/en/rest/apps/installations#revoke-an-installation-access-token ;
        True once GitHub no longer accepts the token (204, or 401: already revoked or expired)."""
        try:
            # No rate-limit memory: each token is its own credential, and one token's limit says nothing of another's.
            self._call("DELETE", "/installation/token", bearer=token, credential=None, retry=False)
        except GitHubAuthenticationFailed:
            return True
        return True

    # --- The one HTTP path ---

    def _call(
        self,
        method: str,
        path: str,
        *,
        bearer: str,
        credential: str | None,
        retry: bool = True,
        allow_not_modified: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response | None:
        """One request with bounded retries for idempotent reads; None for a 404."""
        if credential is not None:
            rate_limits.check(credential)
        all_headers = {
            "Authorization": f"Bearer {bearer}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            **(headers or {}),
        }
        deadline = time.monotonic() + READ_DEADLINE_SECONDS
        attempts = READ_ATTEMPTS if retry and method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                response = http_request(method, self.api_url + path, headers=all_headers, **kwargs)
            except requests.RequestException as error:
                failure: GitHubError = GitHubUnavailable(
                    f"GitHub did not answer {method} {_safe(path)}: {type(error).__name__}."
                )
            else:
                if response.status_code < 300 or (allow_not_modified and response.status_code == 304):
                    return response
                if response.status_code == 404:
                    return None
                failure = _error_for(response, method, path)
                if isinstance(failure, GitHubRateLimited) and credential is not None:
                    rate_limits.remember(credential, failure.retry_at)
                if not isinstance(failure, GitHubUnavailable):
                    raise failure
            pause = 0.25 * 3 ** (attempt - 1)
            if attempt == attempts or time.monotonic() + pause > deadline:
                raise failure
            time.sleep(pause)
        raise AssertionError("unreachable")


@contextlib.contextmanager
def _malformed_answer(endpoint: str) -> Iterator[None]:
    """An answer of GitHub's that does not have the documented shape is GitHub failing, not our bug."""
    try:
        yield
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise GitHubUnavailable(f"GitHub's answer on {endpoint} was malformed.") from None


def _repo_path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _safe(path: str) -> str:
    return path[:200]


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _error_for(response: requests.Response, method: str, path: str) -> GitHubError:
    """Maps GitHub's answer to our error family (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api)."""
    status = response.status_code
    message = _message(response)[:300]
    where = f"{method} {_safe(path)}"
    if status in (403, 429):
        retry_after = response.headers.get("retry-after")
        if "secondary rate limit" in message.lower() or retry_after:
            wait = int(retry_after) if retry_after and retry_after.isdigit() else 60
            return GitHubRateLimited(
                f"GitHub's secondary rate limit on {where}.", status=status, retry_at=time.time() + wait
            )
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            retry_at = float(reset) if reset.isdigit() else time.time() + 60
            return GitHubRateLimited(f"GitHub's rate limit is exhausted on {where}.", status=status, retry_at=retry_at)
        if "suspended" in message.lower():
            return GitHubInstallationSuspended(f"The installation is suspended ({where}).", status=status)
        return GitHubForbidden(f"GitHub refused {where}: {message}", status=status)
    if status == 401:
        return GitHubAuthenticationFailed(f"GitHub refused our credentials on {where}: {message}", status=status)
    if status == 422:
        return GitHubUnprocessable(f"GitHub could not process {where}: {message}", status=status)
    if status >= 500:
        return GitHubUnavailable(f"GitHub answered {status} on {where}.", status=status)
    return GitHubError(f"GitHub answered {status} on {where}: {message}", status=status)
