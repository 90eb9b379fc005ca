"""A push to the default branch that may touch the policy folder forgets the repository's cached
policies; renames and transfers keep our records' names current."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from audit.models import AuditEvent
from sts.policy_store import CACHE_PREFIX
from sts.webhooks.models import WebhookDelivery
from workspaces.models import InstallationRepository

from .conftest import Sender, owned_installation, push_payload

pytestmark = pytest.mark.django_db


def forgotten(full_name: str) -> bool:
    """Whether the repository's cached policies were invalidated (its generation moved on)."""
    return bool(cache.get(f"{CACHE_PREFIX}:generation:{full_name.lower()}"))


def push(sender: Sender, paths: list[str], **extra: object) -> WebhookDelivery:
    extra.setdefault("installation_id", 42)
    response = sender.send("push", push_payload(repository_id=11, full_name="Codertocat/a", paths=paths, **extra))
    assert response.status_code == 202
    return WebhookDelivery.objects.latest("id")


@pytest.fixture(autouse=True)
def installation(db: None) -> None:
    owned_installation(42, repositories={11: "Codertocat/a"})


@pytest.mark.parametrize(
    "paths",
    [
        [".atmos/pro/sts/default.yaml"],
        ["README.md", ".atmos/pro/sts/deploy.yaml"],
        [".atmos/pro/sts"],  # the folder replaced by a file or a link
        [".atmos/pro"],
        [".atmos"],
        [".atmos/pro/sts/nested/deeper.yaml"],
    ],
)
def test_a_push_touching_the_policy_folder_forgets_the_cached_policies(sender: Sender, paths: list[str]) -> None:
    delivery = push(sender, paths)

    assert forgotten("Codertocat/a")
    assert delivery.status == "done"
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_INVALIDATED)
    assert (event.detail["repository"], event.detail["why"]) == ("Codertocat/a", "changed")


@pytest.mark.parametrize(
    "paths", [["README.md"], [".atmos/pro/stsx.yaml"], [".atmos/other/sts/x.yaml"], ["x/.atmos/pro/sts/a.yaml"]]
)
def test_a_push_leaving_the_policy_folder_untouched_forgets_nothing(sender: Sender, paths: list[str]) -> None:
    delivery = push(sender, paths)
    assert not forgotten("Codertocat/a")
    assert delivery.status == "done"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_INVALIDATED).exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"forced": True},
        {"commits": []},
        {"commits": None},
        {"commits": [{"id": "a", "added": ["README.md"], "modified": []}]},  # "removed" missing
    ],
)
def test_a_push_that_cannot_show_the_folder_untouched_forgets_the_policies(sender: Sender, extra: dict) -> None:
    push(sender, ["README.md"], **extra)
    assert forgotten("Codertocat/a")
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_INVALIDATED)
    assert event.detail["why"] == "cannot tell what changed"


def test_a_push_to_another_branch_or_a_tag_forgets_nothing(sender: Sender) -> None:
    push(sender, [".atmos/pro/sts/default.yaml"], ref="refs/heads/feature")
    push(sender, [".atmos/pro/sts/default.yaml"], ref="refs/tags/main")
    push(sender, [".atmos/pro/sts/default.yaml"], ref="main")
    assert not forgotten("Codertocat/a")


def test_a_push_to_a_repository_no_workspace_owns_is_ignored(sender: Sender) -> None:
    response = sender.send(
        "push",
        push_payload(installation_id=42, repository_id=99, full_name="Codertocat/z", paths=[".atmos/pro/sts/a.yaml"]),
    )
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().status == "ignored"
    assert not forgotten("Codertocat/z")


def test_a_push_naming_another_installation_than_ours_is_ignored(sender: Sender) -> None:
    push(sender, [".atmos/pro/sts/default.yaml"], installation_id=7)
    assert not forgotten("Codertocat/a")


def test_a_push_without_an_installation_is_matched_by_repository_id(sender: Sender) -> None:
    push(sender, [".atmos/pro/sts/default.yaml"], installation_id=None)
    assert forgotten("Codertocat/a")


def test_a_push_under_a_new_name_forgets_the_policies_under_both_names(sender: Sender) -> None:
    sender.send(
        "push",
        push_payload(
            installation_id=42, repository_id=11, full_name="Codertocat/renamed", paths=[".atmos/pro/sts/a.yaml"]
        ),
    )
    assert forgotten("Codertocat/a") and forgotten("Codertocat/renamed")


def repository_event(action: str, full_name: str, repository_id: int = 11) -> dict:
    return {
        "action": action,
        "repository": {"id": repository_id, "full_name": full_name, "name": full_name.split("/")[1]},
        "changes": {"repository": {"name": {"from": "a"}}},
        "installation": {"id": 42},
    }


def test_a_renamed_repository_is_recorded_under_its_new_name(sender: Sender) -> None:
    sender.send("repository", repository_event("renamed", "Codertocat/infra"))

    row = InstallationRepository.objects.get(github_id=11)
    assert (row.full_name, row.full_name_key) == ("Codertocat/infra", "codertocat/infra")
    assert forgotten("Codertocat/a") and forgotten("Codertocat/infra")
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_REPOSITORY_MOVED)
    assert (event.detail["old"], event.detail["new"]) == ("Codertocat/a", "Codertocat/infra")


def test_a_repository_transferred_to_another_account_leaves_the_installation(sender: Sender) -> None:
    sender.send("repository", repository_event("transferred", "elsewhere/a"))
    assert not InstallationRepository.objects.filter(github_id=11).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_REPOSITORY_MOVED).count() == 1


def test_a_repository_transferred_within_the_account_keeps_its_row(sender: Sender) -> None:
    sender.send("repository", repository_event("transferred", "codertocat/a"))
    assert InstallationRepository.objects.get(github_id=11).full_name == "codertocat/a"


def test_a_rename_of_a_repository_we_do_not_know_changes_nothing(sender: Sender) -> None:
    sender.send("repository", repository_event("renamed", "someone/else", repository_id=77))
    assert WebhookDelivery.objects.get().status == "ignored"
    assert not AuditEvent.objects.filter(action__startswith="pro.atmos.installation").exists()


def test_a_redelivered_rename_has_no_second_effect(sender: Sender) -> None:
    sender.send("repository", repository_event("renamed", "Codertocat/infra"), guid="rename-1")
    sender.send("repository", repository_event("renamed", "Codertocat/infra"), guid="rename-1")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_REPOSITORY_MOVED).count() == 1
