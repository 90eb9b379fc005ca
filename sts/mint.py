"""Minting: turns a verified run identity and a list of sources into installation tokens.

Each requested source is decided on its own and ends in exactly one place: a token, or `excluded`
with one `Reason`. GitHub is the slow, rate-limited part: installations come from our records, policy
files from a revalidated cache, and a warm mint makes one GitHub call per token it returns. The
GitHub calls a request causes beyond its own tokens (lookups of names our records lack, the policy
reads of a mint without `sources`) are rationed per workspace and caller (`sts.github_budget`).

The request's audit event holds bounded facts (`audit_facts`): counts for everything, the first
few names, decisions and problems in full. The full problem list of a policy is the validator's to
give, on demand (`manage.py sts_lint`), never the audit log's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from audit.models import AuditEvent
from audit.trail import AuditTrail
from audit.written_sql import Columns, written_insert
from github_app.client import GitHubApp, Repository
from github_app.errors import GitHubError, GitHubInstallationSuspended
from observability.metrics import mint_source_observed, tokens_minted_observed
from sts.caller_rules import caller_admit
from sts.errors import CallerNoLongerInstalled, InvalidMintRequest, StsNotEntitled
from sts.github_budget import GitHubBudget, GitHubBudgetExhausted
from sts.models import MintedToken, StsSession, token_fingerprint
from sts.policy import PolicyInvalid, is_valid_policy_name, parse_policy_bytes
from sts.policy_index import repositories_holding
from sts.policy_store import PolicyFile, PolicyRead, policy_files_read
from sts.reasons import Reason
from sts.sources import LONGEST_NAME, Source, reason_for, requested_sources
from sts.token_batches import MintedBatch, tokens_mint, tokens_revoke_after_failure
from workspaces.entitlements import FeatureValue, feature_value, feature_values
from workspaces.models import GitHubInstallation, InstallationRepository, Workspace
from workspaces.services import (
    installation_discover,
    installation_mark_suspended,
    installations_mark_suspended,
    installations_repositories_remember,
)

DEFAULT_POLICY_NAME = "default"
# Repositories our records lack are looked up at GitHub, with the App's rate limit that every
# workspace shares: a few per request (and a ration per workspace), the rest refused as our records stand.
MAX_GITHUB_LOOKUPS_PER_MINT = 10

# What the audit event of a mint keeps in full; everything else is counted. With these, the facts of
# the largest request the API accepts stay under 12 KiB (tests/sts/mint/test_mint_audit_size.py).
AUDIT_NAMES = 10
AUDIT_DECISIONS = 10
AUDIT_PROBLEMS_PER_POLICY = 2
AUDIT_EXPLANATION_LINES = 3
AUDIT_TOKENS = 5
AUDIT_REPOSITORIES_PER_TOKEN = 5
AUDIT_TEXT = 160


@dataclass(frozen=True)
class GrantedToken:
    host: str
    owner: str
    token: str
    expires_at: str
    repositories: list[str]
    permissions: dict[str, str]


@dataclass(frozen=True)
class MintResult:
    tokens: list[GrantedToken]
    excluded: list[Source]


def token_mint(
    *, session: StsSession, sources: list[str] | None, policy_name: str | None, trail: AuditTrail
) -> MintResult:
    workspace = session.workspace
    policy_name = policy_name or DEFAULT_POLICY_NAME  # "" is the client's unset field, like an absent one
    sources = sources or None  # an empty list asks for the same as no list: every admitted repository
    trail.note(policy_name=policy_name[:100])
    # Read once for the whole request (one query), as they stand now: never remembered beyond it.
    features = feature_values(workspace=workspace, features=("sts", "max_sources_per_mint", "write_tokens"))
    _check_request(workspace=workspace, sources=sources, policy_name=policy_name, features=features)
    named = requested_sources(sources) if sources is not None else None
    records = _records(session, named=named or [])
    _check_caller_installed(session, records=records)
    caller_admit(workspace=workspace, identity=session.identity)  # the workspace's caller rules, as they are now

    app = GitHubApp.from_settings()
    budget = GitHubBudget(
        workspace_public_id=workspace.public_id, caller_repository_id=str(session.identity.get("repository_id", ""))
    )
    candidates = _resolve(
        workspace=workspace,
        app=app,
        named=named,
        records=records,
        budget=budget,
        policy_name=policy_name,
        features=features,
    )
    _apply_policies(
        app=app,
        allow_write=workspace.write_tokens_allowed(features=features),
        candidates=candidates,
        policy_name=policy_name,
        identity=session.identity,
        # With no sources, the policies read are the workspace's to choose: they are rationed like lookups.
        budget=budget if sources is None else None,
    )
    minted: list[MintedBatch] = []
    try:
        outcome = tokens_mint(app=app, sources=candidates, minted=minted)
        result = _record(
            app=app,
            session=session,
            trail=trail,
            sources=sources,
            candidates=candidates,
            minted=minted,
            suspended=outcome.suspended_installations,
        )
    except BaseException:
        # Nothing handed out may outlive a request we could not finish and record; the event says so.
        trail.note(
            **audit_facts(sources=sources, candidates=candidates, minted=[]),
            revoked_after_failure=tokens_revoke_after_failure(app=app, minted=minted),
        )
        raise
    tokens_minted_observed(len(result.tokens))
    trail.decide(AuditEvent.Outcome.ALLOWED if result.tokens else AuditEvent.Outcome.DENIED)
    trail.note(**audit_facts(sources=sources, candidates=candidates, minted=minted))
    _source_rows(trail=trail, candidates=candidates, minted=minted)
    return result


def _source_rows(*, trail: AuditTrail, candidates: list[Source], minted: list[MintedBatch]) -> None:
    """Every decided source as a row of its own in the audit log, with the token that covers it."""
    fingerprints = {id(member): token_fingerprint(batch.token.token) for batch in minted for member in batch.members}
    for candidate in candidates:
        mint_source_observed(reason=candidate.reason)
        trail.source(
            repository=(candidate.full_name or candidate.requested)[:LONGEST_NAME],
            github_id=candidate.github_id,
            decision="granted" if candidate.reason is None else "excluded",
            reason=str(candidate.reason or ""),
            rule=candidate.detail.get("rule") if candidate.reason is None else None,
            fingerprint=fingerprints.get(id(candidate), ""),
        )


def _check_request(
    *, workspace: Workspace, sources: list[str] | None, policy_name: str, features: dict[str, FeatureValue]
) -> None:
    refusal = workspace.sts_refusal(features=features)
    if refusal is not None:
        raise StsNotEntitled(refusal)
    if not is_valid_policy_name(policy_name):
        raise InvalidMintRequest(
            "policyName must be one path segment of letters, digits, '-' and '_' (at most 64 characters).",
            context={"field": "policyName"},
        )
    most = max_sources(workspace, features=features)
    if sources is not None and len(sources) > most:
        raise InvalidMintRequest(f"Ask for at most {most} sources in one request.", context={"field": "sources"})


def max_sources(workspace: Workspace, *, features: dict[str, FeatureValue] | None = None) -> int:
    """The plan's `max_sources_per_mint`, never beyond what this server allows (`STS_MAX_SOURCES`)."""
    value = (
        features["max_sources_per_mint"]
        if features is not None
        else feature_value(workspace=workspace, feature="max_sources_per_mint")
    )
    return min(int(value), settings.STS_MAX_SOURCES)


