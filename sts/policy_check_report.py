"""What the "Trust Policy Validation" check run says: each changed policy file judged, and the run's
output (conclusion, summary in words, one annotation per problem at its line).

Pure functions: no database and no network. GitHub takes at most 50 annotations per request
(https://docs.github.com/en/rest/checks/runs#update-a-check-run), so `annotation_batches` cuts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sts.policy import PolicyInvalid, Problem, parse_policy_bytes
from sts.policy.errors import excerpt
from sts.policy.vocabulary import FILE_PATH, POLICY_DIRECTORY
from sts.policy_store import PolicyFile

CHECK_NAME = "Trust Policy Validation"
ANNOTATIONS_PER_REQUEST = 50
# GitHub's limit on a check run's summary (https://docs.github.com/en/rest/checks/runs#create-a-check-run).
MAX_SUMMARY_CHARACTERS = 65535
MAX_ANNOTATION_MESSAGE = 64 * 1024
NOT_POLICIES_SHOWN = 5

State = Literal["valid", "invalid", "removed"]


@dataclass(frozen=True)
class FileVerdict:
    """One policy file at the commit checked: valid (with its rules in words), invalid (with its problems),
    or removed."""

    path: str
    policy_name: str
    state: State
    blob_sha: str = ""
    problems: tuple[Problem, ...] = ()
    rules: tuple[str, ...] = ()
    grants_write: bool = False


@dataclass(frozen=True)
class CheckOutput:
    conclusion: Literal["success", "failure"]
    title: str
    summary: str
    annotations: list[dict[str, Any]] = field(default_factory=list)

    def body(self, annotations: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"title": self.title, "summary": self.summary, "annotations": list(annotations)}


def file_verdict(*, path: str, policy_name: str, found: PolicyFile, blob_sha: str, allow_write: bool) -> FileVerdict:
    """Judges one file as the mint would: the same validator, RE2 budgets and the workspace's write switch."""
    if found.refusal is not None:
        return FileVerdict(path, policy_name, "invalid", blob_sha, (Problem(FILE_PATH, found.refusal),))
    if found.content is None:
        return FileVerdict(path, policy_name, "removed")
    try:
        policy = parse_policy_bytes(found.content, name=policy_name, allow_write=allow_write)
    except PolicyInvalid as invalid:
        return FileVerdict(path, policy_name, "invalid", blob_sha, tuple(invalid.problems))
    return FileVerdict(
        path, policy_name, "valid", blob_sha, rules=tuple(policy.in_words()), grants_write=policy.grants_write
    )


def check_output(
    verdicts: Sequence[FileVerdict], *, not_policies: Sequence[str] = (), left_out: int = 0
) -> CheckOutput:
    """The run's output: failure when any file is invalid. `not_policies` are changed paths under the
    folder that no mint ever reads; `left_out` counts policy files beyond what one check reads."""
    invalid = [verdict for verdict in verdicts if verdict.state == "invalid"]
    problems = sum(len(verdict.problems) for verdict in invalid)
    if invalid:
        title = f"{len(invalid)} invalid trust polic{'y' if len(invalid) == 1 else 'ies'}, {problems} problems"
    elif verdicts:
        title = f"{len(verdicts)} trust polic{'y' if len(verdicts) == 1 else 'ies'} checked: valid"
    else:
        title = "No trust policy changed"
    lines = [_file_summary(verdict) for verdict in verdicts]
    if left_out:
        lines.append(f"{left_out} more changed policy files were not checked: one check reads at most {len(verdicts)}.")
    if not_policies:
        shown = ", ".join(f"`{excerpt(path, 120)}`" for path in not_policies[:NOT_POLICIES_SHOWN])
        lines.append(
            f"{len(not_policies)} changed paths under `{POLICY_DIRECTORY}/` are not policy files (only "
            f"`{POLICY_DIRECTORY}/<name>.yaml` is ever read): {shown}."
        )
    summary = "\n\n".join(lines) or "This commit changes no file under `.atmos/pro/sts/`."
    if len(summary) > MAX_SUMMARY_CHARACTERS:
        summary = summary[: MAX_SUMMARY_CHARACTERS - 2] + " …"
    annotations = [_annotation(verdict.path, problem) for verdict in invalid for problem in verdict.problems]
    return CheckOutput("failure" if invalid else "success", title, summary, annotations)


def annotation_batches(annotations: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """At most ANNOTATIONS_PER_REQUEST a request; one (empty) batch when there is none."""
    size = ANNOTATIONS_PER_REQUEST
    return [list(annotations[start : start + size]) for start in range(0, len(annotations), size)] or [[]]


def _file_summary(verdict: FileVerdict) -> str:
    head = f"**`{verdict.path}`** (policy `{verdict.policy_name}`)"
    if verdict.state == "removed":
        return (
            f"{head} is removed: once this commit is on the default branch, no caller can mint with this policy "
            "name from this repository."
        )
    if verdict.state == "invalid":
        count = len(verdict.problems)
        return f"{head} is invalid: {count} problem{'' if count == 1 else 's'}, each annotated at its line."
    access = "grants **write** access" if verdict.grants_write else "grants read access only"
    rules = "\n".join(f"- {line}" for line in verdict.rules)
    return f"{head} is valid and {access}. It admits the workflows that match the first rule that holds:\n{rules}"


def _annotation(path: str, problem: Problem) -> dict[str, Any]:
    line = problem.line if problem.line is not None and problem.line > 0 else 1
    return {
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": "failure",
        "title": "Trust policy problem",
        "message": f"{problem.path}: {problem.message}"[:MAX_ANNOTATION_MESSAGE],
    }
