"""The policy-name index: pushes to the default branch keep it at once, the check fills in each file's
validation, the reconciliation's scan lists every folder once and makes it complete; a mint without
`sources` then reads only the repositories that hold the policy it asks for."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from github_app.client import GitHubApp
from githubsim.gitstore import blob_sha
from sts.models import PolicyIndexEntry, PolicyIndexScan
from sts.policy_index import policy_index_scan
from sts.webhooks.tasks import installations_reconcile
from tests.factories import SAMPLE_POLICY, caller_claims, repository_record, session_create

from .policy_stage import FULL_NAME, Stage, bad_policy, stage_create

pytestmark = pytest.mark.django_db

DEFAULT = ".atmos/pro/sts/default.yaml"
DEPLOY = ".atmos/pro/sts/deploy.yaml"


@pytest.fixture
def stage(github_sim: Any, sender: Any) -> Stage:
    return stage_create(github_sim, sender)


def index() -> list[tuple[str, str, bool | None]]:
    return list(
        PolicyIndexEntry.objects.order_by("full_name", "policy_name").values_list("full_name", "policy_name", "valid")
    )


def policy_events() -> list[tuple[str, str, str]]:
    events = AuditEvent.objects.filter(
        action__in=["pro.atmos.policy.added", "pro.atmos.policy.changed", "pro.atmos.policy.removed"]
    )
    return [(e.action.rsplit(".", 1)[1], e.detail["policy_name"], e.detail["via"]) for e in events.order_by("sequence")]


def scan(stage: Stage) -> int:
    return policy_index_scan(installation=stage.installation, app=GitHubApp.from_settings(), request_id="req_scan")


def test_a_push_to_the_default_branch_records_each_policy_added_changed_and_removed(stage: Stage) -> None:
    stage.push([DEFAULT, DEPLOY], after=stage.commit({DEFAULT: SAMPLE_POLICY, DEPLOY: bad_policy(2, name="deploy")}))
    assert index() == [(FULL_NAME, "default", True), (FULL_NAME, "deploy", False)]

    stage.push([DEPLOY], after=stage.commit({DEPLOY: SAMPLE_POLICY.replace("name: default", "name: deploy")}))
    stage.sim.delete_file(FULL_NAME, DEFAULT)
    stage.push([], after=stage.head, removed=[DEFAULT])

    assert index() == [(FULL_NAME, "deploy", True)]
    assert policy_events() == [
        ("added", "default", "push"),
        ("added", "deploy", "push"),
        ("changed", "deploy", "push"),
        ("removed", "default", "push"),
    ]
    assert {e.workspace_public_id for e in AuditEvent.objects.all()} == {stage.installation.workspace.public_id}


def test_the_check_of_the_default_branch_records_each_files_validation(stage: Stage) -> None:
    text = bad_policy(5)
    stage.push([DEFAULT], after=stage.commit({DEFAULT: text}))

    entry = PolicyIndexEntry.objects.get()
    assert (entry.valid, entry.problem_count, entry.blob_sha) == (False, 5, blob_sha(text.encode()))
    assert [problem["line"] for problem in entry.problems] == [8, 10, 12]
    assert entry.validated_at is not None and entry.changed_at is not None


def test_a_push_to_another_branch_leaves_the_index_alone(stage: Stage) -> None:
    stage.push([DEFAULT], after=stage.commit({DEFAULT: SAMPLE_POLICY}, branch="feature"), ref="refs/heads/feature")
    assert index() == []


def test_a_scan_lists_each_folder_once_validates_what_it_found_and_completes_the_index(stage: Stage) -> None:
    stage.commit({DEFAULT: SAMPLE_POLICY, DEPLOY: bad_policy(1, name="deploy"), ".atmos/pro/sts/notes.md": "x"})
    repository_record(
        installation=stage.installation,
        github_id=stage.sim.add_repository("acme/empty", installation_id=stage.installation.github_id),
        full_name="acme/empty",
    )
    stage.sim.set_consistency(propagation_seconds=0)
    stage.sim.reset_calls()

    assert scan(stage) == 2

    assert index() == [(FULL_NAME, "default", True), (FULL_NAME, "deploy", False)]
    assert stage.sim.calls["contents"] == 2 + 2  # a listing per repository, a read per new policy file
    assert PolicyIndexScan.objects.get(installation=stage.installation).complete
    assert policy_events() == [("added", "default", "scan"), ("added", "deploy", "scan")]

    stage.sim.reset_calls()
    assert scan(stage) == 0
    assert stage.sim.calls["contents"] == 2  # nothing new to validate


def test_a_scan_repairs_what_lost_pushes_missed(stage: Stage) -> None:
    stage.commit({DEFAULT: SAMPLE_POLICY, DEPLOY: SAMPLE_POLICY.replace("name: default", "name: deploy")})
    scan(stage)
    # Pushed while no webhook reached us:
    stage.commit({DEFAULT: bad_policy(1)})
    stage.sim.delete_file(FULL_NAME, DEPLOY)

    assert scan(stage) == 2

    assert index() == [(FULL_NAME, "default", False)]
    assert policy_events()[-2:] == [("removed", "deploy", "scan"), ("changed", "default", "scan")]


def test_the_hourly_reconciliation_scans_every_installation(stage: Stage) -> None:
    stage.commit({DEFAULT: SAMPLE_POLICY})

    installations_reconcile()

    assert index() == [(FULL_NAME, "default", True)]
    assert PolicyIndexScan.objects.get(installation=stage.installation).complete


def test_a_repository_added_to_the_installation_is_scanned_before_the_index_counts_as_complete(
    stage: Stage,
) -> None:
    scan(stage)
    new_id = stage.sim.add_repository("acme/new", files={DEFAULT: SAMPLE_POLICY})
    stage.sim.add_repository_to_installation("acme/new", stage.installation.github_id)
    payload = {
        "action": "added",
        "installation": {
            "id": stage.installation.github_id,
            "account": {"login": "acme", "id": 1, "type": "Organization"},
            "repository_selection": "selected",
            "permissions": {"contents": "read"},
            "suspended_at": None,
        },
        "repositories_added": [{"id": new_id, "full_name": "acme/new", "name": "new"}],
        "repositories_removed": [],
    }

    stage.sender.send("installation_repositories", payload)

    assert ("acme/new", "default", True) in index()
    assert PolicyIndexScan.objects.get(installation=stage.installation).complete


def test_a_forced_push_has_the_index_scanned_again(stage: Stage) -> None:
    scan(stage)
    head = stage.commit({DEFAULT: SAMPLE_POLICY})

    stage.push(["README.md"], after=head, forced=True)

    assert index() == [(FULL_NAME, "default", True)]
    assert PolicyIndexScan.objects.get(installation=stage.installation).complete


class Caller:
    """acme/app, covered by the stage's installation, minting without `sources` through the API."""

    def __init__(self, stage: Stage, client: Any) -> None:
        self.stage, self.client = stage, client
        github_id = stage.sim.add_repository("acme/app", installation_id=stage.installation.github_id)
        repository_record(installation=stage.installation, github_id=github_id, full_name="acme/app")
        self.session = session_create(
            workspace=stage.installation.workspace, identity=caller_claims(repository_id=str(github_id))
        )

    def granted(self) -> list[str]:
        response = self.client.post(
            "/api/v1/sts", data={}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {self.session}"
        )
        assert response.status_code == 200, response.json()
        return sorted(name for token in response.json()["data"]["tokens"] for name in token["repositories"])


