"""Tasks through a real broker to a real `celery worker` process, against the test database.

Needs CELERY_BROKER_URL (Redis) and PostgreSQL (a worker in another process cannot see an in-memory
SQLite test database): `make test-celery`. `make test` deselects these tests.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from sts.models import OidcTokenUse
from tests.celery_worker import eventually
from tests.factories import workspace_create
from workspaces.models import GitHubInstallation
from workspaces.services import installation_link
from workspaces.tasks import installation_sync

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (make test-celery)"),
    # serialized_rollback: the flush after each test also takes the plans that a data migration made.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_worker_syncs_an_installation_enqueued_on_commit(github_sim: Any, worker_queue: str) -> None:
    workspace = workspace_create()
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    installation = installation_link(workspace=workspace, installation_github_id=installation_id)
    github_sim.add_repository("acme/new", installation_id=installation_id)
    github_sim.suspend_installation(installation_id)

    with transaction.atomic():
        GitHubInstallation.objects.filter(pk=installation.pk).update(account_login="stale-name")
        transaction.on_commit(lambda: installation_sync.apply_async(args=[installation.pk], queue=worker_queue))

    def synced() -> bool:
        installation.refresh_from_db()
        return installation.account_login == "acme" and installation.suspended_at is not None

    eventually(synced, "the worker refreshed the installation from GitHub")
    assert github_sim.calls["installation"] >= 2


def test_a_worker_retries_a_sync_while_github_is_unavailable(github_sim: Any, worker_queue: str) -> None:
    workspace = workspace_create()
    installation_id = github_sim.add_installation("acme")
    installation = installation_link(workspace=workspace, installation_github_id=installation_id)
    github_sim.add_repository("acme/new", installation_id=installation_id)
    github_sim.reset_calls()
    github_sim.fault("installation_repositories", kind="status", status=503, times=3)

    transaction.on_commit(
        lambda: installation_sync.apply_async(args=[installation.pk], queue=worker_queue, countdown=0)
    )

    # The first run fails (3 answers of 503), and the retry it schedules (5 s later) succeeds.
    eventually(
        lambda: set(installation.repositories.values_list("full_name", flat=True)) == {"acme/new"},
        "the retried sync recorded the new repository",
    )
    assert github_sim.calls["installation_repositories"] == 4


def test_a_worker_purges_expired_oidc_token_records(worker_queue: str) -> None:
    from sts.tasks import expired_records_purge

    long_ago = timezone.now() - timedelta(days=1)
    expired = OidcTokenUse.objects.create(issuer="https://issuer.example", jti="old", expires_at=long_ago)
    live = OidcTokenUse.objects.create(
        issuer="https://issuer.example", jti="new", expires_at=timezone.now() + timedelta(minutes=5)
    )

    transaction.on_commit(lambda: expired_records_purge.apply_async(queue=worker_queue))

    eventually(lambda: not OidcTokenUse.objects.filter(pk=expired.pk).exists(), "the expired record is gone")
    assert OidcTokenUse.objects.filter(pk=live.pk).exists()
