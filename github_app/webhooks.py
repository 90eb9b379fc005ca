"""GitHub's webhook deliveries, read strictly: the signature, and the payloads of the events we act on.

Pure functions of bytes and JSON; no database and no network. A payload that does not have the
shape GitHub documents (https://docs.github.com/en/webhooks/webhook-events-and-payloads) raises
`WebhookPayloadInvalid` with a sentence naming the field, never echoing a value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from github_app.client import Installation, Repository

SIGNATURE_PREFIX = "sha256="
# GitHub lists at most 2048 commits in a push payload; a list that long may have been cut short
# (https://docs.github.com/en/webhooks/webhook-events-and-payloads#push).
PUSH_COMMITS_LISTED_AT_MOST = 2048
INSTALLATION_ACTIONS = frozenset({"created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"})
INSTALLATION_REPOSITORIES_ACTIONS = frozenset({"added", "removed"})
REPOSITORY_ACTIONS = frozenset({"renamed", "transferred"})
# A pull request's head changed: https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request
PULL_REQUEST_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
# A commit id: 40 hex digits (SHA-1), or 64 in a SHA-256 repository.
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class WebhookPayloadInvalid(Exception):
    """A delivery whose payload lacks a field we need, or holds a value of the wrong type."""

    tag = "WebhookPayloadInvalid"


def signature_matches(*, body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether `X-Hub-Signature-256` is the HMAC-SHA256 of the raw body under one of `secrets` (several
    while a secret is rotated). Every secret is compared, in constant time, whatever matched before:
    https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries"""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :].encode("ascii", errors="replace")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(given, expected)
    return matched


@dataclass(frozen=True)
class InstallationEvent:
    """`installation`: the installation as it is now, and its repositories when GitHub lists them."""

    action: str
    installation: Installation
    repositories: tuple[Repository, ...] | None


@dataclass(frozen=True)
class InstallationRepositoriesEvent:
    """`installation_repositories`: repositories added to or removed from an installation."""

    action: str
    installation: Installation
    added: tuple[Repository, ...]
    removed: tuple[Repository, ...]


@dataclass(frozen=True)
class RepositoryEvent:
    """`repository` renamed or transferred: the repository's id with its name now."""

    action: str
    installation_id: int | None
    repository: Repository


@dataclass(frozen=True)
class PushEvent:
    """`push`, reduced to what decides whether cached policies may be stale."""

    installation_id: int | None
    repository: Repository
    ref: str
    to_default_branch: bool
    # The commit the ref points to after the push; None when the ref was deleted (or `after` is no commit id).
    head_sha: str | None
    # Every path the pushed commits added, removed or modified; None when the payload cannot show
    # them all (a forced push, a deleted ref, commits missing or possibly cut short).
    paths: frozenset[str] | None
    # Of `paths`, those the last commit that touched them removed (gone after the push).
    removed: frozenset[str] = frozenset()

    def may_touch(self, folder: str) -> bool:
        """Whether the push may have changed anything at or under `folder` (or replaced a folder above it)."""
        if self.paths is None:
            return True
        parts = folder.strip("/").split("/")
        above = {"/".join(parts[:depth]) for depth in range(1, len(parts) + 1)}
        return any(path in above or path.startswith(folder.rstrip("/") + "/") for path in self.paths)


@dataclass(frozen=True)
class PullRequestEvent:
    """`pull_request` opened, synchronized or reopened: the head commit a check reports on. The files it
    changed are GitHub's to list (`GET /repos/{owner}/{repo}/pulls/{number}/files`), not the payload's."""

    action: str
    installation_id: int | None
    repository: Repository
    number: int
    head_sha: str


WebhookEvent = InstallationEvent | InstallationRepositoriesEvent | RepositoryEvent | PushEvent | PullRequestEvent


def webhook_event_parse(*, event: str, payload: object) -> WebhookEvent | None:
    """The event we act on, or None for an event or action we do not handle (acknowledged, ignored)."""
    body = _mapping(payload, "the payload")
    action = body.get("action")
    if event == "installation" and action in INSTALLATION_ACTIONS:
        listed = body.get("repositories")
        return InstallationEvent(
            action=str(action),
            installation=_installation(body.get("installation")),
            repositories=None if listed is None else _repositories(listed, "repositories"),
        )
    if event == "installation_repositories" and action in INSTALLATION_REPOSITORIES_ACTIONS:
        return InstallationRepositoriesEvent(
            action=str(action),
            installation=_installation(body.get("installation")),
            added=_repositories(body.get("repositories_added", []), "repositories_added"),
            removed=_repositories(body.get("repositories_removed", []), "repositories_removed"),
        )
    if event == "repository" and action in REPOSITORY_ACTIONS:
        return RepositoryEvent(
            action=str(action),
            installation_id=_installation_id(body),
            repository=_repository(body.get("repository"), "repository"),
        )
    if event == "push":
        return _push(body)
    if event == "pull_request" and action in PULL_REQUEST_ACTIONS:
        return _pull_request(body, str(action))
    # `check_run` and `check_suite` are never acted on: the check runs we create would come back to us
    # as `check_run` events, and acting on them would loop.
    return None


