"""Self-service installation of the GitHub App: a workspace admin installs it at GitHub, and GitHub's
answer links the installation to their workspace.

`installation_setup_begin` gives the URL of the App's installation page with a `state` that is signed,
bound to the person and the workspace, good once and for ten minutes (a database row, consumed by one
conditional UPDATE, so it holds across processes). GitHub sends the person back to our setup URL with
`installation_id`, `setup_action`, the `state` and, since the App requests user authorization during
installation, a one-use `code`. `installation_setup_complete` links the installation only when GitHub
confirms that this person can administer it: the code becomes a user token, the token must list the
installation in `GET /user/installations` (which lists read-only access too, so that is not enough), and
GitHub must confirm the person is an active admin of its organization, or is its personal account; then
the token is dropped (never stored or logged). The `installation_id` comes from the query string, bound
by nothing: these checks are what keep a person from linking another organization's installation.
https://docs.github.com/apps/creating-github-apps/registering-a-github-app/about-the-setup-url

Every outcome, success or refusal, is one audit event in the workspace's chain (in the chain of no
workspace when the state cannot be read); the code and the token are in none of them.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from github_app.errors import GitHubAuthenticationFailed, GitHubError
from github_app.user_authorization import GitHubCodeRefused, OAuthApp
from workspaces.access import workspace_access
from workspaces.models import GitHubInstallation, InstallationSetupState, Workspace
from workspaces.services import (
    Actor,
    InstallationLinkedElsewhere,
    InstallationNotFound,
    WorkspaceError,
    installation_link,
)

STATE_LIFETIME = timedelta(minutes=10)
STATE_SALT = "workspaces.installation_setup.state"
STATE_LONGEST = 400  # ours are about 150 characters; anything much longer is not one of ours
# GitHub's codes are 20 hex characters today; a wider shape, but nothing that is not a URL-safe word.
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,100}")
# ASCII digits only (int() also reads other scripts' digits and "1_000"), within a 64-bit column.
INSTALLATION_ID_SHAPE = re.compile(r"[1-9][0-9]{0,17}")
SETUP_ACTIONS = frozenset({"install", "update"})
STALE_STATES_KEPT = timedelta(days=1)


class SetupRefused(WorkspaceError):
    """A setup answer that links nothing; the message is a sentence for the person, `status` the page's."""

    tag = "SetupRefused"
    status = 400
    outcome = AuditEvent.Outcome.DENIED


class AppNotConfigured(SetupRefused):
    tag = "AppNotConfigured"
    status = 503
    outcome = AuditEvent.Outcome.ERROR


class StateInvalid(SetupRefused):
    tag = "StateInvalid"


class StateExpired(SetupRefused):
    tag = "StateExpired"


class StateUsed(SetupRefused):
    tag = "StateUsed"


class StateForeign(SetupRefused):
    tag = "StateForeign"
    status = 403


class NotWorkspaceAdmin(SetupRefused):
    tag = "NotWorkspaceAdmin"
    status = 403


class AuthorizationDeclined(SetupRefused):
    tag = "AuthorizationDeclined"


class InstallationRequested(SetupRefused):
    tag = "InstallationRequested"


class InstallationIdInvalid(SetupRefused):
    tag = "InstallationIdInvalid"


class CodeMissing(SetupRefused):
    tag = "CodeMissing"


class CodeRefused(SetupRefused):
    tag = "CodeRefused"


class InstallationNotAccessible(SetupRefused):
    tag = "InstallationNotAccessible"
    status = 403


class InstallationNotAdministered(SetupRefused):
    tag = "InstallationNotAdministered"
    status = 403


class InstallationTakenElsewhere(SetupRefused):
    tag = "InstallationLinkedElsewhere"
    status = 409


class GitHubUnavailableForSetup(SetupRefused):
    tag = "GitHubUnavailable"
    status = 502
    outcome = AuditEvent.Outcome.ERROR


START_AGAIN = "Start again with “Install on GitHub” on the workspace's page."


@dataclass(frozen=True)
class SetupAnswer:
    """What GitHub's redirect brought to the setup URL, as received (hostile until checked)."""

    state: str = ""
    code: str = ""
    installation_id: str = ""
    setup_action: str = ""
    error: str = ""


@dataclass(frozen=True)
class SetupResult:
    workspace: Workspace
    installation: GitHubInstallation
    relinked: bool


@dataclass(frozen=True)
class _StateClaims:
    nonce: str
    workspace_public_id: str
    user_pk: int


def installation_setup_configured() -> bool:
    return bool(settings.GITHUB_APP_SLUG and settings.GITHUB_APP_CLIENT_ID and settings.GITHUB_APP_CLIENT_SECRET)


