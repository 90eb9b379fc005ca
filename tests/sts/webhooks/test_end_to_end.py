"""The simulator delivers real webhooks to a running server; the very next mint sees their effect.

Celery runs eagerly here, so a delivery's work is done when the receiver has answered; the mint is
then asked over HTTP as a client would ask it.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from audit.models import AuditEvent
from sts.sessions import session_issue
from sts.webhooks.models import WebhookDelivery
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

from .conftest import SECRET

pytestmark = pytest.mark.django_db(transaction=True)

POLICY_PATH = ".atmos/pro/sts/default.yaml"
ADMITS_ACME_APP = (
    "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: default\n"
    'spec:\n  rules:\n    - match:\n        repository: "acme/app"\n'
)


class Stage:
    """A workspace owning the installations of `acme` (the caller's) and `initech` (a source's), with
    the records built by the simulator's own webhooks."""

    def __init__(self, sim: Any, server_url: str) -> None:
        self.sim, self.url = sim, server_url
        sim.configure_webhook(url=f"{server_url}/webhooks/github", secret=SECRET)
        self.workspace = Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
        self.acme = self.owned("acme")
        self.initech = self.owned("initech")
        self.caller_id = self.repository("acme/app", self.acme)
        self.repository("acme/modules", self.acme)
        self.repository("initech/modules", self.initech)

    def owned(self, account: str) -> int:
        github_id = self.sim.add_installation(account)
        GitHubInstallation.objects.create(
            github_id=github_id,
            workspace=self.workspace,
            account_login=account,
            account_id=github_id + 10_000,
            account_type="Organization",
            repository_selection="selected",
            permissions={"contents": "read", "metadata": "read"},
        )
        return github_id

    def repository(self, full_name: str, installation_id: int) -> int:
        github_id = self.sim.add_repository(full_name)
        self.sim.add_repository_to_installation(full_name, installation_id)  # delivers installation_repositories
        self.sim.wait_for_deliveries()
        return int(github_id)

    def mint(self, *sources: str) -> dict[str, Any]:
        identity = {
            "repository": "acme/app",
            "repository_id": str(self.caller_id),
            "repository_owner": "acme",
            "ref": "refs/heads/main",
            "sub": "repo:acme/app:ref:refs/heads/main",
        }
        session, _ = session_issue(workspace=self.workspace, identity=identity, request_id="req_e2e")
        response = requests.post(
            f"{self.url}/api/v1/sts",
            json={"sources": list(sources)},
            headers={"Authorization": f"Bearer {session}"},
            timeout=30,
        )
        body = response.json()
        assert response.status_code == 200, body
        return dict(body["data"])

    def granted(self, *sources: str) -> list[str]:
        return [name for token in self.mint(*sources)["tokens"] for name in token["repositories"]]

    def deliveries(self) -> list[dict[str, Any]]:
        self.sim.wait_for_deliveries()
        return self.sim.webhook_deliveries


@pytest.fixture
def stage(github_sim: Any, live_server: Any, settings: Any) -> Stage:
    settings.STS_POLICY_CACHE_SECONDS = 3600  # only a webhook can make a cached answer stale here
    return Stage(github_sim, live_server.url)


def test_the_simulators_webhooks_built_our_records_of_the_repositories(stage: Stage) -> None:
    assert set(InstallationRepository.objects.values_list("full_name", flat=True)) == {
        "acme/app",
        "acme/modules",
        "initech/modules",
    }
    assert all(delivery["status_code"] in (200, 202) for delivery in stage.deliveries())


def test_a_policy_pushed_admits_the_caller_on_the_next_mint_and_its_deletion_stops_the_one_after(stage: Stage) -> None:
    assert stage.mint("acme/modules")["excluded"] == [{"repo": "acme/modules", "reason": "no_trust_policy"}]

    stage.sim.put_file("acme/modules", POLICY_PATH, ADMITS_ACME_APP)
    stage.sim.wait_for_deliveries()
    assert stage.granted("acme/modules") == ["acme/modules"]

    stage.sim.delete_file("acme/modules", POLICY_PATH)
    stage.sim.wait_for_deliveries()
    assert stage.granted("acme/modules") == []
    assert AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_INVALIDATED).count() == 2


def test_a_push_elsewhere_keeps_the_cached_policy(stage: Stage) -> None:
    stage.sim.put_file("acme/modules", POLICY_PATH, ADMITS_ACME_APP)
    stage.sim.wait_for_deliveries()
    assert stage.granted("acme/modules") == ["acme/modules"]
    assert stage.sim.calls["contents"] >= 1  # the policy was read from GitHub, then cached
    stage.sim.reset_calls()

    stage.sim.put_file("acme/modules", "README.md", "hello")
    stage.sim.wait_for_deliveries()
    assert stage.granted("acme/modules") == ["acme/modules"]

    assert stage.sim.calls.get("contents", 0) == 0


def test_a_suspension_stops_the_next_mint_without_any_github_call(stage: Stage) -> None:
    stage.sim.put_file("initech/modules", POLICY_PATH, ADMITS_ACME_APP)
    stage.sim.wait_for_deliveries()
    assert stage.granted("initech/modules") == ["initech/modules"]

    stage.sim.suspend_installation(stage.initech)
    stage.sim.wait_for_deliveries()
    stage.sim.reset_calls()

    result = stage.mint("initech/modules")

    assert result["excluded"] == [{"repo": "initech/modules", "reason": "installation_suspended"}]
    assert result["tokens"] == []
    assert sum(stage.sim.calls.values()) == 0


def test_a_deleted_installation_mints_nothing(stage: Stage) -> None:
    stage.sim.put_file("initech/modules", POLICY_PATH, ADMITS_ACME_APP)
    stage.sim.delete_installation(stage.initech)
    stage.sim.wait_for_deliveries()

    assert not GitHubInstallation.objects.filter(github_id=stage.initech).exists()
    assert stage.granted("initech/modules") == []


def test_a_redelivered_delivery_has_no_second_effect(stage: Stage) -> None:
    stage.sim.suspend_installation(stage.initech)
    stage.sim.unsuspend_installation(stage.initech)
    [suspend] = [d for d in stage.deliveries() if d["action"] == "suspend"]

    stage.sim.redeliver(suspend["guid"])

    [*_, redelivery] = stage.deliveries()
    assert (redelivery["guid"], redelivery["redelivery"], redelivery["status_code"]) == (suspend["guid"], True, 200)
    assert not GitHubInstallation.objects.get(github_id=stage.initech).is_suspended
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_SUSPENDED).count() == 1
    assert WebhookDelivery.objects.get(guid=suspend["guid"]).attempts == 1


def test_a_delivery_with_a_wrong_secret_changes_nothing(stage: Stage) -> None:
    stage.sim.configure_webhook(url=f"{stage.url}/webhooks/github", secret="not our secret")
    stage.sim.suspend_installation(stage.initech)

    [*_, refused] = stage.deliveries()

    assert refused["status_code"] == 401
    assert not GitHubInstallation.objects.get(github_id=stage.initech).is_suspended
