"""Minting: turns a verified run identity and a list of sources into installation tokens.

Each requested source is decided on its own and ends in exactly one place: a token, or `excluded`
with one reason. GitHub is the slow, rate-limited part: installations come from our records, policy
files from a revalidated cache, and a warm mint makes one GitHub call per token it returns.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.trail import AuditTrail
from github_app.client import MAX_REPOSITORIES_PER_TOKEN, GitHubApp, InstallationToken
from github_app.errors import GitHubError, GitHubInstallationSuspended, GitHubUnprocessable
from sts.errors import InvalidMintRequest, StsNotEntitled
from sts.models import MintedToken, StsSession, token_fingerprint
from sts.policy import PolicyInvalid, is_valid_policy_name, parse_policy_bytes
from sts.policy_store import policy_file_read
from workspaces.models import GitHubInstallation, InstallationRepository, Workspace
from workspaces.services import installation_discover

logger = logging.getLogger(__name__)

DEFAULT_POLICY_NAME = "default"
POLICY_READ_CONCURRENCY = 8
# Repositories our records lack are looked up at GitHub, with the App's rate limit that every
# workspace shares: a few per request, the rest refused as our records stand.
MAX_GITHUB_LOOKUPS_PER_MINT = 10
_policy_readers = ThreadPoolExecutor(max_workers=POLICY_READ_CONCURRENCY, thread_name_prefix="policy-read")
# GitHub's own rules for names: an owner is 1-39 alphanumerics or hyphens; a repository name is
# up to 100 characters of alphanumerics, '.', '-' and '_' (and never '.' or '..').
_SOURCE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


class Reason:
    """`excluded[].reason`: the first five are the wire contract's; the rest are ours (the client logs any)."""

    NOT_INSTALLED = "not_installed_in_workspace"
    SUSPENDED = "installation_suspended"
    NO_POLICY = "no_trust_policy"
    POLICY_INVALID = "trust_policy_invalid"
    POLICY_DENIED = "trust_policy_denied"
    INVALID_NAME = "invalid_source_name"
    PERMISSIONS_NOT_INSTALLED = "permissions_not_granted_to_installation"


@dataclass
class _Source:
    """One requested repository on its way through the decision steps."""

    requested: str
    full_name: str = ""
    github_id: int | None = None  # known from our records; None for a repository found at GitHub just now
    installation: GitHubInstallation | None = None
    permissions: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def adopt(self, row: InstallationRepository) -> _Source:
        """Takes our record's spelling, GitHub id and installation for this repository."""
        self.full_name, self.github_id, self.installation = row.full_name, row.github_id, row.installation
        return self

    def exclude(self, reason: str, **detail: Any) -> None:
        self.reason = reason
        self.detail = detail

    @property
    def open(self) -> bool:
        return self.reason is None

    def decision(self) -> dict[str, Any]:
        name = self.full_name or self.requested
        if self.reason is None:
            return {"repo": name, "decision": "granted", "permissions": self.permissions, **self.detail}
        return {"repo": name, "decision": "excluded", "reason": self.reason, **self.detail}


@dataclass
class MintResult:
    tokens: list[dict[str, Any]]
    excluded: list[dict[str, str]]

    def as_data(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "excluded": self.excluded}


def token_mint(
    *, session: StsSession, sources: list[str] | None, policy_name: str | None, trail: AuditTrail
) -> MintResult:
    workspace = session.workspace
    policy_name = policy_name or DEFAULT_POLICY_NAME  # "" is the client's unset field, like an absent one
    sources = sources or None  # an empty list asks for the same as no list: every admitted repository
    trail.note(policy_name=policy_name[:100])
    _check_request(workspace=workspace, sources=sources, policy_name=policy_name)

    app = GitHubApp.from_settings()
    candidates = _resolve(workspace=workspace, app=app, sources=sources)
    _apply_policies(
        app=app, workspace=workspace, candidates=candidates, policy_name=policy_name, identity=session.identity
    )
    minted: list[tuple[InstallationToken, list[_Source]]] = []
    try:
        _mint_tokens(app=app, candidates=candidates, minted=minted)
        return _record(
            session=session,
            trail=trail,
            policy_name=policy_name,
            sources=sources,
            candidates=candidates,
            minted=minted,
        )
    except BaseException:
        # Nothing handed out may outlive a request we could not finish and record.
        for token, _ in minted:
            _revoke_quietly(app, token)
        raise


def _check_request(*, workspace: Workspace, sources: list[str] | None, policy_name: str) -> None:
    refusal = workspace.sts_refusal()
    if refusal is not None:
        raise StsNotEntitled(refusal)
    if not is_valid_policy_name(policy_name):
        raise InvalidMintRequest(
            "policyName must be one path segment of letters, digits, '-' and '_' (at most 64 characters).",
            context={"field": "policyName"},
        )
    if sources is not None and len(sources) > settings.STS_MAX_SOURCES:
        raise InvalidMintRequest(
            f"Ask for at most {settings.STS_MAX_SOURCES} sources in one request.", context={"field": "sources"}
        )


