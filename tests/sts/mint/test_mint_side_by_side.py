"""The tokens of a mint over several owners are created side by side, within the configured bound,
without the database, and with everything a one-by-one creation promised: the response's order, the
audit event's content, suspensions recorded, and every token revoked when the request fails."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from audit import event_types
from audit.models import AuditEvent
from github_app.client import GitHubApp
from sts import token_batches
from sts.models import MintedToken, token_fingerprint
from tests.factories import World
from workspaces.models import GitHubInstallation, Workspace

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db

OWNERS = ["acme", "initech", "globex", "umbrella", "hooli"]
SOURCES = [f"{owner}/modules" for owner in OWNERS]


@pytest.fixture
def five_owners(world: World) -> dict[str, GitHubInstallation]:
    installations = {owner: world.installation(owner) for owner in OWNERS}
    for owner, name in zip(OWNERS, SOURCES, strict=True):
        world.source(name, installations[owner], ADMITS_ACME_APP)
    return installations


@pytest.fixture
def warm(client: Any, five_owners: dict[str, GitHubInstallation], session_for: Callable[..., str]) -> str:
    """A session whose five policies are cached and reader tokens made: a mint now only creates tokens."""
    session = session_for()
    body = mint(client, session, {"sources": SOURCES}).json()
    assert len(body["data"]["tokens"]) == 5, body
    return session


@pytest.fixture
def creation(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Wraps token creation at the GitHub client: `before(installation_id)` runs before each call (in
    the creating thread), and every token GitHub handed out is recorded with its installation."""
    original = GitHubApp.create_installation_token
    state: dict[str, Any] = {"before": lambda installation_id: None, "issued": [], "lock": threading.Lock()}
    state["in_flight"] = state["most_in_flight"] = 0

    def wrapped(self: GitHubApp, installation_id: int, **kwargs: Any) -> Any:
        with state["lock"]:
            state["in_flight"] += 1
            state["most_in_flight"] = max(state["most_in_flight"], state["in_flight"])
        try:
            state["before"](installation_id)
            token = original(self, installation_id, **kwargs)
        finally:
            with state["lock"]:
                state["in_flight"] -= 1
        with state["lock"]:
            state["issued"].append((installation_id, token.token))
        return token

    monkeypatch.setattr(GitHubApp, "create_installation_token", wrapped)
    yield state


def answers_github(sim: Any, token: str) -> int:
    response = requests.get(
        f"{sim.api_url}/installation/repositories",
        headers={"Authorization": f"Bearer {token}", "User-Agent": "test"},
        timeout=10,
    )
    return response.status_code


def test_the_tokens_of_five_owners_are_created_at_once(client, warm, creation):
    # Each creation waits for the four others to have started: one after another, this never returns.
    started = threading.Barrier(5, timeout=10)
    creation["before"] = lambda installation_id: started.wait()

    body = mint(client, warm, {"sources": SOURCES}).json()

    assert [token["owner"] for token in body["data"]["tokens"]] == OWNERS
    assert creation["most_in_flight"] == 5


def test_no_more_tokens_are_created_at_once_than_the_setting_allows(client, warm, creation, settings):
    settings.STS_TOKEN_CREATE_CONCURRENCY = 2
    two_met = threading.Barrier(2, timeout=10)
    calls = iter(range(5))  # next() is atomic: each creation takes its own number

    def before(installation_id: int) -> None:
        if next(calls) < 2:
            two_met.wait()  # the first two overlap, so the bound is reached, not merely respected

    creation["before"] = before

    body = mint(client, warm, {"sources": SOURCES}).json()

    assert len(body["data"]["tokens"]) == 5
    assert creation["most_in_flight"] == 2


