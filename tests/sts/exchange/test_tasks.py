"""sts.tasks.expired_records_purge: used-token records and sessions go once nothing can need them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from sts.models import MintedToken, OidcTokenUse, StsSession
from sts.purge import MINTED_TOKEN_RETENTION, SESSION_GRACE, expired_records_delete
from sts.tasks import expired_records_purge
from tests.factories import workspace_create
from workspaces.models import Workspace


@pytest.fixture
def workspace(db: None) -> Workspace:
    return workspace_create()


def token_use(jti: str, expired_ago: timedelta) -> OidcTokenUse:
    return OidcTokenUse.objects.create(issuer="https://issuer", jti=jti, expires_at=timezone.now() - expired_ago)


def session(workspace: Workspace, jti: str, expired_ago: timedelta) -> StsSession:
    return StsSession.objects.create(
        jti=jti, workspace=workspace, identity={}, request_id="req_x", expires_at=timezone.now() - expired_ago
    )


def minted(for_session: StsSession, fingerprint: str, expired_ago: timedelta = timedelta(hours=1)) -> MintedToken:
    return MintedToken.objects.create(
        fingerprint=fingerprint,
        session=for_session,
        workspace=for_session.workspace,
        installation_github_id=1,
        repositories=["acme/app"],
        permissions={"contents": "read"},
        request_id="req_x",
        expires_at=timezone.now() - expired_ago,
    )


def test_it_deletes_used_token_records_once_their_token_cannot_be_accepted_any_more(db: None, settings: Any) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 60
    token_use("long-gone", timedelta(hours=1))
    token_use("in-the-leeway", timedelta(seconds=30))  # still accepted by verification: must stay burned
    token_use("live", -timedelta(minutes=5))

    counts = expired_records_delete(now=timezone.now())

    assert counts["oidc_token_uses"] == 1
    assert set(OidcTokenUse.objects.values_list("jti", flat=True)) == {"in-the-leeway", "live"}


def test_it_deletes_sessions_expired_beyond_the_grace_without_minted_tokens(workspace: Workspace) -> None:
    session(workspace, "old", SESSION_GRACE + timedelta(minutes=1))
    session(workspace, "just-expired", timedelta(minutes=1))
    session(workspace, "live", -timedelta(minutes=30))
    minted(session(workspace, "old-with-a-token", SESSION_GRACE * 2), "fp-1")

    counts = expired_records_delete(now=timezone.now())

    assert counts["sessions"] == 1
    assert set(StsSession.objects.values_list("jti", flat=True)) == {"just-expired", "live", "old-with-a-token"}
    assert MintedToken.objects.count() == 1


def test_minted_tokens_go_a_day_after_expiry_and_then_their_session(workspace: Workspace) -> None:
    old = session(workspace, "old", SESSION_GRACE * 30)
    minted(old, "fp-gone", expired_ago=MINTED_TOKEN_RETENTION + timedelta(minutes=1))
    minted(session(workspace, "recent", SESSION_GRACE * 2), "fp-kept", expired_ago=timedelta(hours=2))

    counts = expired_records_delete(now=timezone.now())

    assert counts["minted_tokens"] == 1
    assert list(MintedToken.objects.values_list("fingerprint", flat=True)) == ["fp-kept"]
    assert set(StsSession.objects.values_list("jti", flat=True)) == {"recent"}


def test_the_task_runs_the_purge_and_reports_counts(workspace: Workspace) -> None:
    token_use("long-gone", timedelta(hours=1))
    session(workspace, "old", SESSION_GRACE * 2)

    result = expired_records_purge.delay().get()

    assert result == {"oidc_token_uses": 1, "minted_tokens": 0, "sessions": 1}
    assert not OidcTokenUse.objects.exists() and not StsSession.objects.exists()


def test_the_task_is_registered_under_the_name_that_the_beat_schedule_uses(settings: Any) -> None:
    scheduled = settings.CELERY_BEAT_SCHEDULE["purge-expired-oidc-token-uses"]["task"]

    assert expired_records_purge.name == scheduled
