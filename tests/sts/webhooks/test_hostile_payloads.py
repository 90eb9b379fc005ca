"""Signed payloads with values of the wrong type, missing parts or huge lists: refused or bounded, never a 500."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sts.webhooks.models import WebhookDelivery
from workspaces.models import GitHubInstallation, InstallationRepository

from .conftest import Sender, installation_payload, owned_installation, push_payload

pytestmark = pytest.mark.django_db


def changed(payload: dict, path: str, value: Any) -> dict:
    copied = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node = copied
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return copied


SUSPEND = installation_payload("suspend", 42)
PUSH = push_payload(installation_id=42, repository_id=11, full_name="Codertocat/a", paths=[".atmos/pro/sts/x.yaml"])
PULL = {
    "action": "opened",
    "number": 3,
    "pull_request": {"number": 3, "head": {"sha": "a" * 40}},
    "repository": {"id": 11, "full_name": "Codertocat/a"},
    "installation": {"id": 42},
}


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("installation", [SUSPEND]),
        ("installation", "suspend"),
        ("installation", changed(SUSPEND, "installation", KeyError)),
        ("installation", changed(SUSPEND, "installation", None)),
        ("installation", changed(SUSPEND, "installation", [42])),
        ("installation", changed(SUSPEND, "installation.id", "42")),
        ("installation", changed(SUSPEND, "installation.id", True)),
        ("installation", changed(SUSPEND, "installation.id", 4.2)),
        ("installation", changed(SUSPEND, "installation.id", -42)),
        ("installation", changed(SUSPEND, "installation.id", 2**64)),
        ("installation", changed(SUSPEND, "installation.account", "Codertocat")),
        ("installation", changed(SUSPEND, "installation.account.login", {"$ne": ""})),
        ("installation", changed(SUSPEND, "installation.account.login", "x" * 10_000)),
        ("installation", changed(SUSPEND, "installation.permissions", ["contents"])),
        ("installation", changed(SUSPEND, "installation.permissions", {"contents": 1})),
        ("installation", changed(SUSPEND, "installation.suspended_at", 17)),
        ("installation", changed(SUSPEND, "installation.suspended_at", "2019-13-45T00:00:00Z")),
        ("installation", changed(SUSPEND, "installation.suspended_at", "yesterday")),
        ("installation", changed(SUSPEND, "installation.account.login", "x" * 101)),
        ("installation", changed(SUSPEND, "installation.account.type", "Organization" * 2)),
        ("installation", changed(SUSPEND, "installation.repository_selection", "s" * 21)),
        ("installation", changed(SUSPEND, "repositories", "all")),
        ("installation", changed(SUSPEND, "repositories", [{"id": "11", "full_name": "a/b"}])),
        ("installation", changed(SUSPEND, "repositories", [{"id": 11, "full_name": "no-slash"}])),
        ("installation_repositories", changed(installation_payload("added", 42), "repositories_added", {"id": 1})),
        ("installation_repositories", changed(installation_payload("removed", 42), "repositories_removed", [None])),
        ("push", changed(PUSH, "repository", None)),
        ("push", changed(PUSH, "repository.id", "11")),
        ("push", changed(PUSH, "repository.default_branch", 0)),
        ("push", changed(PUSH, "ref", ["refs/heads/main"])),
        ("push", changed(PUSH, "forced", "false")),
        ("push", changed(PUSH, "commits", {"added": []})),
        ("push", changed(PUSH, "commits", [[]])),
        ("push", changed(PUSH, "commits", [{"added": ".atmos/pro/sts/x.yaml", "removed": [], "modified": []}])),
        ("push", changed(PUSH, "commits", [{"added": [1], "removed": [], "modified": []}])),
        ("push", changed(PUSH, "installation", {"id": None})),
        ("repository", {"action": "renamed", "repository": {"id": 11, "full_name": None}}),
        ("pull_request", changed(PULL, "pull_request", None)),
        ("pull_request", changed(PULL, "pull_request.head", "a" * 40)),
        ("pull_request", changed(PULL, "pull_request.head.sha", "main")),
        ("pull_request", changed(PULL, "pull_request.head.sha", "../../" + "a" * 40)),
        ("pull_request", changed(PULL, "pull_request.head.sha", "A" * 40)),
        ("pull_request", changed(PULL, "pull_request.head.sha", "a" * 40 + "\n")),
        ("pull_request", changed(PULL, "number", True)),
        ("pull_request", changed(PULL, "number", "3")),
        ("pull_request", changed(PULL, "number", -3)),
        ("pull_request", changed(PULL, "repository.full_name", "../../etc")),
    ],
)
def test_a_signed_payload_of_the_wrong_shape_is_refused_with_no_side_effect(
    sender: Sender, event: str, payload: Any
) -> None:
    owned_installation(42, repositories={11: "Codertocat/a"})

    response = sender.send(event, payload)

    assert response.status_code == 400
    assert response.json()["error"] == "WebhookPayloadInvalid"
    assert not WebhookDelivery.objects.exists()
    assert not GitHubInstallation.objects.get(github_id=42).is_suspended


def test_the_refusal_names_the_field_and_never_echoes_its_value(sender: Sender) -> None:
    response = sender.send("installation", changed(SUSPEND, "installation.account.login", ["s3cr3t-looking-value"]))
    assert "installation.account.login" in response.json()["message"]
    assert "s3cr3t" not in response.content.decode()


def test_a_huge_list_of_added_repositories_is_recorded_in_batches(sender: Sender) -> None:
    owned_installation(42)
    added = [{"id": n, "full_name": f"Codertocat/r{n}"} for n in range(1, 20_001)]

    response = sender.send(
        "installation_repositories", {**installation_payload("added", 42), "repositories_added": added}
    )

    assert response.status_code == 202
    assert InstallationRepository.objects.filter(installation__github_id=42).count() == 20_000


def test_a_huge_list_for_an_installation_no_workspace_owns_changes_nothing(sender: Sender) -> None:
    removed = [{"id": n, "full_name": f"x/r{n}"} for n in range(1, 40_001)]
    response = sender.send(
        "installation_repositories", {**installation_payload("removed", 7), "repositories_removed": removed}
    )
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().status == "ignored"


def test_a_push_listing_thousands_of_commits_forgets_the_policies_as_it_cannot_show_the_folder_untouched(
    sender: Sender,
) -> None:
    from django.core.cache import cache

    from sts.policy_store import CACHE_PREFIX

    owned_installation(42, repositories={11: "Codertocat/a"})
    commits = [{"id": str(n), "added": ["README.md"], "removed": [], "modified": []} for n in range(2048)]

    sender.send("push", push_payload(installation_id=42, repository_id=11, full_name="Codertocat/a", commits=commits))

    assert cache.get(f"{CACHE_PREFIX}:generation:codertocat/a") == 1
