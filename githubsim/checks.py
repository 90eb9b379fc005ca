"""Check runs (https://docs.github.com/rest/checks/runs): an App reports on a commit with an
installation token that has ``checks: write``; at most 50 annotations per request, more by updating."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from githubsim.api_base import ApiHandlerBase, Route
from githubsim.server_base import Abort, Reply, error, not_found
from githubsim.state import CheckRun, InstallationToken, Repository, iso

DOC_CHECKS = "https://docs.github.com/rest/checks/runs"
STATUSES = ("queued", "in_progress", "completed")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out")
LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS = 50
MAX_TEXT = 65535
# A repository by name, or by the id that survives renames (as GitHub serves every repository route).
REPO = r"^/(?:repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)|repositories/(?P<repository_id>[0-9]+))/check-runs"

CHECK_ROUTES: list[Route] = [
    ("POST", re.compile(REPO + r"$"), "check_runs"),
    ("GET", re.compile(REPO + r"/(?P<check_run_id>[0-9]+)$"), "check_run"),
    ("PATCH", re.compile(REPO + r"/(?P<check_run_id>[0-9]+)$"), "check_run_update"),
    ("GET", re.compile(REPO + r"/(?P<check_run_id>[0-9]+)/annotations$"), "check_run_annotations"),
]


def _invalid(detail: str) -> Abort:
    return Abort(error(422, f"Invalid request.\n\n{detail}", DOC_CHECKS))


class CheckRunEndpoints(ApiHandlerBase):
    def ep_check_runs(self, owner: str, repo: str) -> Reply:
        # https://docs.github.com/rest/checks/runs#create-a-check-run
        found, _ = self._checks_writer(owner, repo)
        request = self._json_object()
        for name in ("name", "head_sha"):
            if not isinstance(request.get(name), str) or not request[name]:
                raise _invalid(f'"{name}" wasn\'t supplied.')
        if found.git.resolve(request["head_sha"]) != request["head_sha"].lower():
            return error(422, f"No commit found for SHA: {request['head_sha']}", DOC_CHECKS)
        fields = self._run_fields(request, status="queued")
        run = self.sim.add_check_run(
            repository_id=found.id,
            name=request["name"],
            head_sha=request["head_sha"].lower(),
            started_at=time.time(),
            annotations=[],
            output={},
            status="queued",
            conclusion=None,
            completed_at=None,
        )
        self._apply(run, fields)
        return Reply(201, self._run_json(found, run))

    def ep_check_run_update(self, owner: str, repo: str, check_run_id: str) -> Reply:
        # https://docs.github.com/rest/checks/runs#update-a-check-run ; annotations are appended.
        found, _ = self._checks_writer(owner, repo)
        run = self._run_of(found, check_run_id)
        request = self._json_object()
        if "name" in request and (not isinstance(request["name"], str) or not request["name"]):
            raise _invalid("For 'properties/name', is not a string.")
        fields = self._run_fields(request, status=run.status)
        if isinstance(request.get("name"), str):
            run.name = request["name"]
        self._apply(run, fields)
        return Reply(200, self._run_json(found, run))

    def ep_check_run(self, owner: str, repo: str, check_run_id: str) -> Reply:
        # https://docs.github.com/rest/checks/runs#get-a-check-run
        token = self._require_token()
        found = self._visible_repo(owner, repo, token)
        return Reply(200, self._run_json(found, self._run_of(found, check_run_id)))

    def ep_check_run_annotations(self, owner: str, repo: str, check_run_id: str) -> Reply:
        # https://docs.github.com/rest/checks/runs#list-check-run-annotations
        token = self._require_token()
        found = self._visible_repo(owner, repo, token)
        return Reply(200, list(self._run_of(found, check_run_id).annotations))

    # -- what a request may say ----------------------------------------------------------------

    def _checks_writer(self, owner: str, repo: str) -> tuple[Repository, InstallationToken]:
        token = self._require_token()
        assert token is not None
        found = self._visible_repo(owner, repo, token)
        if token.permissions.get("checks") != "write":
            raise Abort(error(403, "Resource not accessible by integration", DOC_CHECKS))
        return found, token

    def _json_object(self) -> dict[str, Any]:
        try:
            request = json.loads(self.body) if self.body.strip() else {}
        except ValueError:
            raise Abort(error(400, "Problems parsing JSON", DOC_CHECKS)) from None
        if not isinstance(request, dict):
            raise Abort(error(400, "Problems parsing JSON", DOC_CHECKS))
        return request

    def _run_fields(self, request: dict[str, Any], *, status: str) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if "status" in request:
            if request["status"] not in STATUSES:
                raise _invalid(f"For 'properties/status', {json.dumps(request['status'])} is not a valid value.")
            fields["status"] = request["status"]
        conclusion = request.get("conclusion")
        if conclusion is not None:
            if conclusion not in CONCLUSIONS:
                raise _invalid(f"For 'properties/conclusion', {json.dumps(conclusion)} is not a valid value.")
            fields["status"], fields["conclusion"] = "completed", conclusion  # a conclusion completes the run
        elif fields.get("status", status) == "completed":
            raise _invalid('"conclusion" wasn\'t supplied.')
        for name in ("external_id", "details_url"):
            if isinstance(request.get(name), str):
                fields[name] = request[name]
        output = request.get("output")
        if output is not None:
            fields["output"], fields["annotations"] = self._output(output)
        return fields

    def _output(self, output: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not isinstance(output, dict):
            raise _invalid("For 'properties/output', is not an object.")
        for name in ("title", "summary"):
            if not isinstance(output.get(name), str):
                raise _invalid(f'"{name}" wasn\'t supplied.')
        if len(output["summary"]) > MAX_TEXT or len(output.get("text") or "") > MAX_TEXT:
            raise _invalid(f"output.summary and output.text are limited to {MAX_TEXT} characters.")
        annotations = output.get("annotations") or []
        if not isinstance(annotations, list):
            raise _invalid("For 'properties/annotations', is not an array.")
        if len(annotations) > MAX_ANNOTATIONS:
            raise _invalid(f"No more than {MAX_ANNOTATIONS} items are allowed; {len(annotations)} were supplied.")
        for item in annotations:
            self._check_annotation(item)
        kept = {k: output[k] for k in ("title", "summary", "text") if isinstance(output.get(k), str)}
        return kept, [dict(item) for item in annotations]

    @staticmethod
    def _check_annotation(item: Any) -> None:
        if not isinstance(item, dict):
            raise _invalid("For 'items', is not an object.")
        for name in ("path", "message", "annotation_level"):
            if not isinstance(item.get(name), str) or not item[name]:
                raise _invalid(f'"{name}" wasn\'t supplied.')
        for name in ("start_line", "end_line"):
            if not isinstance(item.get(name), int) or isinstance(item[name], bool) or item[name] < 1:
                raise _invalid(f'"{name}" wasn\'t supplied.')
        if item["annotation_level"] not in LEVELS:
            raise _invalid(f"For 'properties/annotation_level', {json.dumps(item['annotation_level'])} is not valid.")
        if ("start_column" in item or "end_column" in item) and item["start_line"] != item["end_line"]:
            raise _invalid("start_column and end_column may only be used when start_line equals end_line.")

    def _apply(self, run: CheckRun, fields: dict[str, Any]) -> None:
        self.sim.update_check_run(run, annotations=fields.pop("annotations", []), **fields)

    def _run_of(self, repo: Repository, raw_id: str) -> CheckRun:
        run = self.sim.check_runs.get(int(raw_id))
        if run is None or run.repository_id != repo.id:
            raise Abort(not_found(DOC_CHECKS))
        return run

    def _run_json(self, repo: Repository, run: CheckRun) -> dict[str, Any]:
        api = self.sim.api_url
        url = f"{api}/repos/{repo.full_name}/check-runs/{run.id}"
        return {
            "id": run.id,
            "node_id": base64.b64encode(f"012:CheckRun{run.id}".encode()).decode(),
            "name": run.name,
            "head_sha": run.head_sha,
            "external_id": run.external_id,
            "url": url,
            "html_url": f"https://github.com/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at) if run.completed_at else None,
            "output": {
                "title": run.output.get("title"),
                "summary": run.output.get("summary"),
                "text": run.output.get("text"),
                "annotations_count": len(run.annotations),
                "annotations_url": f"{url}/annotations",
            },
            "check_suite": {"id": run.id // 3},
            "app": {"id": self.sim.app_id, "slug": self.sim.app_slug, "name": "Atmos Pro STS (simulator)"},
            "pull_requests": [],
        }
