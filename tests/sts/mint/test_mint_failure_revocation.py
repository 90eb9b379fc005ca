"""A mint that fails after GitHub issued tokens revokes every one of them, and its one audit event
says which (by fingerprint) and whether GitHub confirmed each revocation."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from sts import revocation, token_batches
from sts.models import MintedToken
from sts.revocation import RevocationRetries

from .conftest import mint


@pytest.fixture
def recording_breaks(monkeypatch, client):
    """A bug in recording the mint, after GitHub handed out every token; the tokens it was given."""
    handed_out: list[str] = []

    def broken(**kwargs):
        handed_out.extend(batch.token.token for batch in kwargs["minted"])
        raise RuntimeError("a bug after the tokens were handed out")

    monkeypatch.setattr("sts.mint._record", broken)
    client.raise_request_exception = False
    return handed_out


@pytest.mark.django_db
def test_the_failed_requests_event_names_every_token_revoked_and_its_confirmation(
    client, two_sources, session_for, recording_breaks
):
    mint(client, session_for(), {"sources": ["acme/a", "initech/b"]})
    event = AuditEvent.objects.get(action="pro.atmos.sts.mint_denied")

    assert event.outcome == "error"
    revoked = event.detail["revoked_after_failure"]
    assert len(revoked) == 2
    assert all(item["confirmed"] is True for item in revoked)
    assert MintedToken.objects.count() == 0
    assert event.detail["outcomes"] == {"granted": 2}
    assert not any(two_sources.sim.token_is_live(token) for token in recording_breaks)
    assert not any(token in str(event.detail) for token in recording_breaks)


@pytest.mark.django_db(transaction=True)
def test_an_unconfirmed_revocation_after_a_failure_is_said_so_and_retried(
    client, two_sources, session_for, recording_breaks, monkeypatch
):
    retrier = RevocationRetries(workers=2, max_pending=10, first_pause=0.05, longest_pause=0.2)
    futures = []
    submit = retrier.submit
    monkeypatch.setattr(retrier, "submit", lambda **kwargs: futures.append(submit(**kwargs)) or futures[-1])
    monkeypatch.setattr(token_batches, "revocation_retries", retrier)
    monkeypatch.setattr(revocation, "revocation_retries", retrier)
    # One attempt per call, so that the 401s below are not waited out inside the request.
    monkeypatch.setattr("github_app.client.REVOKE_CONFIRM_SECONDS", 0.0)
    two_sources.sim.set_consistency(propagation_seconds=0.0)
    two_sources.sim.fault("revoke", status=401, times=2)  # both fresh tokens unknown to GitHub yet

    mint(client, session_for(), {"sources": ["acme/a", "initech/b"]})

    event = AuditEvent.objects.get(action="pro.atmos.sts.mint_denied")
    assert [item["confirmed"] for item in event.detail["revoked_after_failure"]] == [False, False]
    assert all(future.result(timeout=30) is True for future in futures)
    assert len(futures) == 2
    assert len(recording_breaks) == 2
    assert not any(two_sources.sim.token_is_live(token) for token in recording_breaks)
