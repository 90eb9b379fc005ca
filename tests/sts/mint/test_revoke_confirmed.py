"""A revocation counts only when GitHub confirmed it. A fresh token can answer 401 to its own
revocation (GitHub has not propagated it yet) and then work for an hour: such a revocation is
answered `confirmed: false`, shown unconfirmed on its row, and retried in the background with the
token held in memory only, until GitHub confirms or the token expires."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from sts import revocation
from sts.models import MintedToken
from sts.revocation import RevocationRetries

from .conftest import revoke


@pytest.fixture
def retries(monkeypatch):
    """The background retries of this process, with short pauses, and the futures they started."""
    retrier = RevocationRetries(workers=2, max_pending=10, first_pause=0.05, longest_pause=0.2)
    futures = []
    submit = retrier.submit

    def tracked(**kwargs):
        future = submit(**kwargs)
        futures.append(future)
        return future

    monkeypatch.setattr(retrier, "submit", tracked)
    monkeypatch.setattr(revocation, "revocation_retries", retrier)
    monkeypatch.setattr("sts.token_batches.revocation_retries", retrier)
    return futures


def everything_stored() -> str:
    """Every row of every table, as text: where a token value must never be found."""
    with connection.cursor() as cursor:
        dumped = []
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            dumped.append(repr(cursor.fetchall()))
    return "\n".join(dumped)


@pytest.mark.django_db
def test_a_confirmed_revocation_says_so_and_is_recorded_as_done(client, world, session_for, minted):
    response = revoke(client, session_for(), minted)

    assert response.json()["data"] == {
        "revoked": True,
        "confirmed": True,
        "fingerprint": MintedToken.objects.get().fingerprint,
    }
    row = MintedToken.objects.get()
    assert row.revocation_state() == MintedToken.RevocationState.REVOKED
    assert row.revocation_attempts == 1
    assert world.sim.token_is_live(minted) is False
    assert AuditEvent.objects.get(action="pro.atmos.sts.token_revoked").detail["confirmed"] is True


@pytest.mark.django_db(transaction=True)
def test_a_revocation_right_after_the_mint_waits_out_githubs_propagation_and_is_confirmed(
    client, world, session_for, minted, retries
):
    world.sim.set_consistency(propagation_seconds=1.0)  # the fresh token answers 401 for its first second

    response = revoke(client, session_for(), minted)

    assert response.json()["data"]["confirmed"] is True
    assert MintedToken.objects.get().revocation_state() == MintedToken.RevocationState.REVOKED
    assert retries == []
    assert world.sim.token_is_live(minted) is False


@pytest.mark.django_db(transaction=True)
def test_a_fresh_tokens_401_is_not_taken_as_revoked_and_is_retried_until_confirmed(
    client, world, session_for, minted, retries, monkeypatch
):
    # One attempt per call, so that each 401 GitHub gives is one attempt on the row.
    monkeypatch.setattr("github_app.client.REVOKE_CONFIRM_SECONDS", 0.0)
    world.sim.set_consistency(propagation_seconds=0.0)
    world.sim.fault("revoke", status=401, times=2)  # GitHub has not propagated the token yet

    response = revoke(client, session_for(), minted)

    body = response.json()
    assert response.status_code == 200 and body["success"] is True
    assert body["data"]["confirmed"] is False
    row = MintedToken.objects.get()
    assert row.revoked_at is None
    assert row.revocation_requested_at is not None
    assert row.revocation_state() == MintedToken.RevocationState.UNCONFIRMED
    assert AuditEvent.objects.get(action="pro.atmos.sts.token_revoked").detail["confirmed"] is False
    assert minted not in everything_stored()

    [future] = retries
    assert future.result(timeout=30) is True

    row.refresh_from_db()
    assert row.revocation_state() == MintedToken.RevocationState.REVOKED
    assert row.revocation_attempts == 3  # the request's, one more 401, then GitHub's 204
    assert world.sim.token_is_live(minted) is False
    assert minted not in everything_stored()


@pytest.mark.django_db(transaction=True)
def test_github_failing_on_a_revocation_leaves_it_unconfirmed_and_retried(client, world, session_for, minted, retries):
    world.sim.fault("revoke", status=502, times=1)

    body = revoke(client, session_for(), minted).json()

    assert body["success"] is True and body["data"]["confirmed"] is False
    assert retries[0].result(timeout=30) is True
    assert MintedToken.objects.get().is_revoked()


@pytest.mark.django_db
def test_revoking_a_confirmed_token_again_asks_github_nothing(client, world, session_for, minted):
    revoke(client, session_for(), minted)
    world.sim.reset_calls()

    body = revoke(client, session_for(), minted).json()

    assert body["data"]["confirmed"] is True
    assert world.sim.calls["revoke"] == 0
    assert MintedToken.objects.get().revocation_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_revocation_never_confirmed_stays_unconfirmed_once_the_token_expired(world, minted):
    retrier = RevocationRetries(workers=1, max_pending=1, first_pause=0.05, longest_pause=0.05)
    row = MintedToken.objects.get()
    row.revocation_attempted(confirmed=False)
    world.sim.fault("revoke", status=401, times=1000)

    future = retrier.submit(token=minted, issued_at=timezone.now(), expires_at=timezone.now() + timedelta(seconds=0.3))

    assert future is not None and future.result(timeout=30) is False
    row.refresh_from_db()
    assert row.revocation_state() == MintedToken.RevocationState.UNCONFIRMED
    assert row.revocation_attempts >= 2


@pytest.mark.django_db(transaction=True)
def test_the_background_retries_are_bounded(minted):
    retrier = RevocationRetries(workers=1, max_pending=1, first_pause=0.05, longest_pause=0.05)
    later = timezone.now() + timedelta(seconds=0.2)

    first = retrier.submit(token=minted, issued_at=timezone.now(), expires_at=later)
    second = retrier.submit(token=minted, issued_at=timezone.now(), expires_at=later)

    assert first is not None and second is None
    first.result(timeout=30)


@pytest.mark.django_db
def test_a_confirmation_is_recorded_once_and_keeps_the_first_time(world, minted):
    row = MintedToken.objects.get()
    assert row.revocation_attempted(confirmed=True) is True
    first = row.revoked_at

    assert row.revocation_attempted(confirmed=True) is False
    assert row.revoked_at == first
    assert row.revocation_attempts == 2


@pytest.mark.django_db
def test_the_database_refuses_a_revocation_recorded_without_its_request(world, minted):
    with pytest.raises(IntegrityError), transaction.atomic():
        MintedToken.objects.update(revoked_at=timezone.now())


def test_a_token_already_being_retried_gets_no_second_retry():
    retrier = RevocationRetries(workers=1, max_pending=10, first_pause=0.05, longest_pause=0.05)
    token = "ghs_" + "r" * 40
    soon = timezone.now() + timedelta(seconds=1)
    hold = threading.Event()
    retrier._retry = lambda *_: hold.wait(5)  # a retry that is still running

    first = retrier.submit(token=token, issued_at=timezone.now(), expires_at=soon)
    second = retrier.submit(token=token, issued_at=timezone.now(), expires_at=soon)
    other = retrier.submit(token="ghs_" + "s" * 40, issued_at=timezone.now(), expires_at=soon)
    hold.set()

    assert first is not None and second is None and other is not None
    first.result(timeout=5)
    # Once the first retry ended (its done-callback runs just after its result is set), the token may
    # be retried again.
    deadline = time.monotonic() + 5
    again = None
    while again is None and time.monotonic() < deadline:
        again = retrier.submit(token=token, issued_at=timezone.now(), expires_at=soon)
    assert again is not None
