"""The OIDC exchange (step 0 of the wire contract): a GitHub Actions OIDC token becomes our session.

Order, and why:
1. verify the token (signature, issuer, audience, times, claims);
2. burn its ``jti`` (a row in ``OidcTokenUse``; the unique constraint decides between concurrent copies);
3. only then check the workspace and that the calling repository is installed in it;
4. issue the session.

A token refused at step 3 (unknown workspace, repository not in the workspace) is still burned: a used
token is used, whatever came of the use, so a token cannot be replayed against workspace after
workspace to probe which ones exist or cover it. The Atmos CLI never retries the exchange.

Every attempt, accepted or refused, writes exactly one audit event, without the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from github_app.client import GitHubApp
from github_app.errors import GitHubError
from sts.caller_rules import caller_admit
from sts.errors import GitHubUnreachable, OidcTokenReplayed, RepositoryNotInWorkspace, StsError, WorkspaceNotFound
from sts.models import OidcTokenUse
from sts.oidc import run_identity, verify_actions_token
from sts.sessions import session_issue
from workspaces.models import InstallationRepository, Workspace
from workspaces.selectors import installed_repository, workspace_by_public_id
from workspaces.services import installation_discover


def oidc_exchange(*, token: str, workspace_id: str, request_id: str, client_ip: str) -> str:
    """The session JWT for a verified, first-used OIDC token of a repository installed in the workspace."""
    claims: Mapping[str, Any] = {}
    try:
        claims = verify_actions_token(token)
        _burn(issuer=claims["iss"], jti=claims["jti"], expires_at=claims["exp"])
        workspace = workspace_by_public_id(workspace_id)
        if workspace is None:
            raise WorkspaceNotFound()
        repository = _caller_repository(workspace=workspace, claims=claims)
        # By id, not by name: a repository (or an organization) deleted and created again under the
        # same name is someone else (https://docs.github.com/en/actions/reference/security/oidc#oidc-token-claims).
        if (
            repository is None
            or repository.github_id != int(claims["repository_id"])
            or repository.installation.account_id != int(claims["repository_owner_id"])
        ):
            raise RepositoryNotInWorkspace()
        identity = run_identity(claims)
        caller_admit(workspace=workspace, identity=identity)  # the workspace's own say: its caller rules
        session_token, session = session_issue(workspace=workspace, identity=identity, request_id=request_id)
    except Exception as error:
        # A refusal (StsError), or a bug or a broken database: recorded either way, then re-raised
        # for the envelope (a 500 for anything that is not an StsError).
        known = error if isinstance(error, StsError) else StsError()
        exchange_refusal_record(
            request_id=request_id,
            error_tag=known.tag,
            status=known.status,
            reason=known.message,
            workspace_id=workspace_id,
            client_ip=client_ip,
            claims=claims,
        )
        raise
    audit_record(
        action=AuditEvent.Action.OIDC_EXCHANGE,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id=request_id,
        workspace_public_id=workspace.public_id,
        identity=identity,
        detail={"session": session.jti, **_token_facts(claims), "client_ip": client_ip},
    )
    return session_token


def exchange_refusal_record(
    *,
    request_id: str,
    error_tag: str,
    status: int,
    reason: str,
    workspace_id: str = "",
    client_ip: str = "",
    claims: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """The audit event of a refused (4xx) or failed (5xx) exchange attempt.

    ``claims`` are given only once the token's signature verified: before that, nothing the token
    says about its caller is known, so nothing of it is recorded.
    """
    claims = claims or {}
    return audit_record(
        action=AuditEvent.Action.OIDC_EXCHANGE,
        outcome=AuditEvent.Outcome.ERROR if status >= 500 else AuditEvent.Outcome.DENIED,
        request_id=request_id,
        error_tag=error_tag,
        workspace_public_id=workspace_id[:40],
        identity=run_identity(claims),
        detail={"reason": reason, "status": status, **_token_facts(claims), "client_ip": client_ip},
    )


def _token_facts(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Which token this was, without the token: issuer and jti identify it in GitHub's terms."""
    if not claims:
        return {}
    return {"oidc_issuer": claims.get("iss"), "oidc_jti": claims.get("jti")}


def _caller_repository(*, workspace: Workspace, claims: Mapping[str, Any]) -> InstallationRepository | None:
    """Our record of the calling repository; one our records lack yet is looked up at GitHub (for the
    workspace's own accounts only) and recorded, with the id the verified token vouches for."""
    github_id = int(claims["repository_id"])
    found = installed_repository(workspace=workspace, full_name=claims["repository"], github_id=github_id)
    if found is not None:
        return found
    try:
        installation = installation_discover(
            workspace=workspace, full_name=claims["repository"], app=GitHubApp.from_settings()
        )
    except GitHubError:
        raise GitHubUnreachable() from None
    if installation is None:
        return None
    row, _ = InstallationRepository.objects.get_or_create(
        installation=installation, github_id=github_id, defaults={"full_name": claims["repository"]}
    )
    return row


def _burn(*, issuer: str, jti: str, expires_at: int) -> None:
    """Record the token's use; the database's unique (issuer, jti) lets exactly one copy through."""
    try:
        with transaction.atomic():
            OidcTokenUse.objects.create(issuer=issuer, jti=jti, expires_at=datetime.fromtimestamp(expires_at, tz=UTC))
    except IntegrityError:
        raise OidcTokenReplayed() from None