def test_the_response_and_the_audit_event_keep_the_requested_order_whatever_github_answers_first(
    client, warm, creation, five_owners
):
    others_done = threading.Event()
    first = five_owners["acme"].github_id

    def before(installation_id: int) -> None:
        if installation_id == first:
            assert others_done.wait(timeout=10)  # acme's token is the last one GitHub hands out

    def issued_four() -> None:
        while len(creation["issued"]) < 4:
            threading.Event().wait(0.01)
        others_done.set()

    watcher = threading.Thread(target=issued_four, daemon=True)
    watcher.start()
    creation["before"] = before

    body = mint(client, warm, {"sources": SOURCES}).json()
    watcher.join(timeout=10)

    assert [installation_id for installation_id, _ in creation["issued"]][-1] == first
    assert [token["owner"] for token in body["data"]["tokens"]] == OWNERS
    assert [token["repositories"] for token in body["data"]["tokens"]] == [[name] for name in SOURCES]
    event = AuditEvent.objects.filter(action__in=event_types.MINT.actions).latest("sequence")
    assert [token["owner"] for token in event.detail["tokens"]] == OWNERS
    assert [row.repository for row in event.sources.order_by("pk")] == SOURCES
    issued = [token for _, token in creation["issued"]]
    fingerprints = [token["fingerprint"] for token in event.detail["tokens"]]
    assert sorted(fingerprints) == sorted(token_fingerprint(token) for token in issued)
    assert MintedToken.objects.filter(request_id=event.request_id).count() == 5


def test_a_failure_on_the_third_of_five_owners_revokes_every_token_the_others_got(
    client, warm, creation, five_owners, world
):
    third = five_owners["globex"].github_id

    def before(installation_id: int) -> None:
        if installation_id == third:
            while len(creation["issued"]) < 4:  # the four others were handed out first
                threading.Event().wait(0.01)
            raise RuntimeError("a bug while the third owner's token was being created")

    creation["before"] = before
    client.raise_request_exception = False
    minted_before = MintedToken.objects.count()

    response = mint(client, warm, {"sources": SOURCES})

    assert response.status_code == 500
    assert response.json()["success"] is False
    handed_out = [token for _, token in creation["issued"]]
    assert len(handed_out) == 4
    assert [answers_github(world.sim, token) for token in handed_out] == [401] * 4
    event = AuditEvent.objects.filter(action__in=event_types.MINT.actions).latest("sequence")
    assert event.outcome == "error"
    revoked = event.detail["revoked_after_failure"]
    assert sorted(item["fingerprint"] for item in revoked) == sorted(token_fingerprint(t) for t in handed_out)
    assert all(item["confirmed"] is True for item in revoked)
    assert not any(token in str(event.detail) for token in handed_out)
    assert MintedToken.objects.count() == minted_before


def test_an_installation_github_reports_suspended_is_recorded_after_the_others_are_minted(
    client, warm, five_owners, world
):
    world.sim.suspend_installation(five_owners["globex"].github_id)

    body = mint(client, warm, {"sources": SOURCES}).json()

    assert [token["owner"] for token in body["data"]["tokens"]] == ["acme", "initech", "umbrella", "hooli"]
    assert body["data"]["excluded"] == [{"repo": "globex/modules", "reason": "installation_suspended"}]
    five_owners["globex"].refresh_from_db()
    assert five_owners["globex"].suspended_at is not None
    assert GitHubInstallation.objects.filter(suspended_at__isnull=False).count() == 1


def test_a_github_fault_on_one_owner_excludes_only_its_source(client, warm, world):
    world.sim.fault("access_tokens", kind="status", status=502, times=1)

    body = mint(client, warm, {"sources": SOURCES}).json()

    assert len(body["data"]["tokens"]) == 4
    [excluded] = body["data"]["excluded"]
    assert excluded["reason"] == "github_unavailable"
    assert [token["owner"] for token in body["data"]["tokens"]] == [
        o for o in OWNERS if excluded["repo"] != f"{o}/modules"
    ]


def test_the_creating_threads_may_not_touch_the_database():
    def reads_the_database() -> int:
        return Workspace.objects.count()

    with pytest.raises(RuntimeError, match="No database access"):
        token_batches._side_by_side([reads_the_database, lambda: 0])
