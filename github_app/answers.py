"""How GitHub's answers are read: an error status mapped to our error family, an answer without the
documented shape reported as GitHub failing, and repository names made safe for a path."""

from __future__ import annotations

import binascii
import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests

from github_app.errors import (
    GitHubAuthenticationFailed,
    GitHubError,
    GitHubFileTooLarge,
    GitHubForbidden,
    GitHubInstallationSuspended,
    GitHubPermissionsNotGranted,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubUnprocessable,
)

PERMISSIONS_NOT_GRANTED = "the permissions requested are not granted to this installation"


@contextlib.contextmanager
def malformed_answer(endpoint: str) -> Iterator[None]:
    """An answer of GitHub's that does not have the documented shape is GitHub failing, not our bug."""
    try:
        yield
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise GitHubUnavailable(f"GitHub's answer on {endpoint} was malformed.") from None


def repo_path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def safe_path(path: str) -> str:
    return path[:200]


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_codes(body: Mapping[str, Any]) -> set[str]:
    errors = body.get("errors")
    return {str(item.get("code")) for item in errors if isinstance(item, dict)} if isinstance(errors, list) else set()


def error_for(response: requests.Response, method: str, path: str) -> GitHubError:
    """Maps GitHub's answer to our error family (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api)."""
    status = response.status_code
    body = _body(response)
    message = str(body.get("message", ""))[:300]
    where = f"{method} {safe_path(path)}"
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
        if "too_large" in _error_codes(body):
            # https://docs.github.com/en/rest/repos/contents#get-repository-content (files over 1 MB)
            return GitHubFileTooLarge(f"GitHub will not serve {where} in this media type: over 1 MB.", status=status)
        if "suspended" in message.lower():
            return GitHubInstallationSuspended(f"The installation is suspended ({where}).", status=status)
        return GitHubForbidden(f"GitHub refused {where}: {message}", status=status)
    if status == 401:
        return GitHubAuthenticationFailed(f"GitHub refused our credentials on {where}: {message}", status=status)
    if status == 422:
        if message.lower().startswith(PERMISSIONS_NOT_GRANTED):
            return GitHubPermissionsNotGranted(f"GitHub refused {where}: {message}", status=status)
        return GitHubUnprocessable(f"GitHub could not process {where}: {message}", status=status)
    if status >= 500:
        return GitHubUnavailable(f"GitHub answered {status} on {where}.", status=status)
    return GitHubError(f"GitHub answered {status} on {where}: {message}", status=status)
