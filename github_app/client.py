"""The GitHub App client: everything this server asks of GitHub's REST API, and nothing else.

Installation tokens pass through here in memory only; no method logs one or puts one in an error.
GitHub's behaviour that shapes this code: https://docs.github.com/en/rest/apps/apps and
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
"""

from __future__ import annotations

import base64
import enum
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import jwt
import requests
from django.conf import settings

from github_app.answers import error_for, malformed_answer, repo_path, safe_path
from github_app.credentials import (
    ReaderToken,
    app_jwts,
    app_jwts_lock,
    app_private_key,
    rate_limits,
    reader_tokens,
)
from github_app.errors import (
    GitHubAuthenticationFailed,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
)
from github_app.http import http_request
from observability.metrics import github_rate_limit_observed

API_VERSION = "2022-11-28"
MAX_REPOSITORIES_PER_TOKEN = 500  # GitHub's limit for `repositories` on access_tokens
READ_ATTEMPTS = 3
READ_DEADLINE_SECONDS = 8.0
# GitHub's eventual consistency: a fresh token can answer 401/403 for `GITHUB_CONSISTENCY_SECONDS`.
# Calls inside that window are retried with a doubling pause from FIRST to MAX; a revocation waits for
# GitHub's confirmation at most REVOKE_CONFIRM_SECONDS, so a request that revokes stays short.
CONSISTENCY_FIRST_PAUSE_SECONDS = 0.05
CONSISTENCY_MAX_PAUSE_SECONDS = 1.0
REVOKE_CONFIRM_SECONDS = 4.0

T = TypeVar("T")


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
    """What GitHub answered for a path: `content` is None unless GitHub answered a file.

    `path` and `kind` are GitHub's own (`type`: "file", "dir", "symlink", "submodule"): GitHub answers a
    symlink to a regular file of the repository with the target's content AND the target's path, so
    a caller that needs the file at the path it asked for compares `path`. Both are None when nothing
    is there (404) and on a 304 (`not_modified`: the answer is the one `etag` names)."""

    content: bytes | None
    etag: str | None
    not_modified: bool = False
    path: str | None = None
    kind: str | None = None
    sha: str | None = None  # the blob's


