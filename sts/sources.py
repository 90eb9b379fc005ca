"""The sources of a mint: the names a caller asks for, each on its way to a token or one exclusion.

Every way a source can be excluded is a `sts.reasons.Reason`; a failure at GitHub becomes one
through the single table `reason_for`, so no other layer carries a vocabulary of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from github_app.errors import (
    GitHubError,
    GitHubFileTooLarge,
    GitHubInstallationSuspended,
    GitHubNotFound,
    GitHubPermissionsNotGranted,
    GitHubRateLimited,
    GitHubUnprocessable,
)
from sts.reasons import Reason
from workspaces.models import GitHubInstallation, InstallationRepository

# GitHub's own rules for names: an owner is 1-39 alphanumerics or hyphens; a repository name is
# up to 100 characters of alphanumerics, '.', '-' and '_' (and never '.' or '..').
SOURCE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
# The longest name that can be valid: what a response or an audit event repeats of any requested name.
LONGEST_NAME = 140

# Order matters: the first class an error is an instance of decides (subclasses before their bases).
_GITHUB_REASONS: tuple[tuple[type[GitHubError], Reason], ...] = (
    (GitHubPermissionsNotGranted, Reason.PERMISSIONS_NOT_INSTALLED),
    (GitHubFileTooLarge, Reason.POLICY_INVALID),
    (GitHubInstallationSuspended, Reason.SUSPENDED),
    (GitHubRateLimited, Reason.GITHUB_RATE_LIMITED),
    # GitHub no longer knows the installation, or no longer lets it reach the repository.
    (GitHubNotFound, Reason.NOT_INSTALLED),
    (GitHubUnprocessable, Reason.NOT_INSTALLED),
)


def reason_for(error: GitHubError) -> Reason:
    """The exclusion a failure at GitHub means for the sources it touched; anything not named in the
    table (5xx, timeouts, a refused credential, a malformed answer) is GitHub being unavailable."""
    return next((reason for kind, reason in _GITHUB_REASONS if isinstance(error, kind)), Reason.GITHUB_UNAVAILABLE)


@dataclass
class Source:
    """One requested repository on its way through the decision steps."""

    requested: str
    full_name: str = ""
    github_id: int | None = None  # known from our records; None for a repository found at GitHub just now
    installation: GitHubInstallation | None = None
    permissions: dict[str, str] = field(default_factory=dict)
    reason: Reason | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def adopt(self, row: InstallationRepository) -> Source:
        """Takes our record's spelling, GitHub id and installation for this repository."""
        self.full_name, self.github_id, self.installation = row.full_name, row.github_id, row.installation
        return self

    def exclude(self, reason: Reason, **detail: Any) -> None:
        self.reason = reason
        self.detail = detail

    @property
    def open(self) -> bool:
        return self.reason is None

    @property
    def name(self) -> str:
        return self.full_name or self.requested

    def decision(self) -> dict[str, Any]:
        if self.reason is None:
            return {"repo": self.name, "decision": "granted", "permissions": self.permissions, **self.detail}
        return {"repo": self.name, "decision": "excluded", "reason": str(self.reason), **self.detail}


def requested_sources(names: list[str]) -> list[Source]:
    """The caller's names in order, checked against GitHub's naming rules and de-duplicated the way
    GitHub compares names (without regard to case); a name that breaks the rules is excluded."""
    sources: list[Source] = []
    seen: set[str] = set()
    for requested in names:
        if not SOURCE_NAME.fullmatch(requested) or requested.split("/")[1] in {".", ".."}:
            source = Source(requested=requested[:200])
            source.exclude(Reason.INVALID_NAME)
            sources.append(source)
        elif requested.lower() not in seen:
            seen.add(requested.lower())
            sources.append(Source(requested=requested, full_name=requested))
    return sources
