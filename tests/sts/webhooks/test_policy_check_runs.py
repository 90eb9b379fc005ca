"""A push or a pull request touching `.atmos/pro/sts/` gets a "Trust Policy Validation" check run on its
head commit, reported to the simulator (GitHub's rules: `checks: write`, at most 50 annotations a request)."""

from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import Retry

from sts.models import PolicyCheck, PolicyIndexEntry
from sts.policy_checks import policy_check_perform
from sts.tasks import MAX_RETRIES, policy_check_process
from sts.webhooks.models import WebhookDelivery
from tests.factories import SAMPLE_POLICY, policy

from .policy_stage import Stage, bad_policy, stage_create

pytestmark = pytest.mark.django_db

DEFAULT = ".atmos/pro/sts/default.yaml"
DEPLOY = ".atmos/pro/sts/deploy.yaml"


@pytest.fixture
def stage(github_sim: Any, sender: Any) -> Stage:
    return stage_create(github_sim, sender)


def test_a_bad_policy_pushed_gets_a_failing_run_with_an_annotation_at_each_problems_line(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(3)})

    assert stage.push([DEFAULT], after=head).status_code == 202

    [run] = stage.runs()
    assert (run.name, run.head_sha) == ("Trust Policy Validation", head)
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert [(a["path"], a["start_line"], a["end_line"]) for a in run.annotations] == [
        (DEFAULT, 8, 8),
        (DEFAULT, 10, 10),
        (DEFAULT, 12, 12),
    ]
    assert all(a["annotation_level"] == "failure" for a in run.annotations)
    assert "unknown claim name" in run.annotations[0]["message"]
    assert "spec.rules[0].match.reff0" in run.annotations[0]["message"]
    assert PolicyCheck.objects.get().status == "done"


def test_a_valid_policy_gets_a_success_that_says_in_words_what_it_admits(stage: Stage) -> None:
    head = stage.commit({DEFAULT: SAMPLE_POLICY})

    stage.push([DEFAULT], after=head)

    [run] = stage.runs()
    assert (run.conclusion, run.annotations) == ("success", [])
    summary = run.output["summary"]
    assert 'repository "acme/app" and ref "refs/heads/*" → contents: read' in summary
    assert "read access only" in summary


def test_write_is_a_failure_unless_the_workspace_allows_write_tokens(stage: Stage) -> None:
    writes = policy('repository: "acme/app"', permissions="        contents: write\n")
    head = stage.commit({DEFAULT: writes})
    stage.push([DEFAULT], after=head, guid="read-only")

    workspace = stage.installation.workspace
    workspace.allow_write_tokens = True
    workspace.save()
    stage.sender.send("push", _redelivered(stage, head), guid="write-allowed")

    first, second = stage.runs()
    assert first.conclusion == "failure"
    assert "write is refused" in first.annotations[0]["message"]
    assert (second.conclusion, "grants **write** access" in second.output["summary"]) == ("success", True)


def _redelivered(stage: Stage, head: str) -> dict[str, Any]:
    from .conftest import push_payload

    return push_payload(
        installation_id=stage.installation.github_id,
        repository_id=stage.repository_id,
        full_name="acme/modules",
        paths=[DEFAULT],
        after=head,
    )


def test_sixty_problems_go_in_two_requests_of_at_most_fifty_annotations(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(30), DEPLOY: bad_policy(30, name="deploy")})
    stage.sim.set_consistency(propagation_seconds=0)  # every call counted once: no token still propagating
    stage.sim.reset_calls()

    stage.push([DEFAULT, DEPLOY], after=head)

    [run] = stage.runs()
    assert (stage.sim.calls["check_runs"], stage.sim.calls["check_run_update"]) == (1, 1)
    assert len(run.annotations) == 60
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert {a["path"] for a in run.annotations[50:]} == {DEPLOY}
    assert PolicyCheck.objects.get().annotations_sent == 60


def test_a_removed_policy_is_reported_as_removed(stage: Stage) -> None:
    stage.commit({DEFAULT: SAMPLE_POLICY})
    stage.sim.delete_file("acme/modules", DEFAULT)

    stage.push([], after=stage.head, removed=[DEFAULT])

    [run] = stage.runs()
    assert run.conclusion == "success"
    assert "is removed" in run.output["summary"]


def test_a_push_to_another_branch_is_checked_on_that_branchs_head(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(1)}, branch="feature")

    stage.push([DEFAULT], after=head, ref="refs/heads/feature")

    [run] = stage.runs()
    assert (run.head_sha, run.conclusion) == (head, "failure")
    assert stage.head != head


