"""Policy checks for policy authors: a push or a pull request that touches `.atmos/pro/sts/` gets a check
run named "Trust Policy Validation" on its head commit, with every changed policy file validated as the
mint would validate it.

`policy_check_queue` runs in the webhook delivery's transaction and only records what to check;
`policy_check_perform` runs in a Celery task, outside any transaction while it talks to GitHub, and is
idempotent per delivery: a retry continues the run it created (more annotations, by `PATCH`) instead of
creating another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from github_app.client import GitHubApp
from github_app.errors import GitHubFileTooLarge
from github_app.repository_checks import RepositoryCheck
from sts.models import PolicyCheck
from sts.policy.names import policy_name_of_path
from sts.policy.vocabulary import POLICY_DIRECTORY
from sts.policy_check_report import (
    CHECK_NAME,
    CheckOutput,
    FileVerdict,
    annotation_batches,
    check_output,
    file_verdict,
)
from sts.policy_index import policy_index_verdicts
from sts.policy_store import TOO_LARGE, PolicyFile, policy_file_of
from workspaces.models import GitHubInstallation

logger = logging.getLogger(__name__)

Status = PolicyCheck.Status

# One check reads at most this many policy files (one request each); with at most 51 problems listed per
# file, a run holds at most about a thousand annotations, 21 requests.
MAX_FILES_PER_CHECK = 20
# Paths of a push kept for its check: a push listing more paths under the folder is checked by listing it.
MAX_PATHS_KEPT = 1000
PATH_KEPT = 300


@dataclass(frozen=True)
class Targets:
    """What a check reads: policy paths (sorted), changed paths under the folder that are no policy file."""

    policies: list[str]
    not_policies: list[str]


def policy_check_queue(
    *,
    delivery_guid: str,
    installation: GitHubInstallation,
    repository_id: int,
    full_name: str,
    head_sha: str,
    paths: frozenset[str] | None = None,
    pull_request_number: int | None = None,
    to_default_branch: bool = False,
) -> PolicyCheck:
    """Records the check a delivery asks for (once per delivery). `paths`: what a push changed (None: it
    cannot show it, or a pull request, whose files GitHub lists)."""
    # A path longer than PATH_KEPT cannot be a policy file's (its name has at most 64 characters): it is
    # kept only to be named in the summary, so it is kept short.
    folder = sorted({path[:PATH_KEPT] for path in paths if _under_folder(path)}) if paths is not None else None
    check, _ = PolicyCheck.objects.get_or_create(
        delivery_guid=delivery_guid,
        defaults={
            "installation": installation,
            "repository_github_id": repository_id,
            "full_name": full_name,
            "head_sha": head_sha,
            "paths": folder if folder is None or len(folder) <= MAX_PATHS_KEPT else None,
            "pull_request_number": pull_request_number,
            "to_default_branch": to_default_branch,
        },
    )
    return check


def policy_check_perform(*, check_pk: int, app: GitHubApp | None = None) -> str:
    """Validates the check's files at its head commit and reports the run; returns the check's status.
    Raises the `GitHubError` family for the task to retry (what was reported so far is kept)."""
    check = PolicyCheck.objects.select_related("installation__workspace").filter(pk=check_pk).first()
    if check is None or check.status != Status.QUEUED:
        return check.status if check is not None else "missing"
    app = app or GitHubApp.from_settings()
    allow_write = check.installation.workspace.write_tokens_allowed()
    with RepositoryCheck(
        app,
        installation_id=check.installation.github_id,
        repository_id=check.repository_github_id,
        full_name=check.full_name,
    ) as repository:
        targets = _targets(check, repository)
        verdicts = [
            _verdict(repository, path, ref=check.head_sha, allow_write=allow_write)
            for path in targets.policies[:MAX_FILES_PER_CHECK]
        ]
        output = check_output(
            verdicts,
            not_policies=targets.not_policies,
            left_out=max(0, len(targets.policies) - MAX_FILES_PER_CHECK),
        )
        _report(check, repository, output)
    if check.to_default_branch:
        policy_index_verdicts(
            installation=check.installation,
            repository_id=check.repository_github_id,
            full_name=check.full_name,
            verdicts=verdicts,
        )
    PolicyCheck.objects.filter(pk=check.pk).update(status=Status.DONE, conclusion=output.conclusion)
    logger.info("Policy check %s of %s: %s", check.pk, check.full_name, output.conclusion)
    return Status.DONE


def policy_check_failed(*, check_pk: int, error_tag: str) -> None:
    """Records that a check could not be reported (retries spent, a permission missing, a bug)."""
    PolicyCheck.objects.filter(pk=check_pk).exclude(status=Status.DONE).update(
        status=Status.FAILED, error_tag=error_tag[:64]
    )


def _targets(check: PolicyCheck, repository: RepositoryCheck) -> Targets:
    paths: list[str] | None = None
    if check.pull_request_number is not None:
        files = repository.pull_request_files(check.pull_request_number)
        if files is not None:
            # A renamed file leaves its old path: that policy name is removed, the new one validated.
            paths = [path for file in files for path in (file.path, file.previous_path) if path]
    elif check.paths is not None:
        paths = [str(path) for path in check.paths]
    if paths is None:
        # Which files changed cannot be known: every policy file at the head commit is checked.
        listing = repository.directory_at(POLICY_DIRECTORY, ref=check.head_sha) or []
        paths = [entry.path for entry in listing]
    folder = sorted({path for path in paths if _under_folder(path)})
    policies = [path for path in folder if policy_name_of_path(path) is not None]
    return Targets(policies=policies, not_policies=[path for path in folder if path not in policies])


def _verdict(repository: RepositoryCheck, path: str, *, ref: str, allow_write: bool) -> FileVerdict:
    name = policy_name_of_path(path)
    assert name is not None
    try:
        answer = repository.file_at(path, ref=ref)
    except GitHubFileTooLarge:
        return file_verdict(
            path=path, policy_name=name, found=PolicyFile(None, TOO_LARGE), blob_sha="", allow_write=allow_write
        )
    found = policy_file_of(answer, path=path)
    return file_verdict(path=path, policy_name=name, found=found, blob_sha=answer.sha or "", allow_write=allow_write)


def _report(check: PolicyCheck, repository: RepositoryCheck, output: CheckOutput) -> None:
    """Creates the run, completed at once when its annotations fit one request; otherwise in progress
    with the first 50, then `PATCH`ed with 50 more each time, the last one completing it. Progress is
    recorded after each request, so a retry sends only what GitHub has not received."""
    batches = annotation_batches(output.annotations)
    sent = check.annotations_sent
    run_id = check.check_run_id
    if run_id is None:
        first = batches[0]
        body = {
            "name": CHECK_NAME,
            "head_sha": check.head_sha,
            "external_id": check.delivery_guid,
            "output": output.body(first),
            **_completion(output, last=len(batches) == 1),
        }
        run_id = repository.check_run_create(body)
        sent = len(first)
        with transaction.atomic():
            PolicyCheck.objects.filter(pk=check.pk).update(check_run_id=run_id, annotations_sent=sent)
    remaining = output.annotations[sent:]
    batches_left = annotation_batches(remaining) if remaining else []
    for index, batch in enumerate(batches_left):
        last = index == len(batches_left) - 1
        repository.check_run_update(run_id, {"output": output.body(batch), **_completion(output, last=last)})
        sent += len(batch)
        PolicyCheck.objects.filter(pk=check.pk).update(annotations_sent=sent)


def _completion(output: CheckOutput, *, last: bool) -> dict[str, str]:
    return {"status": "completed", "conclusion": output.conclusion} if last else {"status": "in_progress"}


def _under_folder(path: str) -> bool:
    return path.startswith(POLICY_DIRECTORY + "/")
