"""SHIM, to delete when the GitHub client's next change is merged: the two typed errors it adds.

`github_app.errors` gains `GitHubPermissionsNotGranted(GitHubUnprocessable)` (422 "permissions not
granted") and `GitHubFileTooLarge` (403 `too_large` on the contents API). Until then they are
defined here so the mint can be written against them; at merge every import of this module becomes
an import from `github_app.errors`, and `as_typed` below goes (the client raises the typed error).
"""

from __future__ import annotations

from github_app.errors import GitHubError, GitHubUnprocessable


class GitHubPermissionsNotGranted(GitHubUnprocessable):
    reason = "permissions_not_granted"


class GitHubFileTooLarge(GitHubError):
    reason = "file_too_large"


def as_typed(error: GitHubUnprocessable) -> GitHubUnprocessable:
    """The typed error the new client raises for GitHub's 422 about permissions, from today's one."""
    if "permissions" in str(error):
        return GitHubPermissionsNotGranted(str(error), status=error.status)
    return error