def _resolve(*, workspace: Workspace, app: GitHubApp, sources: list[str] | None) -> list[_Source]:
    """Names checked and de-duplicated, then each matched to an installation of the workspace."""
    rows = InstallationRepository.objects.filter(installation__workspace=workspace).select_related("installation")
    if sources is None:
        candidates = [_Source(requested=row.full_name).adopt(row) for row in rows.order_by("full_name_key")]
    else:
        candidates = _requested(sources)
        names = [candidate.full_name.lower() for candidate in candidates if candidate.open]
        known = {row.full_name_key: row for row in rows.filter(full_name_key__in=names)}
        lookups = 0
        for candidate in candidates:
            if candidate.open and candidate.full_name.lower() in known:
                candidate.adopt(known[candidate.full_name.lower()])
            elif candidate.open and lookups < MAX_GITHUB_LOOKUPS_PER_MINT:
                lookups += 1
                _discover_installation(candidate, workspace=workspace, app=app)
            elif candidate.open:
                candidate.exclude(Reason.NOT_INSTALLED, detail="not in our records; too many lookups at GitHub")
    for candidate in candidates:
        if candidate.open and candidate.installation is not None and candidate.installation.is_suspended:
            candidate.exclude(Reason.SUSPENDED)
    return candidates


def _requested(sources: list[str]) -> list[_Source]:
    candidates: list[_Source] = []
    seen: set[str] = set()
    for requested in sources:
        if not _SOURCE_NAME.fullmatch(requested) or requested.split("/")[1] in {".", ".."}:
            candidate = _Source(requested=requested[:200])
            candidate.exclude(Reason.INVALID_NAME)
            candidates.append(candidate)
        elif requested.lower() not in seen:  # GitHub compares names without regard to case
            seen.add(requested.lower())
            candidates.append(_Source(requested=requested, full_name=requested))
    return candidates


def _discover_installation(candidate: _Source, *, workspace: Workspace, app: GitHubApp) -> None:
    try:
        candidate.installation = installation_discover(workspace=workspace, full_name=candidate.full_name, app=app)
    except GitHubError as error:
        candidate.exclude(error.reason)
        return
    if candidate.installation is None:
        candidate.exclude(Reason.NOT_INSTALLED)


def _apply_policies(
    *, app: GitHubApp, workspace: Workspace, candidates: list[_Source], policy_name: str, identity: dict[str, Any]
) -> None:
    open_candidates = [candidate for candidate in candidates if candidate.open]

    def read(candidate: _Source) -> bytes | None | GitHubError:
        assert candidate.installation is not None
        try:
            return policy_file_read(
                app=app,
                installation_id=candidate.installation.github_id,
                full_name=candidate.full_name,
                repository_id=candidate.github_id,
                policy_name=policy_name,
            ).content
        except GitHubError as error:
            return error

    # Policies of a cold mint are fetched side by side, by long-lived threads (their HTTP connections
    # and cache clients are reused) that touch GitHub and the cache only, never the database.
    files = (
        list(_policy_readers.map(read, open_candidates))
        if len(open_candidates) > 1
        else list(map(read, open_candidates))
    )

    for candidate, content in zip(open_candidates, files, strict=True):
        if isinstance(content, GitHubInstallationSuspended) and candidate.installation is not None:
            _mark_suspended(candidate.installation.github_id)
        if isinstance(content, GitHubError):
            candidate.exclude(content.reason)
        elif content is None:
            candidate.exclude(Reason.NO_POLICY)
        else:
            _decide(candidate, content=content, workspace=workspace, policy_name=policy_name, identity=identity)


def _decide(
    candidate: _Source, *, content: bytes, workspace: Workspace, policy_name: str, identity: dict[str, Any]
) -> None:
    assert candidate.installation is not None
    try:
        policy = parse_policy_bytes(content, name=policy_name, allow_write=workspace.allow_write_tokens)
    except PolicyInvalid as invalid:
        candidate.exclude(Reason.POLICY_INVALID, problems=[problem.as_dict() for problem in invalid.problems[:20]])
        return
    decision = policy.evaluate(identity)
    if not decision.allowed:
        candidate.exclude(Reason.POLICY_DENIED, explanation=decision.as_dict())
        return
    granted = candidate.installation.permissions
    missing = {name: level for name, level in decision.permissions.items() if not _covers(granted.get(name), level)}
    if missing:
        candidate.exclude(Reason.PERMISSIONS_NOT_INSTALLED, missing=missing)
        return
    candidate.permissions = dict(decision.permissions)
    candidate.detail = {"rule": decision.rule_index}


def _covers(installed: str | None, wanted: str) -> bool:
    return installed == "write" or (installed == "read" and wanted == "read")