def test_a_push_leaving_the_folder_alone_or_a_tag_gets_no_run(stage: Stage) -> None:
    head = stage.commit({"README.md": "hello", DEFAULT: bad_policy(1)})
    stage.push(["README.md"], after=head)
    stage.push([DEFAULT], after=head, ref="refs/tags/v1")
    stage.push([DEFAULT], after="0" * 40, ref="refs/heads/gone", deleted=True)
    assert stage.runs() == []


def test_a_forced_push_checks_every_policy_file_at_its_head(stage: Stage) -> None:
    head = stage.commit({DEFAULT: SAMPLE_POLICY, DEPLOY: bad_policy(2, name="deploy")})

    stage.push(["README.md"], after=head, forced=True)

    [run] = stage.runs()
    assert run.conclusion == "failure"
    assert {a["path"] for a in run.annotations} == {DEPLOY}
    assert "`.atmos/pro/sts/default.yaml`" in run.output["summary"]


def test_a_pull_request_is_checked_with_the_files_github_lists_for_it(stage: Stage) -> None:
    stage.commit({DEFAULT: SAMPLE_POLICY})
    head = stage.commit({DEPLOY: bad_policy(2, name="deploy"), "docs/x.md": "x"}, branch="feature")
    number = stage.sim.open_pull_request("acme/modules", branch="feature")
    stage.sim.set_consistency(propagation_seconds=0)  # every call counted once: no token still propagating
    stage.sim.reset_calls()

    assert stage.pull_request(number, head_sha=head).status_code == 202

    [run] = stage.runs()
    assert (run.head_sha, run.conclusion) == (head, "failure")
    assert {a["path"] for a in run.annotations} == {DEPLOY}
    assert stage.sim.calls["pull_request_files"] == 1
    assert stage.sim.calls["contents"] == 1  # only the policy the pull request changed


def test_a_pull_request_that_renames_a_policy_reports_the_old_name_removed(stage: Stage) -> None:
    stage.commit({DEFAULT: SAMPLE_POLICY})
    stage.sim.put_file("acme/modules", DEPLOY, policy('repository: "acme/app"', name="deploy"), branch="feature")
    stage.sim.delete_file("acme/modules", DEFAULT, branch="feature")
    number = stage.sim.open_pull_request("acme/modules", branch="feature")
    head = str(stage.sim.repositories["acme/modules"].git.resolve("feature"))

    stage.pull_request(number, head_sha=head)

    [run] = stage.runs()
    assert run.conclusion == "success"
    assert "`.atmos/pro/sts/default.yaml`** (policy `default`) is removed" in run.output["summary"]
    assert "`.atmos/pro/sts/deploy.yaml`** (policy `deploy`) is valid" in run.output["summary"]


def test_our_own_check_run_events_are_acknowledged_and_ignored(stage: Stage, settings: Any) -> None:
    head = stage.commit({DEFAULT: bad_policy(1)})
    stage.push([DEFAULT], after=head)
    [run] = stage.runs()
    for event, action in (("check_run", "created"), ("check_run", "completed"), ("check_suite", "completed")):
        payload = {
            "action": action,
            event: {"id": run.id, "head_sha": head, "app": {"id": int(settings.GITHUB_APP_ID)}},
            "repository": {"id": stage.repository_id, "full_name": "acme/modules"},
            "installation": {"id": stage.installation.github_id},
        }
        response = stage.sender.send(event, payload)
        assert response.status_code == 200

    assert len(stage.runs()) == 1
    assert PolicyCheck.objects.count() == 1
    assert set(WebhookDelivery.objects.filter(event__startswith="check_").values_list("status", flat=True)) == {
        "ignored"
    }


def test_a_redelivery_and_a_second_run_of_the_task_report_once(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(60)})
    payload = _redelivered(stage, head)
    stage.sender.send("push", payload, guid="push-1")
    stage.sender.send("push", payload, guid="push-1")

    assert policy_check_perform(check_pk=PolicyCheck.objects.get().pk) == "done"

    [run] = stage.runs()
    assert len(run.annotations) == 51  # 50 problems listed, and one line saying how many more there were


def test_a_failed_update_is_retried_and_continues_the_same_run(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(30), DEPLOY: bad_policy(30, name="deploy")})
    stage.sim.fault("check_run_update", status=502)

    # Run eagerly, the task hands its Retry to the caller; a worker would run it again after a pause.
    with pytest.raises(Retry):
        stage.push([DEFAULT, DEPLOY], after=head)
    check = PolicyCheck.objects.get()
    assert (check.status, check.annotations_sent) == ("queued", 50)

    assert policy_check_process.apply(args=[check.pk], retries=1, throw=False).successful()

    [run] = stage.runs()
    assert len(run.annotations) == 60
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert PolicyCheck.objects.get().status == "done"