def _pull_request(body: Mapping[str, Any], action: str) -> PullRequestEvent:
    pull_request = _mapping(body.get("pull_request"), "pull_request")
    head = _mapping(pull_request.get("head"), "pull_request.head")
    head_sha = _string(head.get("sha"), "pull_request.head.sha", longest=64)
    if not _COMMIT_SHA.fullmatch(head_sha):
        raise WebhookPayloadInvalid("pull_request.head.sha must be a commit id.")
    return PullRequestEvent(
        action=action,
        installation_id=_installation_id(body),
        repository=_repository(body.get("repository"), "repository"),
        number=_identifier(body.get("number", pull_request.get("number")), "number"),
        head_sha=head_sha,
    )


def _push(body: Mapping[str, Any]) -> PushEvent:
    repository = _mapping(body.get("repository"), "repository")
    ref = _string(body.get("ref"), "ref")
    default_branch = _string(repository.get("default_branch"), "repository.default_branch")
    changes = _pushed_paths(body)
    return PushEvent(
        installation_id=_installation_id(body),
        repository=_repository(repository, "repository"),
        ref=ref,
        to_default_branch=ref == f"refs/heads/{default_branch}",
        head_sha=_head_sha(body.get("after")),
        paths=changes[0] if changes is not None else None,
        removed=changes[1] if changes is not None else frozenset(),
    )


def _head_sha(after: object) -> str | None:
    if not isinstance(after, str) or not _COMMIT_SHA.fullmatch(after) or not after.strip("0"):
        return None
    return after


def _pushed_paths(body: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str]] | None:
    """Every path the commits changed and those removed in the end, commits being listed oldest first;
    None when the payload cannot show them all."""
    if _boolean(body.get("forced", False), "forced") or _boolean(body.get("deleted", False), "deleted"):
        return None
    commits = body.get("commits")
    if commits is None:
        return None
    if not isinstance(commits, list):
        raise WebhookPayloadInvalid("commits must be a list.")
    if not commits or len(commits) >= PUSH_COMMITS_LISTED_AT_MOST:
        return None
    paths: set[str] = set()
    removed: set[str] = set()
    for commit in commits:
        commit = _mapping(commit, "commits[]")
        for key in ("added", "modified", "removed"):
            listed = commit.get(key)
            if listed is None:
                return None  # a commit that does not say what it changed may have changed anything
            if not isinstance(listed, list) or not all(isinstance(path, str) for path in listed):
                raise WebhookPayloadInvalid(f"commits[].{key} must be a list of paths.")
            paths.update(listed)
            if key == "removed":
                removed.update(listed)
            else:
                removed.difference_update(listed)
    return frozenset(paths), frozenset(removed)


def _installation(value: object) -> Installation:
    body = _mapping(value, "installation")
    account = _mapping(body.get("account"), "installation.account")
    permissions = _mapping(body.get("permissions", {}), "installation.permissions")
    if not all(isinstance(level, str) for level in permissions.values()):
        raise WebhookPayloadInvalid("installation.permissions must map names to levels.")
    suspended_at = body.get("suspended_at")
    if suspended_at is not None and not _is_time(suspended_at):
        raise WebhookPayloadInvalid("installation.suspended_at must be an ISO 8601 time or null.")
    return Installation(
        id=_identifier(body.get("id"), "installation.id"),
        # GitHub's logins have at most 39 characters; our records keep 100.
        account_login=_string(account.get("login"), "installation.account.login", longest=100),
        account_id=_identifier(account.get("id"), "installation.account.id"),
        account_type=_string(account.get("type"), "installation.account.type", longest=20),
        repository_selection=_string(body.get("repository_selection"), "installation.repository_selection", longest=20),
        permissions={str(name): str(level) for name, level in permissions.items()},
        suspended_at=suspended_at,
    )


def _installation_id(body: Mapping[str, Any]) -> int | None:
    if body.get("installation") is None:
        return None  # a repository's own webhook, not the App's: no installation named
    return _identifier(_mapping(body["installation"], "installation").get("id"), "installation.id")


def _repositories(value: object, field: str) -> tuple[Repository, ...]:
    if not isinstance(value, list):
        raise WebhookPayloadInvalid(f"{field} must be a list.")
    return tuple(_repository(item, f"{field}[]") for item in value)


def _repository(value: object, field: str) -> Repository:
    body = _mapping(value, field)
    full_name = _string(body.get("full_name"), f"{field}.full_name")
    if full_name.count("/") != 1 or len(full_name) > 200:
        raise WebhookPayloadInvalid(f"{field}.full_name must be owner/name.")
    return Repository(id=_identifier(body.get("id"), f"{field}.id"), full_name=full_name)


def _is_time(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WebhookPayloadInvalid(f"{field} must be an object.")
    return value


def _identifier(value: object, field: str) -> int:
    # bool is an int in Python; GitHub's ids are positive 64-bit integers.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise WebhookPayloadInvalid(f"{field} must be a positive integer.")
    return value


def _string(value: object, field: str, *, longest: int = 255) -> str:
    if not isinstance(value, str) or not value or len(value) > longest:
        raise WebhookPayloadInvalid(f"{field} must be a non-empty string of at most {longest} characters.")
    return value


def _boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise WebhookPayloadInvalid(f"{field} must be true or false.")
    return value
