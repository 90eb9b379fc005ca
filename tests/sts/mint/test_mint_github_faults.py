"""GitHub failing on each call of a mint: the failing sources are excluded with a reason of their own,
the rest succeed, nothing is half-recorded, and nothing answers 500."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from sts.models import MintedToken

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("endpoint", "fault", "reason"),
    [
        ("contents", {"kind": "status", "status": 502, "times": 50}, "github_unavailable"),
        ("contents", {"kind": "timeout", "times": 50}, "github_unavailable"),
        ("contents", {"kind": "reset", "times": 50}, "github_unavailable"),
        ("contents", {"kind": "rate_limit", "times": 50}, "github_rate_limited"),
        ("contents", {"kind": "secondary_rate_limit", "times": 50, "retry_after": 30}, "github_rate_limited"),
        ("access_tokens", {"kind": "status", "status": 500, "times": 50}, "github_unavailable"),
        ("access_tokens", {"kind": "secondary_rate_limit", "times": 50}, "github_rate_limited"),
        ("contents", {"kind": "malformed", "times": 50}, "github_unavailable"),
        ("access_tokens", {"kind": "malformed", "status": 201, "times": 50}, "github_unavailable"),
    ],
)
def test_a_lasting_failure_excludes_every_source_it_touches(
    client, two_sources, session_for, settings, endpoint, fault, reason
):
    settings.GITHUB_HTTP_TIMEOUT = 1
    two_sources.sim.fault(endpoint, **fault)
    response = mint(client, session_for(), {"sources": ["acme/a", "initech/b"]})
    body = response.json()

    assert response.status_code == 200 and body["success"] is True
    assert body["data"]["tokens"] == []
    assert {item["reason"] for item in body["data"]["excluded"]} == {reason}
    assert AuditEvent.objects.filter(action="pro.atmos.sts.mint_denied").count() == 1
    assert MintedToken.objects.count() == 0


def test_a_failure_for_one_installation_leaves_the_others_minted(client, two_sources, session_for):
    # Warm both: then make one installation's token creation fail.
    mint(client, session_for(), {"sources": ["acme/a", "initech/b"]})
    two_sources.sim.fault("access_tokens", kind="status", status=500, times=1)

    body = mint(client, session_for(), {"sources": ["acme/a", "initech/b"]}).json()

    assert len(body["data"]["tokens"]) == 1
    assert len(body["data"]["excluded"]) == 1
    assert body["data"]["excluded"][0]["reason"] == "github_unavailable"


def test_a_passing_contents_failure_is_retried_and_the_mint_succeeds(client, two_sources, session_for):
    two_sources.sim.fault("contents", kind="status", status=502, times=1)

    body = mint(client, session_for(), {"sources": ["acme/a"]}).json()

    assert body["data"]["excluded"] == []
    assert len(body["data"]["tokens"]) == 1


def test_the_installation_lookup_failing_excludes_the_unrecorded_repository(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/new", acme, ADMITS_ACME_APP, recorded=False)
    world.sim.fault("repo_installation", kind="status", status=503, times=50)

    body = mint(client, session_for(), {"sources": ["acme/new"]}).json()

    assert body["data"]["excluded"] == [{"repo": "acme/new", "reason": "github_unavailable"}]


def test_tokens_minted_before_a_later_failure_are_revoked_not_lost(client, two_sources, session_for, monkeypatch):
    # Both policies cached and reader tokens made: the next mint only creates the two tokens.
    mint(client, session_for(), {"sources": ["acme/a", "initech/b"]})
    issued_before = len(two_sources.sim.tokens_issued)
    live_before = two_sources.sim.live_token_count()
    from sts import token_batches

    original = token_batches._mint_chunk
    calls = []

    def second_group_breaks(**kwargs):
        calls.append(kwargs["installation_id"])
        if len(calls) == 2:
            raise RuntimeError("a bug after the first token was handed out")  # a stand-in for any bug
        return original(**kwargs)

    monkeypatch.setattr(token_batches, "_mint_chunk", second_group_breaks)
    client.raise_request_exception = False

    response = mint(client, session_for(), {"sources": ["acme/a", "initech/b"]})

    assert response.status_code == 500
    assert len(two_sources.sim.tokens_issued) == issued_before + 1  # the first group's token was handed out
    assert two_sources.sim.live_token_count() == live_before  # and revoked again
    assert MintedToken.objects.count() == 2  # only the first request's