def _records(session: StsSession, *, named: list[Source]) -> list[InstallationRepository]:
    """Our records, in one query, of the sources named (by name, as GitHub compares them) and of the
    caller's own repository (by the id its OIDC token vouched for), with their installations: the
    `select_related` query, written out (`audit.written_sql`)."""
    names = [candidate.full_name.lower() for candidate in named if candidate.open]
    caller_id = _caller_repository_id(session)
    if not names and caller_id is None:
        return []
    wanted = []
    if names:
        wanted.append(f"{_RECORD.column('full_name_key')} IN ({', '.join(['%s'] * len(names))})")
    if caller_id is not None:
        wanted.append(f"{_RECORD.column('github_id')} = %s")
    sql = (
        f"SELECT {_RECORD.select}, {_INSTALLATION.select} FROM {_RECORD.table} "  # noqa: S608
        f"INNER JOIN {_INSTALLATION.table} ON {_INSTALLATION.column('id')} = {_RECORD.column('installation')} "
        f"WHERE {_INSTALLATION.column('workspace')} = %s AND ({' OR '.join(wanted)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [session.workspace_id, *names, *([caller_id] if caller_id is not None else [])])
        rows = cursor.fetchall()
    records = []
    for row in rows:
        record = _RECORD.instance(row[: len(_RECORD)])
        record.installation = _INSTALLATION.instance(row[len(_RECORD) :])
        records.append(record)
    return records


_RECORD = Columns(InstallationRepository, "record")
_INSTALLATION = Columns(GitHubInstallation, "installation")


def _caller_repository_id(session: StsSession) -> int | None:
    repository_id = str(session.identity.get("repository_id", ""))
    return int(repository_id) if repository_id.isdigit() else None


def _check_caller_installed(session: StsSession, *, records: list[InstallationRepository]) -> None:
    """The world may have changed since the session was issued: the caller's repository must still be
    covered by a live installation of the workspace, in our records (`records` holds it if it is)."""
    caller_id = _caller_repository_id(session)
    covered = caller_id is not None and any(
        row.github_id == caller_id and not row.installation.is_suspended for row in records
    )
    if not covered:
        raise CallerNoLongerInstalled()


def _resolve(
    *,
    workspace: Workspace,
    app: GitHubApp,
    named: list[Source] | None,
    records: list[InstallationRepository],
    budget: GitHubBudget,
    policy_name: str,
    features: dict[str, FeatureValue],
) -> list[Source]:
    """The sources named (checked and de-duplicated), each matched to an installation of the workspace;
    with none named, the repositories that hold the policy."""
    if named is None:
        # Only the repositories that hold the policy, where the policy index is known complete; bounded
        # like a request that names the most sources allowed: the first ones by name.
        rows = InstallationRepository.objects.filter(installation__workspace=workspace).select_related("installation")
        held = repositories_holding(rows, policy_name=policy_name)
        candidates = [
            Source(requested=row.full_name).adopt(row)
            for row in held.order_by("full_name_key")[: max_sources(workspace, features=features)]
        ]
    else:
        candidates = named
        _match(candidates, records=records, workspace=workspace, app=app, budget=budget)
    for candidate in candidates:
        if candidate.open and candidate.installation is not None and candidate.installation.is_suspended:
            candidate.exclude(Reason.SUSPENDED)
    return candidates


def _match(
    candidates: list[Source],
    *,
    records: list[InstallationRepository],
    workspace: Workspace,
    app: GitHubApp,
    budget: GitHubBudget,
) -> None:
    known = {row.full_name_key: row for row in records}
    lookups = 0
    for candidate in candidates:
        if candidate.open and candidate.full_name.lower() in known:
            candidate.adopt(known[candidate.full_name.lower()])
        elif candidate.open and lookups < MAX_GITHUB_LOOKUPS_PER_MINT:
            lookups += 1
            _discover_installation(candidate, workspace=workspace, app=app, budget=budget)
        elif candidate.open:
            candidate.exclude(Reason.NOT_INSTALLED, why="not in our records; too many lookups at GitHub")


def _discover_installation(candidate: Source, *, workspace: Workspace, app: GitHubApp, budget: GitHubBudget) -> None:
    try:
        candidate.installation = installation_discover(
            workspace=workspace, full_name=candidate.full_name, app=app, before_asking=budget.spend
        )
    except GitHubBudgetExhausted as exhausted:
        candidate.exclude(Reason.GITHUB_RATE_LIMITED, why=str(exhausted))
        return
    except GitHubError as error:
        candidate.exclude(reason_for(error))
        return
    if candidate.installation is None:
        candidate.exclude(Reason.NOT_INSTALLED)


def _apply_policies(
    *,
    app: GitHubApp,
    allow_write: bool,
    candidates: list[Source],
    policy_name: str,
    identity: dict[str, Any],
    budget: GitHubBudget | None,
) -> None:
    open_candidates = [candidate for candidate in candidates if candidate.open]
    reads = []
    for candidate in open_candidates:
        assert candidate.installation is not None
        reads.append(
            PolicyRead(
                installation_id=candidate.installation.github_id,
                full_name=candidate.full_name,
                repository_id=candidate.github_id,
            )
        )
    files = policy_files_read(
        app=app, reads=reads, policy_name=policy_name, spend=budget.spend if budget is not None else None
    )
    for candidate, found in zip(open_candidates, files, strict=True):
        if isinstance(found, GitHubInstallationSuspended) and candidate.installation is not None:
            installation_mark_suspended(installation_github_id=candidate.installation.github_id)
        if isinstance(found, GitHubBudgetExhausted):
            candidate.exclude(Reason.GITHUB_RATE_LIMITED, why=str(found))
        elif isinstance(found, GitHubError):
            candidate.exclude(reason_for(found))
        else:
            _decide(candidate, found=found, allow_write=allow_write, policy_name=policy_name, identity=identity)


def _decide(
    candidate: Source, *, found: PolicyFile, allow_write: bool, policy_name: str, identity: dict[str, Any]
) -> None:
    assert candidate.installation is not None
    if found.refusal is not None:
        candidate.exclude(Reason.POLICY_INVALID, why=found.refusal)
        return
    if found.content is None:
        candidate.exclude(Reason.NO_POLICY)
        return
    try:
        policy = parse_policy_bytes(found.content, name=policy_name, allow_write=allow_write)
    except PolicyInvalid as invalid:
        candidate.exclude(
            Reason.POLICY_INVALID,
            problem_count=len(invalid.problems),
            problems=[_problem(problem.as_dict()) for problem in invalid.problems[:AUDIT_PROBLEMS_PER_POLICY]],
        )
        return
    decision = policy.evaluate(identity)
    if not decision.allowed:
        explanation = decision.as_dict()
        explanation["explanation"] = [
            line[:AUDIT_TEXT] for line in explanation["explanation"][:AUDIT_EXPLANATION_LINES]
        ]
        candidate.exclude(Reason.POLICY_DENIED, explanation=explanation)
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


def _problem(problem: dict[str, Any]) -> dict[str, Any]:
    return {key: value[:AUDIT_TEXT] if isinstance(value, str) else value for key, value in problem.items()}


def _record(
    *,
    app: GitHubApp,
    session: StsSession,
    trail: AuditTrail,
    sources: list[str] | None,
    candidates: list[Source],
    minted: list[MintedBatch],
    suspended: set[int],
) -> MintResult:
    """The answer, and what GitHub answered to be written down with the request's audit event, in its
    transaction (one per mint), in a fixed number of statements whatever the number of tokens: the
    tokens' rows, the repositories their answers taught us, the suspensions GitHub reported. If that
    transaction fails, every token is revoked (the event, written by the error path, says so)."""
    tokens: list[GrantedToken] = []
    rows: list[MintedToken] = []
    learned: list[tuple[GitHubInstallation, list[Repository]]] = []
    for batch in minted:
        installation = batch.members[0].installation
        assert installation is not None
        # What GitHub's answer lists beyond our records (a repository found at GitHub just now).
        recorded = {member.github_id for member in batch.members if member.github_id is not None}
        unrecorded = [repository for repository in batch.token.repositories if repository.id not in recorded]
        if unrecorded:
            learned.append((installation, unrecorded))
        repositories = [member.full_name for member in batch.members]
        rows.append(
            MintedToken(
                fingerprint=token_fingerprint(batch.token.token),
                session=session,
                workspace=session.workspace,
                installation_github_id=installation.github_id,
                repositories=repositories,
                permissions=batch.token.permissions,
                request_id=trail.request_id,
                expires_at=batch.token.expires_at_datetime,
            )
        )
        tokens.append(
            GrantedToken(
                host=settings.GITHUB_HOST,
                owner=installation.account_login,
                token=batch.token.token,
                expires_at=batch.token.expires_at,
                repositories=repositories,
                permissions=batch.token.permissions,
            )
        )
    if rows or suspended:

        def write() -> None:
            if suspended:
                installations_mark_suspended(installation_github_ids=suspended)
            installations_repositories_remember(learned=learned)
            written_insert(rows)  # the ORM's bulk_create, without its composing

        def revoke() -> None:
            # Nothing handed out may outlive a request we could not record.
            trail.note(revoked_after_failure=tokens_revoke_after_failure(app=app, minted=minted))

        trail.alongside(write, if_not_committed=revoke)
    excluded = [
        candidate
        for candidate in candidates
        # Without sources, a repository that never opted in is not listed back to the caller.
        if candidate.reason is not None and (sources is not None or candidate.reason != Reason.NO_POLICY)
    ]
    return MintResult(tokens=tokens, excluded=excluded)


def audit_facts(*, sources: list[str] | None, candidates: list[Source], minted: list[MintedBatch]) -> dict[str, Any]:
    """What the mint's audit event says, bounded whatever was asked: counts of everything, the first
    names, decisions and tokens in full (see the AUDIT_* limits)."""
    reasons: dict[str, int] = {}
    for candidate in candidates:
        outcome = "granted" if candidate.reason is None else str(candidate.reason)
        reasons[outcome] = reasons.get(outcome, 0) + 1
    facts: dict[str, Any] = {
        "requested": "all"
        if sources is None
        else {"count": len(sources), "first": [name[:LONGEST_NAME] for name in sources[:AUDIT_NAMES]]},
        "decided": len(candidates),
        "outcomes": reasons,
        "decisions": [_bounded_decision(candidate) for candidate in candidates[:AUDIT_DECISIONS]],
        "tokens": [_token_fact(batch) for batch in minted[:AUDIT_TOKENS]],
    }
    if len(minted) > AUDIT_TOKENS:
        facts["more_token_fingerprints"] = [token_fingerprint(batch.token.token) for batch in minted[AUDIT_TOKENS:]]
    return facts


def _bounded_decision(candidate: Source) -> dict[str, Any]:
    decision = candidate.decision()
    decision["repo"] = decision["repo"][:LONGEST_NAME]
    return decision


def _token_fact(batch: MintedBatch) -> dict[str, Any]:
    installation = batch.members[0].installation
    assert installation is not None
    return {
        "fingerprint": token_fingerprint(batch.token.token),
        "installation_id": installation.github_id,
        "owner": installation.account_login,
        "repository_count": len(batch.members),
        "repositories": [member.full_name for member in batch.members[:AUDIT_REPOSITORIES_PER_TOKEN]],
        "permissions": batch.token.permissions,
        "expires_at": batch.token.expires_at,
        "issued_at": _iso(batch.issued_at),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