def may_install(*, user: AbstractBaseUser, workspace: Workspace) -> bool:
    """A workspace admin of this workspace, or the operator's staff (`workspaces.access`'s table)."""
    pks = workspace_access(user=user).workspace_pks(model_label="workspaces.githubinstallation", action="add")
    return pks is None or workspace.pk in pks


def installation_setup_begin(*, user: AbstractBaseUser, workspace: Workspace) -> str:
    """The App's installation page at GitHub, with a new state for this person and this workspace."""
    if not installation_setup_configured():
        raise AppNotConfigured("Installing from here is not set up on this service; ask the operator.")
    now = timezone.now()
    InstallationSetupState.objects.filter(expires_at__lt=now - STALE_STATES_KEPT).delete()
    nonce = secrets.token_urlsafe(32)
    InstallationSetupState.objects.create(
        nonce_digest=_digest(nonce), user_id=user.pk, workspace=workspace, expires_at=now + STATE_LIFETIME
    )
    state = signing.dumps({"n": nonce, "w": workspace.public_id, "u": user.pk}, salt=STATE_SALT)
    page = f"{settings.GITHUB_WEB_URL.rstrip('/')}/apps/{quote(settings.GITHUB_APP_SLUG, safe='')}/installations/new"
    return f"{page}?{urlencode({'state': state})}"


def installation_setup_complete(*, user: AbstractBaseUser, answer: SetupAnswer, request_id: str) -> SetupResult:
    """Links the installation GitHub named to the state's workspace, once GitHub confirms this person can
    reach it. Raises a `SetupRefused` with the sentence to show; every outcome is audited."""
    facts: dict[str, Any] = {
        "installation_id": _as_audited(answer.installation_id, 40),
        "setup_action": _as_audited(answer.setup_action, 20),
    }
    workspace_public_id = ""
    try:
        claims = _state_claims(answer.state)
        workspace_public_id = claims.workspace_public_id
        result = _complete(user=user, claims=claims, answer=answer)
    except SetupRefused as refusal:
        _record(
            user=user, workspace_public_id=workspace_public_id, request_id=request_id, refusal=refusal, detail=facts
        )
        raise
    facts.update(
        installation_id=result.installation.github_id,
        account=result.installation.account_login,
        repositories=result.installation.repositories.count(),
        relinked=result.relinked,
        linked=True,
    )
    _record(user=user, workspace_public_id=workspace_public_id, request_id=request_id, refusal=None, detail=facts)
    return result


def _complete(*, user: AbstractBaseUser, claims: _StateClaims, answer: SetupAnswer) -> SetupResult:
    workspace = _state_consume(user=user, claims=claims)
    if not may_install(user=user, workspace=workspace):
        raise NotWorkspaceAdmin(f"Only an admin of workspace {workspace.public_id} can link installations to it.")
    if answer.error:
        raise AuthorizationDeclined(
            f"GitHub did not authorize this service for you, so nothing was linked. {START_AGAIN}"
        )
    if answer.setup_action == "request":
        raise InstallationRequested(
            "GitHub sent the installation to the organization's owners for approval; once they approve it, "
            "one of them (or you, afterwards) can link it from the workspace's page."
        )
    installation_id = _installation_id(answer)
    if not answer.code:
        raise CodeMissing(f"GitHub's answer carried no authorization code, so nothing was linked. {START_AGAIN}")
    if not CODE_SHAPE.fullmatch(answer.code):
        raise CodeRefused(f"GitHub's authorization code is not valid. {START_AGAIN}")
    try:
        reach = _person_reach(code=answer.code, installation_id=installation_id)
    except GitHubCodeRefused:
        raise CodeRefused(f"GitHub refused the authorization code (used already, or expired). {START_AGAIN}") from None
    except GitHubAuthenticationFailed:
        raise AppNotConfigured("GitHub refused this service's App credentials; tell the operator.") from None
    except GitHubError:
        raise GitHubUnavailableForSetup(
            f"GitHub is not answering as it should; nothing was linked. {START_AGAIN}"
        ) from None
    if reach is _Reach.NONE:
        raise InstallationNotAccessible(
            f"GitHub does not list installation {installation_id} among those you can reach, so it was not linked."
        )
    if reach is _Reach.NOT_ADMIN:
        raise InstallationNotAdministered(
            f"GitHub does not confirm that you administer the account of installation {installation_id} (an owner "
            "of its organization, or the personal account itself), so it was not linked; ask one of its owners."
        )
    return _link(workspace=workspace, installation_id=installation_id)


