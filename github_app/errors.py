"""The error family of every call to GitHub: one class per way GitHub can fail us.

Messages never carry a token; each class's `reason` is the stable tag the callers map to their own
vocabulary.
"""

from __future__ import annotations


class GitHubError(Exception):
    """A failure talking to GitHub; `reason` is the stable tag an exclusion or an audit row carries."""

    reason = "github_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class GitHubNotFound(GitHubError):
    reason = "github_not_found"


class GitHubUnprocessable(GitHubError):
    reason = "github_unprocessable"


class GitHubPermissionsNotGranted(GitHubUnprocessable):
    """422 "The permissions requested are not granted to this installation." on `access_tokens`."""

    reason = "permissions_not_granted_to_installation"


class GitHubFileTooLarge(GitHubError):
    """403 `too_large`: the contents API serves a file over 1 MB only in other media types than ours."""

    reason = "github_file_too_large"


class GitHubInstallationSuspended(GitHubError):
    reason = "installation_suspended"


class GitHubForbidden(GitHubError):
    reason = "github_forbidden"


class GitHubRateLimited(GitHubError):
    reason = "github_rate_limited"

    def __init__(self, message: str, *, status: int | None = None, retry_at: float) -> None:
        self.retry_at = retry_at
        super().__init__(message, status=status)


class GitHubUnavailable(GitHubError):
    reason = "github_unavailable"


class GitHubAuthenticationFailed(GitHubError):
    reason = "github_authentication_failed"
