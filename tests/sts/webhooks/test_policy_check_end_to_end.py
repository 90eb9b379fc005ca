"""End to end: the simulator delivers its own webhooks to a running server, which reports check runs back
to the simulator (Celery runs eagerly: the work is done when the receiver has answered)."""

from __future__ import annotations

from typing import Any

import pytest

from sts.models import PolicyIndexEntry
from workspaces.models import GitHubInstallation, Plan, Workspace

from .conftest import SECRET
from .policy_stage import CHECK_PERMISSIONS, bad_policy

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = ".atmos/pro/sts/default.yaml"


@pytest.fixture
def sim(github_sim: Any, live_server: Any) -> Any:
    github_sim.configure_webhook(url=f"{live_server.url}/webhooks/github", secret=SECRET)
    workspace = Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
    installation_id = github_sim.add_installation("acme", permissions=CHECK_PERMISSIONS)
    GitHubInstallation.objects.create(
        github_id=installation_id,
        workspace=workspace,
        account_login="acme",
        account_id=installation_id + 1,
        account_type="Organization",
        repository_selection="selected",
        permissions=CHECK_PERMISSIONS,
    )
    github_sim.add_repository("acme/modules")
    github_sim.add_repository_to_installation("acme/modules", installation_id)
    github_sim.wait_for_deliveries()
    return github_sim


def test_a_bad_policy_pushed_gets_a_failing_check_run_with_annotations_at_its_lines(sim: Any) -> None:
    sim.put_file("acme/modules", DEFAULT, bad_policy(2))
    sim.wait_for_deliveries()

    [run] = sim.check_runs.values()
    assert (run.name, run.head_sha) == ("Trust Policy Validation", sim.repositories["acme/modules"].git.resolve("main"))
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert [(a["path"], a["start_line"]) for a in run.annotations] == [(DEFAULT, 8), (DEFAULT, 10)]
    assert list(PolicyIndexEntry.objects.values_list("full_name", "policy_name", "valid")) == [
        ("acme/modules", "default", False)
    ]


def test_a_pull_request_gets_its_own_check_run_on_its_head(sim: Any) -> None:
    sim.put_file("acme/modules", DEFAULT, bad_policy(1), branch="feature")
    sim.open_pull_request("acme/modules", branch="feature")
    sim.wait_for_deliveries()

    runs = list(sim.check_runs.values())
    head = sim.repositories["acme/modules"].git.resolve("feature")
    assert [(run.head_sha, run.conclusion, len(run.annotations)) for run in runs] == [(head, "failure", 1)] * 2
    assert [d["event"] for d in sim.webhook_deliveries][-2:] == ["push", "pull_request"]
    assert not PolicyIndexEntry.objects.exists()  # not on the default branch