def _mint_tokens(
    *, app: GitHubApp, candidates: list[_Source], minted: list[tuple[InstallationToken, list[_Source]]]
) -> None:
    """One token per (installation, permission set), scoped to exactly its repositories; each token
    goes into `minted` as soon as GitHub hands it out, so the caller can revoke it whatever follows."""
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], list[_Source]] = defaultdict(list)
    for candidate in candidates:
        if candidate.open:
            assert candidate.installation is not None
            groups[(candidate.installation.github_id, tuple(sorted(candidate.permissions.items())))].append(candidate)
    for (installation_id, permissions), members in groups.items():
        for chunk in _chunks(members, MAX_REPOSITORIES_PER_TOKEN):
            _mint_chunk(
                app=app, installation_id=installation_id, permissions=dict(permissions), chunk=chunk, minted=minted
            )


def _mint_chunk(
    *,
    app: GitHubApp,
    installation_id: int,
    permissions: dict[str, str],
    chunk: list[_Source],
    minted: list[tuple[InstallationToken, list[_Source]]],
) -> None:
    try:
        token = app.create_installation_token(
            installation_id,
            # By id where our records know it: a name can change hands after a rename, an id cannot.
            repository_ids=[member.github_id for member in chunk if member.github_id is not None] or None,
            repositories=[member.full_name.split("/", 1)[1] for member in chunk if member.github_id is None] or None,
            permissions=permissions,
        )
    except GitHubInstallationSuspended:
        _mark_suspended(installation_id)
        _exclude_all(chunk, Reason.SUSPENDED)
    except GitHubUnprocessable as error:
        if "permissions" in str(error):
            _exclude_all(chunk, Reason.PERMISSIONS_NOT_INSTALLED)
        elif len(chunk) > 1:
            # One repository GitHub no longer lets the installation reach must not deny the others:
            # halve until the ones it refuses stand alone.
            half = len(chunk) // 2
            for part in (chunk[:half], chunk[half:]):
                _mint_chunk(
                    app=app, installation_id=installation_id, permissions=permissions, chunk=part, minted=minted
                )
        else:
            _exclude_all(chunk, Reason.NOT_INSTALLED)
    except GitHubError as error:
        _exclude_all(chunk, error.reason)
    else:
        minted.append((token, chunk))


def _exclude_all(chunk: list[_Source], reason: str) -> None:
    for member in chunk:
        member.exclude(reason)


def _chunks(items: list[_Source], size: int) -> Iterable[list[_Source]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _mark_suspended(installation_id: int) -> None:
    # GitHub knows before our records do (the webhook may still be on its way).
    GitHubInstallation.objects.filter(github_id=installation_id, suspended_at__isnull=True).update(
        suspended_at=timezone.now()
    )


def _record(
    *,
    session: StsSession,
    trail: AuditTrail,
    policy_name: str,
    sources: list[str] | None,
    candidates: list[_Source],
    minted: list[tuple[InstallationToken, list[_Source]]],
) -> MintResult:
    tokens: list[dict[str, Any]] = []
    audit_tokens: list[dict[str, Any]] = []
    with transaction.atomic():
        for token, members in minted:
            assert members[0].installation is not None
            installation = members[0].installation
            _remember_repositories(installation, token)
            repositories = [member.full_name for member in members]
            fingerprint = token_fingerprint(token.token)
            MintedToken.objects.create(
                fingerprint=fingerprint,
                session=session,
                workspace=session.workspace,
                installation_github_id=installation.github_id,
                repositories=repositories,
                permissions=token.permissions,
                request_id=trail.request_id,
                expires_at=token.expires_at_datetime,
            )
            tokens.append(
                {
                    "host": settings.GITHUB_HOST,
                    "owner": installation.account_login,
                    "token": token.token,
                    "expiresAt": token.expires_at,
                    "repositories": repositories,
                    "permissions": token.permissions,
                }
            )
            audit_tokens.append(
                {
                    "fingerprint": fingerprint,
                    "installation_id": installation.github_id,
                    "owner": installation.account_login,
                    "repositories": repositories,
                    "permissions": token.permissions,
                    "expires_at": token.expires_at,
                }
            )
        excluded = [
            {"repo": candidate.full_name or candidate.requested, "reason": candidate.reason}
            for candidate in candidates
            # Without sources, a repository that never opted in is not listed back to the caller.
            if candidate.reason is not None and (sources is not None or candidate.reason != Reason.NO_POLICY)
        ]
    trail.decide(AuditEvent.Outcome.ALLOWED if tokens else AuditEvent.Outcome.DENIED)
    trail.note(
        requested=sources if sources is not None else "all",
        decisions=[candidate.decision() for candidate in candidates],
        tokens=audit_tokens,
    )
    return MintResult(tokens=tokens, excluded=excluded)


def _remember_repositories(installation: GitHubInstallation, token: InstallationToken) -> None:
    """Repositories found at GitHub that our records lacked are recorded from the token's own answer."""
    for repository in token.repositories:
        InstallationRepository.objects.get_or_create(
            installation=installation, github_id=repository.id, defaults={"full_name": repository.full_name}
        )


def _revoke_quietly(app: GitHubApp, token: InstallationToken) -> None:
    try:
        app.revoke_installation_token(token.token)
    except GitHubError:
        logger.warning("Could not revoke an unrecorded token (fingerprint %s).", token_fingerprint(token.token))
