"""The error family of every call to GitHub: one class per way GitHub can fail us.

Messages never carry a token. The class is the tag: callers map classes to their own vocabulary
(the mint's exclusion reasons, in `sts.sources`), so no second list of reasons lives here.
"""

from __future__ import annotations

import time


class GitHubError(Exception):
    """A failure talking to GitHub."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class GitHubNotFound(GitHubError):
    """404: GitHub does not know the installation, or no longer lets it reach the repository."""


class GitHubUnprocessable(GitHubError):
    """422: GitHub understood the request and refuses it (a repository the installation cannot reach)."""


class GitHubPermissionsNotGranted(GitHubUnprocessable):
    """422 "The permissions requested are not granted to this installation." on `access_tokens`."""


class GitHubFileTooLarge(GitHubError):
    """403 `too_large`: the contents API serves a file over 1 MB only in other media types than ours."""


class GitHubInstallationSuspended(GitHubError):
    """403 for a suspended installation."""


class GitHubForbidden(GitHubError):
    """Any other 403."""


class GitHubRateLimited(GitHubError):
    """403 or 429 with the rate limit exhausted, or a secondary limit; `retry_at` is when to try again."""

    def __init__(self, message: str, *, status: int | None = None, retry_at: float) -> None:
        self.retry_at = retry_at
        super().__init__(message, status=status)


class GitHubUnavailable(GitHubError):
    """5xx, no answer, or an answer without the documented shape."""


class GitHubAuthenticationFailed(GitHubError):
    """401: our App JWT or installation token was refused."""


def retry_countdown(error: GitHubRateLimited | GitHubUnavailable, *, retries: int) -> int:
    """Seconds before a task retries a call GitHub refused for now: until the limit resets (earlier only
    spends the next window), else 5 s, 20 s, 80 s ... at most 10 minutes."""
    if isinstance(error, GitHubRateLimited):
        return max(1, int(error.retry_at - time.time()))
    return min(600, 5 * 4**retries)