def test_a_mint_without_sources_reads_only_repositories_holding_the_policy_and_one_pushed_a_moment_ago(
    stage: Stage, client: Any
) -> None:
    caller = Caller(stage, client)
    for name in ("acme/other-1", "acme/other-2"):
        github_id = stage.sim.add_repository(name, installation_id=stage.installation.github_id)
        repository_record(installation=stage.installation, github_id=github_id, full_name=name)
    stage.commit({DEFAULT: SAMPLE_POLICY})
    scan(stage)
    stage.sim.set_consistency(propagation_seconds=0)
    stage.sim.reset_calls()

    assert caller.granted() == [FULL_NAME]
    assert stage.sim.calls["contents"] == 1  # acme/modules only: not acme/app, acme/other-1, acme/other-2

    stage.sim.put_file("acme/other-1", DEFAULT, SAMPLE_POLICY)
    head = str(stage.sim.repositories["acme/other-1"].git.resolve("main"))
    other_id = stage.sim.repositories["acme/other-1"].id
    stage.sender.send(
        "push",
        {
            "ref": "refs/heads/main",
            "after": head,
            "repository": {"id": other_id, "full_name": "acme/other-1", "default_branch": "main", "created_at": 1},
            "installation": {"id": stage.installation.github_id},
            "commits": [{"id": head, "added": [DEFAULT], "modified": [], "removed": []}],
        },
    )
    stage.sim.reset_calls()

    assert caller.granted() == ["acme/modules", "acme/other-1"]
    assert stage.sim.calls["contents"] == 1  # acme/other-1's new policy; acme/modules' is cached


