"""The OIDC exchange (step 0 of the wire contract): a GitHub Actions OIDC token becomes our session.

Order, and why:
1. verify the token (signature, issuer, audience, times, claims);
2. burn its ``jti`` (a row in ``OidcTokenUse``; the unique constraint decides between concurrent copies);
3. only then check the workspace and that the calling repository is installed in it;
4. issue the session.

A token refused at step 3 (unknown workspace, repository not in the workspace) is still burned: a used
token is used, whatever came of the use, so a token cannot be replayed against workspace after
workspace to probe which ones exist or cover it. The Atmos CLI never retries the exchange.

Every attempt, accepted or refused, leaves exactly one audit event (through the request's trail), without the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from audit.trail import AuditTrail
from github_app.client import GitHubApp
from github_app.errors import GitHubError
from sts.caller_rules import caller_admit
from sts.errors import GitHubUnreachable, OidcTokenReplayed, RepositoryNotInWorkspace, WorkspaceNotFound
from sts.models import OidcTokenUse
from sts.oidc import run_identity, verify_actions_token
from sts.sessions import session_issue
from workspaces.models import InstallationRepository, Workspace
from workspaces.selectors import installed_repository, workspace_by_public_id
from workspaces.services import installation_discover


def oidc_exchange(*, token: str, workspace_id: str, trail: AuditTrail) -> str:
    """The session JWT for a verified, first-used OIDC token of a repository installed in the workspace.

    The trail learns the run's identity only once the token's signature verified: before that,
    nothing the token says about its caller is known, so nothing of it is recorded."""
    # The id asked for is only a fact of the request until the workspace is found: an unauthenticated
    # caller must not be able to open audit chains under names it makes up, nor write into a real
    # workspace's chain before its token verified.
    trail.note(workspace_requested=workspace_id[:40])
    claims = verify_actions_token(token)
    identity = run_identity(claims)
    # Which token this was, without the token: issuer and jti identify it in GitHub's terms.
    trail.note(oidc_issuer=claims["iss"], oidc_jti=claims["jti"])
    trail.identify(workspace_public_id="", identity=identity)
    _burn(issuer=claims["iss"], jti=claims["jti"], expires_at=claims["exp"])
    workspace = workspace_by_public_id(workspace_id)
    if workspace is None:
        raise WorkspaceNotFound()
    trail.identify(workspace_public_id=workspace.public_id, identity=identity)
    repository = _caller_repository(workspace=workspace, claims=claims)
    # By id, not by name: a repository (or an organization) deleted and created again under the
    # same name is someone else (https://docs.github.com/en/actions/reference/security/oidc#oidc-token-claims).
    if (
        repository is None
        or repository.github_id != int(claims["repository_id"])
        or repository.installation.account_id != int(claims["repository_owner_id"])
    ):
        raise RepositoryNotInWorkspace()
    caller_admit(workspace=workspace, identity=identity)  # the workspace's own say: its caller rules
    session_token, session = session_issue(workspace=workspace, identity=identity, request_id=trail.request_id)
    trail.note(session=session.jti)
    return session_token


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