def test_a_rate_limited_creation_is_retried_when_the_limit_resets(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(1)})
    stage.sim.fault("check_runs", kind="secondary_rate_limit", retry_after=0)

    with pytest.raises(Retry) as retry:
        stage.push([DEFAULT], after=head)
    assert "secondary rate limit" in str(retry.value.exc)  # Celery rebuilds the error as a GitHubError
    assert stage.runs() == []

    assert policy_check_process.apply(args=[PolicyCheck.objects.get().pk], retries=1, throw=False).successful()
    [run] = stage.runs()
    assert run.conclusion == "failure"


def test_a_check_whose_retries_are_spent_is_recorded_failed(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(1)})
    stage.sim.fault("check_runs", status=502, times=100)
    with pytest.raises(Retry):
        stage.push([DEFAULT], after=head)

    result = policy_check_process.apply(args=[PolicyCheck.objects.get().pk], retries=MAX_RETRIES, throw=False)

    assert result.failed()
    check = PolicyCheck.objects.get()
    assert (check.status, check.error_tag) == ("failed", "GitHubUnavailable")


def test_an_installation_without_checks_write_leaves_the_delivery_done_and_the_check_failed(
    github_sim: Any, sender: Any
) -> None:
    stage = stage_create(github_sim, sender, permissions={"contents": "read", "metadata": "read"})
    head = stage.commit({DEFAULT: bad_policy(1)})

    stage.push([DEFAULT], after=head)

    assert stage.runs() == []
    check = PolicyCheck.objects.get()
    assert (check.status, check.error_tag) == ("failed", "GitHubPermissionsNotGranted")
    assert WebhookDelivery.objects.get(event="push").status == "done"


def test_a_pull_request_of_a_repository_no_workspace_owns_is_ignored(stage: Stage) -> None:
    payload = {
        "action": "opened",
        "number": 1,
        "pull_request": {"head": {"sha": "a" * 40}},
        "repository": {"id": 999, "full_name": "else/where"},
        "installation": {"id": 77},
    }
    stage.sender.send("pull_request", payload)
    assert WebhookDelivery.objects.get().status == "ignored"
    assert PolicyCheck.objects.count() == 0


def test_paths_that_are_no_policy_file_are_never_read(stage: Stage) -> None:
    head = stage.commit({DEFAULT: SAMPLE_POLICY})
    hostile = [
        ".atmos/pro/sts/../../../etc/passwd.yaml",
        ".atmos/pro/sts/..",
        ".atmos/pro/sts/notes.yml",
        ".atmos/pro/sts/README.md",
        ".atmos/pro/sts/nested/deeper.yaml",
        ".atmos/pro/sts/" + "a" * 65 + ".yaml",
        ".atmos/pro/sts/sp ace.yaml",
        ".atmos/pro/sts/" + "x/" * 5000 + "default.yaml",
    ]
    stage.sim.set_consistency(propagation_seconds=0)
    stage.sim.reset_calls()

    stage.push([DEFAULT, *hostile], after=head)

    [run] = stage.runs()
    assert stage.sim.calls["contents"] == 1
    assert run.conclusion == "success"
    assert "8 changed paths under `.atmos/pro/sts/` are not policy files" in run.output["summary"]
    assert max(len(path) for path in PolicyCheck.objects.get().paths) == 300


def test_a_push_listing_thousands_of_paths_is_checked_by_listing_the_folder(stage: Stage) -> None:
    head = stage.commit({DEFAULT: bad_policy(1)})
    paths = [f".atmos/pro/sts/p{i}.yaml" for i in range(10_000)] + [f"src/{i}.tf" for i in range(10_000)]
    stage.sim.set_consistency(propagation_seconds=0)
    stage.sim.reset_calls()

    assert stage.push(paths, after=head).status_code == 202

    [run] = stage.runs()
    assert PolicyCheck.objects.get().paths is None
    # The check lists the folder and reads the one policy it holds; so does the index's scan, which the
    # push asked for instead of writing ten thousand index rows.
    assert stage.sim.calls["contents"] == 4
    assert [a["path"] for a in run.annotations] == [DEFAULT]
    assert list(PolicyIndexEntry.objects.values_list("policy_name", "valid")) == [("default", False)]


def test_one_check_reads_a_bounded_number_of_policy_files(stage: Stage) -> None:
    head = stage.commit({DEFAULT: SAMPLE_POLICY})
    paths = [f".atmos/pro/sts/p{i:02}.yaml" for i in range(30)]
    stage.sim.set_consistency(propagation_seconds=0)
    stage.sim.reset_calls()

    stage.push(paths, after=head)

    [run] = stage.runs()
    assert stage.sim.calls["contents"] == 20
    assert "10 more changed policy files were not checked" in run.output["summary"]
