"""GitHub's REST API subset, the Actions OIDC issuer and the simulator's control API, on one HTTP port.

The endpoints here are the App's and the installation's; what every endpoint shares (dispatch, faults,
rate limits, credentials) is ``githubsim.api_base``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from typing import Any

from githubsim.api_base import DOC_APPS, ApiHandlerBase, Route, StateServer, installation_budget, page_of
from githubsim.checks import CHECK_ROUTES, CheckRunEndpoints
from githubsim.gitstore import EXECUTABLE_MODE, FILE_MODE, SYMLINK_MODE, parse_tree
from githubsim.pulls import PULL_ROUTES, PullRequestEndpoints
from githubsim.server_base import Abort, Reply, error, not_found
from githubsim.shapes import installation_json, repository_json
from githubsim.state import PERMISSION_LEVELS, Installation, Repository, SimulatorState, iso
from githubsim.users import USER_ROUTES, UserEndpoints

DOC_TOKEN = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
DOC_CONTENTS = "https://docs.github.com/rest/repos/contents#get-repository-content"
# Larger files: 403 `too_large` with the default media type; "encoding": "none" and empty content with
# `application/vnd.github.object` (GitHub's 1 MB rule).
MAX_FILE_BYTES = 1024 * 1024
TOO_LARGE = (
    "This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via the API, "
    "but you can use the Git Data API to request blobs up to 100 MB in size."
)
REGULAR_FILE_MODES = (FILE_MODE, EXECUTABLE_MODE)


ROUTES: list[Route] = [
    ("GET", re.compile(r"^/oidc/\.well-known/openid-configuration$"), "oidc_discovery"),
    ("GET", re.compile(r"^/oidc/\.well-known/jwks$"), "oidc_jwks"),
    ("GET", re.compile(r"^/app$"), "app"),
    ("GET", re.compile(r"^/rate_limit$"), "rate_limit"),
    ("GET", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/installation$"), "repo_installation"),
    ("GET", re.compile(r"^/app/installations/(?P<id>[^/]+)$"), "installation"),
    ("POST", re.compile(r"^/app/installations/(?P<id>[^/]+)/access_tokens$"), "access_tokens"),
    ("GET", re.compile(r"^/installation/repositories$"), "installation_repositories"),
    ("DELETE", re.compile(r"^/installation/token$"), "revoke"),
    ("GET", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/contents(?:/(?P<path>.*))?$"), "contents"),
    ("GET", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)$"), "repository"),
    # GitHub also serves a repository by its id, which survives renames and cannot be taken over.
    ("GET", re.compile(r"^/repositories/(?P<repository_id>[0-9]+)/contents(?:/(?P<path>.*))?$"), "contents"),
    ("GET", re.compile(r"^/repositories/(?P<repository_id>[0-9]+)/installation$"), "repo_installation"),
    ("GET", re.compile(r"^/repositories/(?P<repository_id>[0-9]+)$"), "repository"),
]


class ApiServer(StateServer):
    def __init__(self, address: tuple[str, int], sim: SimulatorState) -> None:
        super().__init__(address, sim, ApiHandler)


class ApiHandler(CheckRunEndpoints, PullRequestEndpoints, UserEndpoints, ApiHandlerBase):
    routes = ROUTES + CHECK_ROUTES + PULL_ROUTES + USER_ROUTES

    # -- OIDC issuer ---------------------------------------------------------------------------

    def ep_oidc_discovery(self) -> Reply:
        return Reply(200, self.sim.openid_configuration(), {"Cache-Control": "max-age=3600"})

    def ep_oidc_jwks(self) -> Reply:
        return Reply(200, self.sim.jwks(), {"Cache-Control": "max-age=300"})

    # -- App endpoints (App JWT) ---------------------------------------------------------------

    def ep_app(self) -> Reply:
        self._require_app()
        return Reply(
            200,
            {
                "id": self.sim.app_id,
                "slug": self.sim.app_slug,
                "client_id": self.sim.client_id,
                "name": "Atmos Pro STS (simulator)",
                "permissions": {"contents": "read", "metadata": "read"},
                "events": ["push", "installation", "installation_repositories"],
                "installations_count": len(self.sim.installations),
            },
        )

    def ep_repo_installation(self, owner: str, repo: str) -> Reply:
        # https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
        self._require_app()
        found = self.sim.repositories.get(f"{owner}/{repo}".lower())
        if found is None:
            raise self._missing(owner, repo, visible=True, token=None)  # the App sees every repository
        installation = self.sim.installation_for(found)
        if installation is None:
            return not_found(
                "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app"
            )
        return Reply(200, installation_json(self.sim, installation))

    def _installation_or_404(self, raw_id: str) -> Installation:
        installation = self.sim.installations.get(int(raw_id)) if raw_id.isdigit() else None
        if installation is None:
            raise Abort(not_found(DOC_APPS))
        return installation

    def ep_installation(self, id: str) -> Reply:
        # https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app
        self._require_app()
        return Reply(200, installation_json(self.sim, self._installation_or_404(id)))

    def ep_access_tokens(self, id: str) -> Reply:
        # https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app
        self._require_app()
        installation = self._installation_or_404(id)
        if installation.suspended_at is not None:
            return error(403, "This installation has been suspended", DOC_TOKEN)
        try:
            request = json.loads(self.body) if self.body.strip() else {}
        except ValueError:
            return error(400, "Problems parsing JSON", DOC_TOKEN)
        if not isinstance(request, dict):
            return error(400, "Problems parsing JSON", DOC_TOKEN)
        covered = {r.name.lower(): r for r in self.sim.installation_repositories(installation)}
        covered_ids = {r.id for r in covered.values()}
        not_accessible = error(
            422,
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
            DOC_TOKEN,
        )
        wanted: set[int] | None = None
        names = request.get("repositories")
        if names is not None:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                return error(
                    422, "Invalid request.\n\nFor 'properties/repositories', is not an array of strings.", DOC_TOKEN
                )
            if len(names) > 500:
                return error(
                    422, "Invalid request.\n\nFor 'properties/repositories', has more than 500 items.", DOC_TOKEN
                )
            wanted = set()
            for name in names:
                repo = covered.get(name.lower())
                if repo is None:
                    return not_accessible
                wanted.add(repo.id)
        ids = request.get("repository_ids")
        if ids is not None:
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                return error(
                    422, "Invalid request.\n\nFor 'properties/repository_ids', is not an array of integers.", DOC_TOKEN
                )
            if len(ids) > 500:
                return error(
                    422, "Invalid request.\n\nFor 'properties/repository_ids', has more than 500 items.", DOC_TOKEN
                )
            if not set(ids) <= covered_ids:
                return not_accessible
            wanted = (wanted or set()) | set(ids)
        if not wanted:
            # GitHub treats an empty `repositories` / `repository_ids` list like no list at all: the token
            # covers every repository of the installation (https://github.com/framna-dk/framna-docs/pull/146).
            wanted = None
        requested = request.get("permissions")
        if requested is None:
            permissions = dict(installation.permissions)
        else:
            if not isinstance(requested, dict) or not requested:
                return error(422, "Invalid request.\n\nFor 'properties/permissions', is not an object.", DOC_TOKEN)
            for perm, level in requested.items():
                granted = installation.permissions.get(perm)
                if (
                    not isinstance(level, str)
                    or level not in PERMISSION_LEVELS
                    or granted is None
                    or PERMISSION_LEVELS[level] > PERMISSION_LEVELS[granted]
                ):
                    return error(422, "The permissions requested are not granted to this installation.", DOC_TOKEN)
            permissions = dict(requested)
        permissions.setdefault("metadata", "read")
        token, record = self.sim.mint_installation_token(
            installation, frozenset(wanted) if wanted is not None else None, permissions
        )
        body: dict[str, Any] = {
            "token": token,
            "expires_at": iso(record.expires_at),
            "permissions": permissions,
            "repository_selection": record.repository_selection,
        }
        if wanted is not None:
            body["repositories"] = [repository_json(self.sim, r) for r in self.sim.token_repositories(record)]
        return Reply(201, body)

    # -- installation endpoints (installation token) -------------------------------------------

    def ep_installation_repositories(self) -> Reply:
        # https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation
        token = self._require_token()
        assert token is not None
        repos = self.sim.token_repositories(token)
        chunk, headers = page_of(repos, self.query, base=f"{self.sim.api_url}/installation/repositories")
        body = {
            "total_count": len(repos),
            "repository_selection": token.repository_selection,
            "repositories": [repository_json(self.sim, r) for r in chunk],
        }
        return Reply(200, body, headers)

    def ep_revoke(self) -> Reply:
        # https://docs.github.com/rest/apps/installations#revoke-an-installation-access-token
        # A token GitHub does not know yet answers 401 here too, and stays valid: a 401 from this route
        # in a token's first seconds proves nothing. Revoking needs no permission, so the 403 window of
        # a fresh token does not apply.
        raw = self._bearer()
        record = self.sim.lookup_token(raw) if raw and raw.startswith("ghs_") else None
        if raw is None or record is None or self.sim.token_readiness(record) == "unknown":
            return error(401, "Bad credentials")
        self._charge(installation_budget(record))
        self.sim.revoke_token(raw)
        return Reply(204)

    def ep_repository(self, owner: str, repo: str) -> Reply:
        # https://docs.github.com/rest/repos/repos#get-a-repository
        token = self._require_token(optional=True)
        return Reply(200, repository_json(self.sim, self._visible_repo(owner, repo, token)))

    def ep_contents(self, owner: str, repo: str, path: str | None = None) -> Reply:
        # https://docs.github.com/rest/repos/contents#get-repository-content
        token = self._require_token(optional=True)
        found = self._visible_repo(owner, repo, token)
        # A token that reaches a private repository through metadata only may not read its files.
        if found.private and token is not None and "contents" not in token.permissions:
            return error(403, "Resource not accessible by integration", DOC_CONTENTS)
        clean = (path or "").strip("/")
        hostile = any(part in ("", ".", "..") for part in clean.split("/")) or any(ord(c) < 32 for c in clean)
        if clean and hostile:
            return not_found(DOC_CONTENTS)
        ref = (self.query.get("ref") or [found.default_branch])[0] or found.default_branch
        commit = found.git.resolve(ref)
        if commit is None:
            return error(404, f"No commit found for the ref {ref}", DOC_CONTENTS)
        entry = found.git.read_entry(commit, clean)
        if entry is None:
            return not_found(DOC_CONTENTS)
        mode, kind, sha, data = entry
        link_target = _link_target(clean, data) if mode == SYMLINK_MODE else None
        linked = found.git.read_entry(commit, link_target) if link_target else None
        if linked is not None and linked[0] in REGULAR_FILE_MODES:
            # A symlink to a regular file of the repository answers as that file, with the file's path.
            clean, (mode, kind, sha, data) = str(link_target), linked
        if mode == SYMLINK_MODE:
            body: Any = self._content_json(found, clean, sha, "symlink", len(data), ref)
            body["target"] = data.decode(errors="replace")
        elif kind == "tree":
            entries = parse_tree(data)
            sizes = found.git.object_sizes([e.sha for e in entries if e.kind == "blob"])
            body = [
                self._content_json(
                    found, f"{clean}/{e.name}" if clean else e.name, e.sha, e.kind, sizes.get(e.sha, 0), ref
                )
                for e in sorted(entries, key=lambda e: e.name)
            ]
        elif kind == "blob":
            object_media_type = "application/vnd.github.object" in (self.headers.get("Accept") or "")
            if len(data) > MAX_FILE_BYTES and not object_media_type:
                too_large = [{"resource": "Blob", "field": "data", "code": "too_large"}]
                return error(403, TOO_LARGE, DOC_CONTENTS, errors=too_large)
            body = self._content_json(found, clean, sha, "blob", len(data), ref)
            if len(data) <= MAX_FILE_BYTES:
                encoded = base64.b64encode(data).decode("ascii")
                body["content"] = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
                body["encoding"] = "base64"
            else:
                body["content"], body["encoding"] = "", "none"
        else:
            return not_found(DOC_CONTENTS)
        raw = json.dumps(body, indent=2).encode()
        # ETags are specific to the credential that asked: another token's first conditional read is a 200.
        asker = token.digest if token is not None else "anonymous"
        etag = '"' + hashlib.sha256(asker.encode() + b"\0" + raw).hexdigest()[:40] + '"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60", "Vary": "Accept, Authorization"}
        if _etag_matches(self.headers.get("If-None-Match"), etag):
            return Reply(304, None, headers)
        reply = Reply(200, body, headers, raw=raw)
        reply.headers["Content-Type"] = "application/json; charset=utf-8"
        return reply

    def _content_json(self, repo: Repository, path: str, sha: str, kind: str, size: int, ref: str) -> dict[str, Any]:
        api = self.sim.api_url
        kind_name = {"blob": "file", "tree": "dir", "commit": "submodule", "symlink": "symlink"}[kind]
        url = f"{api}/repos/{repo.full_name}/contents/{path}?ref={ref}"
        git_url = f"{api}/repos/{repo.full_name}/git/{'trees' if kind == 'tree' else 'blobs'}/{sha}"
        html_url = f"https://github.com/{repo.full_name}/{'tree' if kind == 'tree' else 'blob'}/{ref}/{path}"
        return {
            "type": kind_name,
            "size": size if kind == "blob" else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}"
            if kind in ("blob", "symlink")
            else None,
            "_links": {"self": url, "git": git_url, "html": html_url},
        }

    def ep_rate_limit(self) -> Reply:
        token = self._require_token(optional=True)
        credential = installation_budget(token) if token else f"ip:{self.client_address[0]}"
        bucket = self.sim.rate_bucket(credential)
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": bucket.limit - bucket.used,
            "reset": bucket.reset,
        }
        return Reply(200, {"resources": {"core": core}, "rate": core})


def _link_target(link: str, data: bytes) -> str | None:
    """The repository path a symlink at ``link`` points to, or None when it points outside the repository."""
    try:
        target = data.decode()
    except UnicodeDecodeError:
        return None
    if not target or target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
    if joined in (".", "..") or joined.startswith("../"):
        return None
    return joined


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates
