"""A pull request's files (https://docs.github.com/rest/pulls/pulls#list-pull-requests-files): what the
head changed against the base, 30 a page by default and at most 100, and never more than 3 000 files."""

from __future__ import annotations

import re

from githubsim.api_base import ApiHandlerBase, Route
from githubsim.server_base import Abort, Reply, not_found
from githubsim.state import PullRequest, Repository

DOC_PULL_FILES = "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files"
MAX_FILES = 3000
REPO = r"^/(?:repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)|repositories/(?P<repository_id>[0-9]+))"

PULL_ROUTES: list[Route] = [
    ("GET", re.compile(REPO + r"/pulls/(?P<number>[0-9]+)/files$"), "pull_request_files"),
]


class PullRequestEndpoints(ApiHandlerBase):
    def ep_pull_request_files(self, owner: str, repo: str, number: str) -> Reply:
        token = self._require_token(optional=True)
        found = self._visible_repo(owner, repo, token)
        pull = self.sim.pull_requests.get((found.id, int(number)))
        if pull is None:
            raise Abort(not_found(DOC_PULL_FILES))
        files = self._changed(found, pull)[:MAX_FILES]
        per_page = _int(self.query, "per_page", 30, maximum=100)
        page = _int(self.query, "page", 1, maximum=10**6)
        chunk = files[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(files) // per_page))
        base = f"{self.sim.api_url}/repos/{found.full_name}/pulls/{pull.number}/files"
        links = []
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
        return Reply(200, chunk, {"Link": ", ".join(links)} if links else {})

    def _changed(self, repo: Repository, pull: PullRequest) -> list[dict[str, object]]:
        before, after = repo.git.flat_tree(pull.base_sha), repo.git.flat_tree(pull.head_sha)
        items = []
        for path in sorted(set(before) | set(after)):
            if path not in after:
                status, sha = "removed", before[path][1]
            elif path not in before:
                status, sha = "added", after[path][1]
            elif before[path] != after[path]:
                status, sha = "modified", after[path][1]
            else:
                continue
            items.append(
                {
                    "sha": sha,
                    "filename": path,
                    "status": status,
                    "additions": 0,
                    "deletions": 0,
                    "changes": 0,
                    "blob_url": f"https://github.com/{repo.full_name}/blob/{pull.head_sha}/{path}",
                    "raw_url": f"https://github.com/{repo.full_name}/raw/{pull.head_sha}/{path}",
                    "contents_url": f"{self.sim.api_url}/repos/{repo.full_name}/contents/{path}?ref={pull.head_sha}",
                }
            )
        return items


def _int(query: dict[str, list[str]], name: str, default: int, *, maximum: int) -> int:
    raw = (query.get(name) or [""])[0]
    return max(1, min(maximum, int(raw))) if raw.isdigit() else default
