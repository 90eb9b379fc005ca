"""The STS exception family: each error has a stable tag, an HTTP status and a sentence for the user.

Messages are shown to callers and written to logs: they never carry a token or a key.
"""

from __future__ import annotations

from typing import Any


class StsError(Exception):
    tag = "InternalError"
    status = 500
    message = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, context: dict[str, Any] | None = None) -> None:
        self.message = message or self.message
        self.context = context or {}
        super().__init__(self.message)


class MalformedRequest(StsError):
    tag = "MalformedRequest"
    status = 400
    message = "The request body must be a JSON object with the documented fields."


class InvalidOidcToken(StsError):
    tag = "InvalidOidcToken"
    status = 401
    message = "The GitHub Actions OIDC token is not valid."


class OidcTokenReplayed(StsError):
    tag = "OidcTokenReplayed"
    status = 401
    message = "This GitHub Actions OIDC token was already exchanged; request a new one."


class WorkspaceNotFound(StsError):
    tag = "WorkspaceNotFound"
    status = 404
    message = "No workspace has that id; check ATMOS_PRO_WORKSPACE_ID."


class RepositoryNotInWorkspace(StsError):
    tag = "RepositoryNotInWorkspace"
    status = 403
    message = "The calling repository is not covered by a GitHub App installation of this workspace."


class NotAnActionsSession(StsError):
    tag = "NotAnActionsSession"
    status = 400
    message = "The bearer token is not a GitHub Actions session (ws:gh:action)."


class InvalidSession(StsError):
    tag = "InvalidSession"
    status = 401
    message = "The session is invalid or expired; exchange a new GitHub Actions OIDC token."


class StsNotEntitled(StsError):
    tag = "StsNotEntitled"
    status = 403
    message = "STS is not available to this workspace."


class InvalidMintRequest(StsError):
    """A request the caller can fix: the contract answers it as HTTP 200 with success false."""

    tag = "InvalidMintRequest"
    status = 200
    message = "The mint request is not valid."


class GitHubUnreachable(StsError):
    tag = "GitHubUnavailable"
    status = 503
    message = "GitHub could not be asked about the calling repository; retry in a moment."


class CallerNotAdmitted(StsError):
    tag = "CallerNotAdmitted"
    status = 403
    message = "No caller rule of this workspace admits the calling run; a workspace admin can change the caller rules."


class CallerNoLongerInstalled(StsError):
    """The session's repository lost its installation after the session was issued: every mint re-checks."""

    tag = "CallerNoLongerInstalled"
    status = 403
    message = (
        "The calling repository is no longer covered by a live GitHub App installation of this workspace "
        "(the installation was removed, suspended, or no longer includes the repository). Restore the "
        "installation's access to the repository in GitHub, then run the workflow again."
    )
