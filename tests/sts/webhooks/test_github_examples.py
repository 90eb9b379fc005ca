"""Every example payload GitHub publishes for the events we act on is accepted and has its effect.

The examples (octokit/webhooks, MIT licence; see github_examples/SOURCE.md) are unchanged. Each test
first makes the installation the example names one a workspace owns, with the repositories it names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from sts.policy_store import CACHE_PREFIX
from sts.webhooks.models import WebhookDelivery
from workspaces.models import GitHubInstallation, InstallationRepository

from .conftest import RETIRED_SECRET, Sender, owned_installation

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).parent / "github_examples"
ALL = sorted(EXAMPLES.glob("*/*.json"))


def example(path: Path) -> tuple[str, dict[str, Any]]:
    return path.parent.name, json.loads(path.read_text())


def listed_repositories(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(payload.get("repositories") or []),
        *payload.get("repositories_removed", []),
        *([payload["repository"]] if "repository" in payload else []),
    ]


def owned_as_the_example_needs(event: str, payload: dict[str, Any]) -> None:
    installation = payload.get("installation") or {"id": 1}
    account = (installation.get("account") or {}).get("login") or payload.get("repository", {}).get("owner", {}).get(
        "login", "Codertocat"
    )
    record = owned_installation(
        installation["id"],
        account=account,
        repositories={repository["id"]: repository["full_name"] for repository in listed_repositories(payload)},
    )
    if payload.get("action") == "unsuspend":
        GitHubInstallation.objects.filter(pk=record.pk).update(suspended_at="2019-01-01T00:00:00Z")


def names_of(installation_id: int) -> set[str]:
    return set(
        InstallationRepository.objects.filter(installation__github_id=installation_id).values_list(
            "full_name", flat=True
        )
    )


def policies_forgotten(payload: dict[str, Any]) -> bool:
    return bool(cache.get(f"{CACHE_PREFIX}:generation:{payload['repository']['full_name'].lower()}"))


def test_the_examples_are_all_there() -> None:
    assert len(ALL) == 14


@pytest.mark.parametrize("path", ALL, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_githubs_example_is_accepted_and_has_its_effect(sender: Sender, path: Path) -> None:
    event, payload = example(path)
    owned_as_the_example_needs(event, payload)

    response = sender.send(event, None, body=path.read_bytes(), guid="example-1")

    assert response.status_code == 202, response.content
    assert WebhookDelivery.objects.get(guid="example-1").status == "done"
    action = payload.get("action")
    if event == "installation":
        facts = payload["installation"]
        record = GitHubInstallation.objects.filter(github_id=facts["id"]).first()
        if action == "deleted":
            assert record is None
            assert not InstallationRepository.objects.exists()
            return
        assert record is not None
        assert record.permissions == facts["permissions"]
        assert record.repository_selection == facts["repository_selection"]
        assert record.is_suspended == (action == "suspend")
        if "repositories" in payload:
            assert names_of(facts["id"]) == {repository["full_name"] for repository in payload["repositories"]}
    elif event == "installation_repositories":
        names = names_of(payload["installation"]["id"])
        assert {repository["full_name"] for repository in payload["repositories_added"]} <= names
        assert not {repository["full_name"] for repository in payload["repositories_removed"]} & names
    else:
        # GitHub's push examples are tag pushes and branch pushes touching README.md only.
        assert not policies_forgotten(payload)


@pytest.mark.parametrize("name", ["with-new-branch.payload.json", "with-no-username-committer.payload.json"])
def test_githubs_branch_push_example_touching_a_policy_forgets_the_cached_policies(sender: Sender, name: str) -> None:
    event, payload = example(EXAMPLES / "push" / name)
    payload["commits"][0]["modified"] = [".atmos/pro/sts/default.yaml"]
    owned_as_the_example_needs(event, payload)

    assert sender.send(event, payload).status_code == 202

    assert policies_forgotten(payload)


@pytest.mark.parametrize("path", ALL[:1] + ALL[-1:], ids=lambda path: path.name)
def test_githubs_example_altered_unsigned_or_signed_with_a_retired_secret_is_refused(
    sender: Sender, path: Path
) -> None:
    event = path.parent.name
    body = path.read_bytes()
    altered = body.replace(b'"id": ', b'"id": 9', 1)
    assert altered != body

    assert sender.send(event, None, body=altered, signed_body=body).status_code == 401
    assert sender.send(event, None, body=body, secret=None).status_code == 401
    assert sender.send(event, None, body=body, secret=RETIRED_SECRET).status_code == 401
    assert not WebhookDelivery.objects.exists()
