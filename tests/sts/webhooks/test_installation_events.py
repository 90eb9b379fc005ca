"""`installation` and `installation_repositories` keep owned installations current; others are ignored."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from sts.webhooks.models import WebhookDelivery
from workspaces.models import GitHubInstallation, InstallationRepository

from .conftest import Sender, installation_payload, owned_installation

pytestmark = pytest.mark.django_db

REPOS = {11: "Codertocat/a", 12: "Codertocat/b"}


def listed(*pairs: tuple[int, str]) -> list[dict]:
    return [
        {"id": github_id, "full_name": name, "name": name.split("/")[1], "private": True} for github_id, name in pairs
    ]


def names(github_id: int) -> list[str]:
    return sorted(
        InstallationRepository.objects.filter(installation__github_id=github_id).values_list("full_name", flat=True)
    )


def audited(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_suspend_and_unsuspend_follow_github_and_are_audited(sender: Sender) -> None:
    installation = owned_installation(42, repositories=REPOS)

    sender.send("installation", installation_payload("suspend", 42))
    assert GitHubInstallation.objects.get(pk=installation.pk).is_suspended
    sender.send("installation", installation_payload("unsuspend", 42))
    assert not GitHubInstallation.objects.get(pk=installation.pk).is_suspended

    [suspended] = audited(AuditEvent.Action.INSTALLATION_SUSPENDED)
    assert suspended.workspace_public_id == installation.workspace.public_id
    assert suspended.detail["installation_id"] == 42
    assert (suspended.detail["old"]["suspended"], suspended.detail["new"]["suspended"]) == (False, True)
    assert len(audited(AuditEvent.Action.INSTALLATION_UNSUSPENDED)) == 1


def test_a_deleted_installation_is_forgotten_with_its_repositories(sender: Sender) -> None:
    owned_installation(42, repositories=REPOS)

    response = sender.send("installation", installation_payload("deleted", 42, repositories=listed(*REPOS.items())))

    assert response.status_code == 202
    assert not GitHubInstallation.objects.filter(github_id=42).exists()
    assert not InstallationRepository.objects.exists()
    [event] = audited(AuditEvent.Action.INSTALLATION_DELETED)
    assert event.detail["new"] is None


def test_new_permissions_accepted_are_recorded(sender: Sender) -> None:
    owned_installation(42)
    payload = installation_payload("new_permissions_accepted", 42, repositories=[])
    payload["installation"]["permissions"] = {"contents": "read", "metadata": "read", "checks": "write"}

    sender.send("installation", payload)

    assert GitHubInstallation.objects.get(github_id=42).permissions["checks"] == "write"
    [event] = audited(AuditEvent.Action.INSTALLATION_PERMISSIONS_ACCEPTED)
    assert event.detail["new"]["permissions"]["checks"] == "write"


def test_created_for_an_owned_installation_refreshes_it_and_its_repositories(sender: Sender) -> None:
    owned_installation(42, repositories=REPOS)

    sender.send(
        "installation",
        installation_payload("created", 42, repositories=listed((12, "Codertocat/b2"), (13, "Codertocat/c"))),
    )

    assert names(42) == ["Codertocat/b2", "Codertocat/c"]
    assert InstallationRepository.objects.get(github_id=13).full_name_key == "codertocat/c"


def test_repositories_added_and_removed_follow_github(sender: Sender) -> None:
    owned_installation(42, repositories=REPOS)

    sender.send(
        "installation_repositories",
        {
            **installation_payload("added", 42),
            "repositories_added": listed((13, "Codertocat/C")),
            "repositories_removed": [],
        },
    )
    sender.send(
        "installation_repositories",
        {
            **installation_payload("removed", 42),
            "repositories_added": [],
            "repositories_removed": listed((11, "Codertocat/a")),
        },
    )

    assert names(42) == ["Codertocat/C", "Codertocat/b"]
    assert InstallationRepository.objects.filter(full_name_key="codertocat/c").exists()
    changes = [event.detail for event in audited(AuditEvent.Action.INSTALLATION_REPOSITORIES_CHANGED)]
    assert sorted((change["added"], change["removed"]) for change in changes) == [
        ([], ["Codertocat/a"]),
        (["Codertocat/C"], []),
    ]


def test_adding_a_repository_twice_keeps_one_row(sender: Sender) -> None:
    owned_installation(42, repositories=REPOS)
    payload = {
        **installation_payload("added", 42),
        "repositories_added": listed((11, "Codertocat/a"), (11, "Codertocat/a")),
    }

    assert sender.send("installation_repositories", payload).status_code == 202

    assert names(42) == ["Codertocat/a", "Codertocat/b"]


@pytest.mark.parametrize("action", ["created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"])
def test_an_installation_no_workspace_owns_is_acknowledged_and_ignored(sender: Sender, action: str) -> None:
    owned_installation(42, repositories=REPOS)
    guid = f"g-{action}".replace("_", "-")

    response = sender.send(
        "installation", installation_payload(action, 999, repositories=listed((11, "Codertocat/a"))), guid=guid
    )

    assert response.status_code == 202
    assert WebhookDelivery.objects.get(guid=guid).status == "ignored"
    assert not GitHubInstallation.objects.filter(github_id=999).exists()
    assert names(42) == ["Codertocat/a", "Codertocat/b"]
    assert not AuditEvent.objects.filter(action__startswith="pro.atmos.installation").exists()


def test_repositories_of_an_installation_no_workspace_owns_are_ignored(sender: Sender) -> None:
    sender.send(
        "installation_repositories",
        {**installation_payload("added", 999), "repositories_added": listed((11, "x/a")), "repositories_removed": []},
    )
    assert not InstallationRepository.objects.exists()


def test_an_action_we_do_not_act_on_is_acknowledged(sender: Sender) -> None:
    owned_installation(42)
    response = sender.send("installation", installation_payload("new_action_from_the_future", 42))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