class _Reach(enum.Enum):
    NONE = "none"
    NOT_ADMIN = "not_admin"
    ADMIN = "admin"


def _person_reach(*, code: str, installation_id: int) -> _Reach:
    """The user token lives only in this call's frame: exchanged, asked, dropped on return."""
    oauth = OAuthApp.from_settings()
    token = oauth.user_token_for(code)
    account = oauth.installation_account(token, installation_id)
    if account is None:
        return _Reach.NONE
    return _Reach.ADMIN if oauth.user_administers(token, account) else _Reach.NOT_ADMIN


def _link(*, workspace: Workspace, installation_id: int) -> SetupResult:
    relinked = GitHubInstallation.objects.filter(github_id=installation_id, workspace=workspace).exists()
    try:
        installation = installation_link(workspace=workspace, installation_github_id=installation_id)
    except InstallationLinkedElsewhere:
        # The other workspace is another customer's: its id is not this person's to learn.
        raise InstallationTakenElsewhere(
            f"Installation {installation_id} is already linked to another workspace; an admin of that "
            "workspace must unlink it there first."
        ) from None
    except InstallationNotFound:
        raise InstallationNotAccessible(f"GitHub does not know installation {installation_id} of this App.") from None
    except GitHubAuthenticationFailed:
        raise AppNotConfigured("GitHub refused this service's App credentials; tell the operator.") from None
    except GitHubError:
        raise GitHubUnavailableForSetup(
            f"GitHub is not answering as it should; nothing was linked. {START_AGAIN}"
        ) from None
    return SetupResult(workspace=workspace, installation=installation, relinked=relinked)


def _installation_id(answer: SetupAnswer) -> int:
    if answer.setup_action not in SETUP_ACTIONS or not INSTALLATION_ID_SHAPE.fullmatch(answer.installation_id):
        raise InstallationIdInvalid(
            f"GitHub's answer did not name an installation, so nothing was linked. {START_AGAIN}"
        )
    return int(answer.installation_id)


def _state_claims(state: str) -> _StateClaims:
    if not state or len(state) > STATE_LONGEST:
        raise StateInvalid(f"This link did not come from this service's “Install on GitHub” button. {START_AGAIN}")
    try:
        payload = signing.loads(state, salt=STATE_SALT)
        return _StateClaims(nonce=str(payload["n"]), workspace_public_id=str(payload["w"]), user_pk=int(payload["u"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise StateInvalid(
            f"This link did not come from this service's “Install on GitHub” button. {START_AGAIN}"
        ) from None


def _state_consume(*, user: AbstractBaseUser, claims: _StateClaims) -> Workspace:
    """The state's workspace, once: one conditional UPDATE marks the state used, whatever process asks."""
    row = (
        InstallationSetupState.objects.select_related("workspace")
        .filter(nonce_digest=_digest(claims.nonce), workspace__public_id=claims.workspace_public_id)
        .first()
    )
    if row is None or row.user_id != claims.user_pk:
        raise StateInvalid(f"This link did not come from this service's “Install on GitHub” button. {START_AGAIN}")
    if row.user_id != user.pk:
        raise StateForeign("This installation was started by someone else; only they can finish it.")
    now = timezone.now()
    consumed = InstallationSetupState.objects.filter(pk=row.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if consumed != 1:
        row.refresh_from_db(fields=["used_at"])
        if row.used_at is not None:
            raise StateUsed(f"This installation link was used already. {START_AGAIN}")
        raise StateExpired(f"This installation link is more than ten minutes old. {START_AGAIN}")
    return row.workspace


def _record(
    *,
    user: AbstractBaseUser,
    workspace_public_id: str,
    request_id: str,
    refusal: SetupRefused | None,
    detail: dict[str, Any],
) -> AuditEvent:
    if refusal is not None:
        detail = {**detail, "linked": False, "reason": str(refusal)}
    return audit_record(
        action=AuditEvent.Action.WORKSPACE_INSTALLATION_CHANGED,
        outcome=refusal.outcome if refusal is not None else AuditEvent.Outcome.ALLOWED,
        error_tag=refusal.tag if refusal is not None else "",
        request_id=request_id or "chg_" + secrets.token_hex(12),
        workspace_public_id=workspace_public_id,
        identity={**Actor.of_user(user).identity(), "via": "github_installation_setup"},
        detail=detail,
    )


def _as_audited(value: str, longest: int) -> str:
    """A value as received, cut short and with control characters replaced: PostgreSQL's JSON cannot hold
    a NUL, and a log reader should not meet terminal escapes."""
    return "".join(char if char.isprintable() else "\ufffd" for char in value[:longest])


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()