def test_until_the_index_is_complete_a_mint_without_sources_reads_every_repository(stage: Stage, client: Any) -> None:
    caller = Caller(stage, client)
    stage.commit({DEFAULT: SAMPLE_POLICY})
    stage.sim.set_consistency(propagation_seconds=0)
    stage.sim.reset_calls()

    assert caller.granted() == [FULL_NAME]
    assert stage.sim.calls["contents"] == 2  # acme/app and acme/modules: no scan has completed the index


def test_a_repository_renamed_keeps_its_entries_under_the_new_name_and_one_transferred_away_loses_them(
    stage: Stage,
) -> None:
    stage.push([DEFAULT], after=stage.commit({DEFAULT: SAMPLE_POLICY}))
    moved = {"id": stage.repository_id, "full_name": "acme/renamed", "name": "renamed"}

    stage.sender.send("repository", {"action": "renamed", "repository": moved, "installation": {"id": 1}})
    assert index() == [("acme/renamed", "default", True)]

    transferred = {**moved, "full_name": "elsewhere/renamed"}
    stage.sender.send("repository", {"action": "transferred", "repository": transferred, "installation": {"id": 1}})
    assert index() == []
    assert policy_events()[-1] == ("removed", "default", "repository left the installation")


def test_a_repository_removed_from_the_installation_loses_its_entries(stage: Stage) -> None:
    stage.push([DEFAULT], after=stage.commit({DEFAULT: SAMPLE_POLICY}))
    payload = {
        "action": "removed",
        "installation": {
            "id": stage.installation.github_id,
            "account": {"login": "acme", "id": 1, "type": "Organization"},
            "repository_selection": "selected",
            "permissions": {"contents": "read"},
            "suspended_at": None,
        },
        "repositories_added": [],
        "repositories_removed": [{"id": stage.repository_id, "full_name": FULL_NAME, "name": "modules"}],
    }

    stage.sender.send("installation_repositories", payload)

    assert index() == []
    assert policy_events()[-1] == ("removed", "default", "repository left the installation")


@pytest.mark.parametrize("replaced", [".atmos/pro/sts", ".atmos"])
def test_a_push_replacing_the_folder_has_the_index_scanned_again(stage: Stage, replaced: str) -> None:
    stage.push([DEFAULT], after=stage.commit({DEFAULT: SAMPLE_POLICY}))
    stage.sim.delete_file(FULL_NAME, DEFAULT)
    if replaced == ".atmos":
        stage.commit({".atmos": "a file where the folder was"})

    stage.push([replaced], after=stage.head)

    assert index() == []
    assert PolicyIndexScan.objects.get(installation=stage.installation).complete