class Revocation(enum.Enum):
    """What GitHub said to `DELETE /installation/token`. Only a confirmed revocation may be recorded
    as done; an unconfirmed one may still work for up to an hour and must be tried again later."""

    REVOKED = "revoked"  # 204: GitHub revoked it now
    ALREADY_INVALID = "already_invalid"  # 401/404 for a token older than the consistency window
    UNCONFIRMED = "unconfirmed"  # 401/404 while GitHub may not know the token yet

    @property
    def confirmed(self) -> bool:
        return self is not Revocation.UNCONFIRMED


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
            "GET", f"/repos/{repo_path(full_name)}/installation", bearer=self.app_jwt(), credential="app"
        )
        if response is None:
            return None
        with malformed_answer("installation"):
            return Installation.from_api(response.json())

    def installation(self, installation_id: int) -> Installation | None:
        response = self._call(
            "GET", f"/app/installations/{int(installation_id)}", bearer=self.app_jwt(), credential="app"
        )
        if response is None:
            return None
        with malformed_answer("installation"):
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
        with malformed_answer("access_tokens"):
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
        found: list[Repository] = []
        page = 1
        while True:
            response = self._as_reader(
                installation_id,
                functools.partial(
                    self._call,
                    "GET",
                    "/installation/repositories",
                    credential=f"installation:{installation_id}",
                    params={"per_page": 100, "page": page},
                ),
            )
            if response is None:
                raise GitHubNotFound(
                    f"GitHub does not list repositories for installation {installation_id}.", status=404
                )
            with malformed_answer("installation_repositories"):
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
        where = f"/repositories/{int(repository_id)}" if repository_id is not None else f"/repos/{repo_path(full_name)}"

        response = self._as_reader(
            installation_id,
            functools.partial(
                self._call,
                "GET",
                f"{where}/contents/{quote(path)}",
                credential=f"installation:{installation_id}",
                headers=headers,
                allow_not_modified=True,
            ),
        )
        return file_content(response, path=path, etag=etag)

    def revoke_installation_token(self, token: str, *, issued_at: float | None = None) -> Revocation:
        """https://docs.github.com/en/rest/apps/installations#revoke-an-installation-access-token

        `issued_at` (epoch seconds, when GitHub created the token) decides what a 401 or 404 means:
        for a token older than `GITHUB_CONSISTENCY_SECONDS` it means already revoked or expired; for a
        younger one (or an unknown age) GitHub may simply not know the token yet, so it is asked again
        with backoff for at most `REVOKE_CONFIRM_SECONDS`, and reported UNCONFIRMED if it never says 204.
        Raises the `GitHubError` family when GitHub fails otherwise (then nothing is confirmed either)."""
        deadline = time.monotonic() + REVOKE_CONFIRM_SECONDS
        pause = CONSISTENCY_FIRST_PAUSE_SECONDS
        while True:
            try:
                # No rate-limit memory: a caller's token is not our credential, and revoking must not wait.
                response = self._call("DELETE", "/installation/token", bearer=token, credential=None, retry=False)
            except GitHubAuthenticationFailed:
                response = None
            if response is not None:
                return Revocation.REVOKED
            if issued_at is not None and time.time() - issued_at >= settings.GITHUB_CONSISTENCY_SECONDS:
                return Revocation.ALREADY_INVALID
            if time.monotonic() + pause > deadline:
                return Revocation.UNCONFIRMED
            time.sleep(pause)
            pause = min(pause * 2, CONSISTENCY_MAX_PAUSE_SECONDS)

    # --- Our own reader token ---

    def _as_reader(self, installation_id: int, call: Callable[..., T]) -> T:
        """`call(bearer=...)` with our reader token for the installation.

        A fresh token can answer 401/403 within GitHub's consistency window: retried with backoff
        inside the window instead of minting another token (which would have the same delay). After
        the window, a 401 means the token was revoked or expired early: a new one is made, once."""
        for attempt in (1, 2):
            reader = reader_tokens.get(
                api_url=self.api_url,
                installation_id=installation_id,
                create=functools.partial(self._new_reader_token, installation_id),
            )
            try:
                return while_propagating(issued_at=reader.issued_at, call=functools.partial(call, bearer=reader.token))
            except GitHubAuthenticationFailed:
                if attempt == 2:
                    raise
                reader_tokens.forget(api_url=self.api_url, installation_id=installation_id, token=reader.token)
        raise AssertionError("unreachable")

    def _new_reader_token(self, installation_id: int) -> ReaderToken:
        created = self.create_installation_token(installation_id, permissions={"contents": "read"})
        # Taken after GitHub answered: the token's true age is a little more, never less.
        return ReaderToken(
            token=created.token, issued_at=time.time(), expires_at=created.expires_at_datetime.timestamp()
        )

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
                    f"GitHub did not answer {method} {safe_path(path)}: {type(error).__name__}."
                )
            else:
                github_rate_limit_observed(
                    credential=credential, remaining=response.headers.get("X-RateLimit-Remaining")
                )
                if response.status_code < 300 or (allow_not_modified and response.status_code == 304):
                    return response
                if response.status_code == 404:
                    return None
                failure = error_for(response, method, path)
                if isinstance(failure, GitHubRateLimited) and credential is not None:
                    rate_limits.remember(credential, failure.retry_at)
                if not isinstance(failure, GitHubUnavailable):
                    raise failure
            pause = 0.25 * 3 ** (attempt - 1)
            if attempt == attempts or time.monotonic() + pause > deadline:
                raise failure
            time.sleep(pause)
        raise AssertionError("unreachable")


def while_propagating(*, issued_at: float, call: Callable[[], T]) -> T:
    """`call()`, retried while it answers 401/403 and the token is younger than the consistency window."""
    pause = CONSISTENCY_FIRST_PAUSE_SECONDS
    while True:
        try:
            return call()
        except (GitHubAuthenticationFailed, GitHubForbidden):
            remaining = issued_at + settings.GITHUB_CONSISTENCY_SECONDS - time.time()
            if remaining <= 0:
                raise
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, CONSISTENCY_MAX_PAUSE_SECONDS)


def file_content(response: requests.Response | None, *, path: str, etag: str | None = None) -> FileContent:
    """A contents API answer for `path` (None: the 404) as a FileContent."""
    if response is None:
        return FileContent(content=None, etag=None)
    if response.status_code == 304:
        return FileContent(content=None, etag=etag, not_modified=True)
    with malformed_answer("contents"):
        body = response.json()
        if not isinstance(body, dict):
            return FileContent(content=None, etag=None, kind="dir")  # a directory answers an array
        answered = str(body["path"])
        kind = str(body["type"])
        if kind != "file":
            return FileContent(content=None, etag=None, path=answered, kind=kind)
        if body.get("encoding") != "base64":
            raise GitHubUnavailable(f"GitHub returned {path[:200]} in an unexpected encoding.")
        content = base64.b64decode(str(body.get("content", "")))
    etag, sha = response.headers.get("ETag"), str(body.get("sha") or "") or None
    return FileContent(content=content, etag=etag, path=answered, kind=kind, sha=sha)
