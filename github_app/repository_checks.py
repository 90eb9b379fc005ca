"""What a policy check asks of GitHub about one repository: its files at a commit, a folder's listing,
the files a pull request changed, and the check run that reports on the commit.

A check works with an installation token of its own, scoped to the one repository it reports on and
to `checks: write` and `contents: read` (https://docs.github.com/en/rest/checks/runs#create-a-check-run),
revoked when the check is done. The folder listing of the index's scan uses the installation's reader
token like every other read. Tokens pass through here in memory only.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from github_app.answers import malformed_answer, repo_path
from github_app.client import FileContent, GitHubApp, file_content, while_propagating
from github_app.errors import GitHubError, GitHubNotFound

CHECK_PERMISSIONS = {"checks": "write", "contents": "read"}
# GitHub lists at most 3 000 files of a pull request
# (https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files); a list that long may be cut short.
PULL_REQUEST_FILES_LISTED_AT_MOST = 3000
PER_PAGE = 100

T = TypeVar("T")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryEntry:
    """One entry of a folder as the contents API lists it (`kind`: "file", "dir", "symlink", "submodule")."""

    name: str
    path: str
    sha: str
    kind: str


@dataclass(frozen=True)
class ChangedFile:
    """A file a pull request changed: `status` is GitHub's ("added", "modified", "removed", "renamed", ...)."""

    path: str
    status: str
    previous_path: str | None = None


def directory_list(
    app: GitHubApp, *, installation_id: int, full_name: str, repository_id: int | None, path: str
) -> list[DirectoryEntry] | None:
    """The entries of a folder on the default branch, with the installation's reader token; None when
    nothing is there or it is not a folder. One request: the contents API lists up to 1 000 entries."""
    where = f"/repositories/{int(repository_id)}" if repository_id is not None else f"/repos/{repo_path(full_name)}"
    response = app._as_reader(
        installation_id,
        functools.partial(
            app._call, "GET", f"{where}/contents/{quote(path)}", credential=f"installation:{installation_id}"
        ),
    )
    return None if response is None else _entries(response.json)


class RepositoryCheck:
    """One check's calls on one repository, with a token scoped to it; use as a context manager."""

    def __init__(self, app: GitHubApp, *, installation_id: int, repository_id: int, full_name: str) -> None:
        self.app = app
        self.installation_id = installation_id
        self.repository_id = repository_id
        self.full_name = full_name
        self._token: str | None = None
        self._issued_at = 0.0

    def __enter__(self) -> RepositoryCheck:
        created = self.app.create_installation_token(
            self.installation_id, repository_ids=[self.repository_id], permissions=CHECK_PERMISSIONS
        )
        self._token, self._issued_at = created.token, time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            self.app.revoke_installation_token(token, issued_at=self._issued_at)
        except GitHubError as error:
            # The token expires within the hour anyway; failing to revoke it is no reason to fail the check
            # (nor to hide the error the check itself may be leaving with).
            logger.warning("The check's token was not revoked: %s", type(error).__name__)

    def file_at(self, path: str, *, ref: str) -> FileContent:
        """https://docs.github.com/en/rest/repos/contents#get-repository-content at a commit."""
        response = self._call("GET", f"/contents/{quote(path)}", params={"ref": ref})
        return file_content(response, path=path)

    def directory_at(self, path: str, *, ref: str) -> list[DirectoryEntry] | None:
        response = self._call("GET", f"/contents/{quote(path)}", params={"ref": ref})
        return None if response is None else _entries(response.json)

    def pull_request_files(self, number: int) -> list[ChangedFile] | None:
        """Every file a pull request changed; None when GitHub may have listed only some of them."""
        found: list[ChangedFile] = []
        page = 1
        while True:
            response = self._call("GET", f"/pulls/{int(number)}/files", params={"per_page": PER_PAGE, "page": page})
            if response is None:
                raise GitHubNotFound(f"GitHub does not know pull request {number} of {self.full_name}.", status=404)
            with malformed_answer("pull request files"):
                batch = response.json()
                found.extend(
                    ChangedFile(
                        path=str(item["filename"]),
                        status=str(item["status"]),
                        previous_path=str(item["previous_filename"]) if item.get("previous_filename") else None,
                    )
                    for item in batch
                )
            if len(found) >= PULL_REQUEST_FILES_LISTED_AT_MOST:
                return None
            if 'rel="next"' not in response.headers.get("Link", "") or not batch:
                return found
            page += 1

    def check_run_create(self, body: Mapping[str, Any]) -> int:
        """https://docs.github.com/en/rest/checks/runs#create-a-check-run ; not retried (a POST)."""
        response = self._call("POST", "/check-runs", json=dict(body), retry=False)
        if response is None:
            raise GitHubNotFound(f"GitHub does not let us report on {self.full_name}.", status=404)
        with malformed_answer("check-runs"):
            return int(response.json()["id"])

    def check_run_update(self, run_id: int, body: Mapping[str, Any]) -> None:
        """https://docs.github.com/en/rest/checks/runs#update-a-check-run ; annotations sent are added."""
        response = self._call("PATCH", f"/check-runs/{int(run_id)}", json=dict(body), retry=False)
        if response is None:
            raise GitHubNotFound(f"GitHub no longer knows check run {run_id} of {self.full_name}.", status=404)

    def _call(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> Any:
        token = self._token
        if token is None:
            raise RuntimeError("RepositoryCheck is used outside its `with` block.")
        call: Callable[[], Any] = functools.partial(
            self.app._call,
            method,
            f"/repositories/{int(self.repository_id)}{path}",
            bearer=token,
            credential=f"installation:{self.installation_id}",
            retry=retry,
            **kwargs,
        )
        # A fresh token can answer 401/403 for a few seconds (GitHub's eventual consistency).
        return while_propagating(issued_at=self._issued_at, call=call)


def _entries(body_of: Callable[[], Any]) -> list[DirectoryEntry] | None:
    with malformed_answer("contents"):
        body = body_of()
        if not isinstance(body, list):
            return None  # a file (or a link) where the folder should be
        return [
            DirectoryEntry(name=str(item["name"]), path=str(item["path"]), sha=str(item["sha"]), kind=str(item["type"]))
            for item in body
        ]
