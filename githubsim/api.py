"""GitHub's REST API subset, the Actions OIDC issuer and the simulator's control API, on one HTTP port.

Behaviour follows GitHub's documentation (links per handler) and /work/shared/spec/github.md: errors are
``{"message", "documentation_url", "status"}``, every API response carries the rate-limit headers of the
credential that made it, and an installation's private repositories are invisible (404) to everyone else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

from githubsim.control import handle_control
from githubsim.gitstore import EXECUTABLE_MODE, FILE_MODE, SYMLINK_MODE, parse_tree
from githubsim.server_base import DOCS, Abort, Reply, SimulatorServer, error, not_found
from githubsim.shapes import installation_json, repository_json
from githubsim.state import PERMISSION_LEVELS, Installation, InstallationToken, Repository, SimulatorState, iso

DOC_APPS = "https://docs.github.com/rest/apps/apps"
DOC_TOKEN = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
DOC_CONTENTS = "https://docs.github.com/rest/repos/contents#get-repository-content"
DOC_JWT = "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app"
DOC_RATE = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
REASONS = {
    400: "Bad Request",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    429: "Too Many Requests",
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
DOC_REDIRECTS = "https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#follow-redirects"
# Larger files: 403 `too_large` with the default media type; "encoding": "none" and empty content with
# `application/vnd.github.object` (GitHub's 1 MB rule).
MAX_FILE_BYTES = 1024 * 1024
TOO_LARGE = (
    "This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via the API, "
    "but you can use the Git Data API to request blobs up to 100 MB in size."
)
REGULAR_FILE_MODES = (FILE_MODE, EXECUTABLE_MODE)


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
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


class ApiServer(SimulatorServer):
    def __init__(self, address: tuple[str, int], sim: SimulatorState) -> None:
        self.sim = sim
        super().__init__(address, ApiHandler)


class ApiHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle's algorithm on, a kept-alive connection
    # waits for the client's delayed ACK (~40 ms) before the body, which no real GitHub does.
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry no secret, but test output stays readable."""

    @property
    def sim(self) -> SimulatorState:
        return self.server.sim

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path, self.query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        self.body = self._read_body()
        if path.startswith("/_sim/"):
            self._send(handle_control(self.sim, self.command, path[len("/_sim/") :], self.body, self.client_address[0]))
            return
        endpoint, params = "unknown", {}
        for method, pattern, name in ROUTES:
            match = pattern.match(path)
            if match and method == self.command:
                endpoint, params = name, {k: unquote(v) if v else v for k, v in match.groupdict().items()}
                break
        self.credential: str | None = None
        self.endpoint = endpoint
        self.sim.count_call(endpoint)
        fault = self.sim.take_fault(endpoint) if endpoint != "unknown" else None
        if fault is not None and fault.kind in ("timeout", "reset"):
            self._drop(fault.kind)
            return
        try:
            if fault is not None:
                reply = self._fault_reply(fault)
            elif not endpoint.startswith("oidc_") and not self.headers.get("User-Agent"):
                # https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent
                reply = Reply(
                    403,
                    raw=b"Request forbidden by administrative rules. "
                    b"Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/"
                    b"resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other "
                    b"possible causes.\n",
                    headers={"Content-Type": "text/plain; charset=utf-8"},
                )
            elif endpoint == "unknown":
                reply = not_found()
            else:
                reply = getattr(self, f"ep_{endpoint}")(**self._by_name(params))
        except Abort as abort:
            reply = abort.reply
        if not endpoint.startswith("oidc_"):
            self._rate_headers(reply)
        self._send(reply)

    def _by_name(self, params: dict[str, str]) -> dict[str, str]:
        """Handlers take a repository by its current name; one addressed by id is found here (an id never
        moves, where a name can be renamed away)."""
        if "repository_id" not in params:
            return params
        rest = {k: v for k, v in params.items() if k != "repository_id"}
        repo = self.sim.repository_by_id(int(params["repository_id"]))
        if repo is None:
            raise Abort(not_found())
        return {**rest, "owner": repo.owner.login, "repo": repo.name}

    def _missing(self, owner: str, name: str, *, visible: bool | None = None, token: InstallationToken | None) -> Abort:
        """The answer for a name no repository has: 301 to the repository's id when it was renamed away
        (for a caller that may see it), else 404 (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#follow-redirects)."""
        moved = self.sim.renamed_to(f"{owner}/{name}")
        if moved is None or not (visible if visible is not None else self._can_see(moved, token)):
            return Abort(not_found())
        location = self.sim.api_url + re.sub(r"^/repos/[^/]+/[^/?]+", f"/repositories/{moved.id}", self.path)
        body = {"message": "Moved Permanently", "url": location, "documentation_url": DOC_REDIRECTS}
        return Abort(Reply(301, body, {"Location": location}))

    def _read_body(self) -> bytes:
        raw = self.headers.get("Content-Length") or "0"
        length = int(raw) if raw.isdigit() else 0
        if length > 10 * 1024 * 1024:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        if reply.raw is not None:
            data = reply.raw
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(reply.body, indent=2).encode()
        self.send_response(reply.status)
        if reply.body is not None and reply.raw is None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("X-GitHub-Request-Id", hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:20].upper())
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self, kind: str) -> None:
        if kind == "timeout":
            self.sim.hold()
        # Abortive close (RST), what a client sees when a load balancer drops the connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _fault_reply(self, fault: Any) -> Reply:
        now = int(time.time())
        if fault.kind == "rate_limit":
            reply = error(fault.status or 403, "API rate limit exceeded for installation.", DOC_RATE)
            reset = now + (fault.retry_after if fault.retry_after is not None else 60)
            reply.headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "_forced": "1"})
            return reply
        if fault.kind == "secondary_rate_limit":
            reply = error(
                fault.status or 403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                "If you reach out to GitHub Support for help, please include the request ID.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            )
            reply.headers["retry-after"] = str(fault.retry_after if fault.retry_after is not None else 60)
            return reply
        if fault.kind == "malformed":
            return Reply(
                fault.status or 200, raw=b"<html>upstream hiccup</html>", headers={"Content-Type": "text/html"}
            )
        status = int(fault.status)
        reply = error(status, REASONS.get(status, "Error"))
        if fault.retry_after is not None:
            reply.headers["retry-after"] = str(fault.retry_after)
        return reply

    def _rate_headers(self, reply: Reply) -> None:
        credential = self.credential or f"ip:{self.client_address[0]}"
        bucket = self.sim.rate_bucket(credential)
        # Conditional requests answered 304 do not count against the rate limit, nor does reading it
        # (https://docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user).
        if reply.status != 304 and self.endpoint != "rate_limit":
            with self.sim._lock:
                bucket.used = min(bucket.limit, bucket.used + 1)
        forced = reply.headers.pop("_forced", None)
        headers = {
            "x-ratelimit-limit": str(bucket.limit),
            "x-ratelimit-remaining": str(bucket.limit - bucket.used),
            "x-ratelimit-used": str(bucket.used),
            "x-ratelimit-reset": str(bucket.reset),
            "x-ratelimit-resource": "core",
        }
        if forced:
            headers.update({k: v for k, v in reply.headers.items() if k.startswith("x-ratelimit-")})
        reply.headers.update(headers)

    # -- authentication ------------------------------------------------------------------------

    def _bearer(self, *, schemes: tuple[str, ...] = ("bearer", "token")) -> str | None:
        """The credential of the Authorization header; installation tokens also work as ``token X``."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() not in schemes or not value.strip():
            raise Abort(error(401, "Bad credentials"))
        return value.strip()

    def _charge(self, credential: str) -> None:
        self.credential = credential
        bucket = self.sim.rate_bucket(credential)
        if bucket.used >= bucket.limit:
            reply = error(403, "API rate limit exceeded for installation.", DOC_RATE)
            raise Abort(reply)

    def _require_app(self) -> None:
        """App endpoints: only a valid App JWT (never an installation token)."""
        try:
            raw = self._bearer(schemes=("bearer",))  # an App JWT goes only as a Bearer
        except Abort:
            raw = ""
        if not raw:
            raise Abort(error(401, "A JSON web token could not be decoded", DOC_JWT))
        problem = self._app_jwt_problem(raw)
        if problem:
            raise Abort(error(401, problem, DOC_JWT))
        self._charge(f"app:{self.sim.app_id}")

    def _app_jwt_problem(self, raw: str) -> str | None:
        # https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
        undecodable = "A JSON web token could not be decoded"
        try:
            header = jwt.get_unverified_header(raw)
            unverified = jwt.decode(raw, options={"verify_signature": False})
        except jwt.PyJWTError:
            return undecodable
        if header.get("alg") != "RS256":
            return undecodable
        issuer = unverified.get("iss")
        if str(issuer) not in (str(self.sim.app_id), self.sim.client_id) or isinstance(issuer, bool):
            if not (isinstance(issuer, int) or (isinstance(issuer, str) and issuer.isdigit())):
                return "'Issuer' claim ('iss') must be an Integer"
            return "Integration not found"
        try:
            claims = jwt.decode(
                raw,
                self.sim.app_public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return undecodable
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        # An iat in the future is refused outright: GitHub's docs backdate iat by 60 s for that reason.
        if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now:
            return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            return (
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
                "the assertion expires"
            )
        # GitHub's own examples use iat = now - 60, exp = now + 600: the bound is on exp from now.
        if exp - now > 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def _require_token(self, *, optional: bool = False) -> InstallationToken | None:
        """Installation endpoints: a live installation token (an App JWT is not one)."""
        raw = self._bearer()
        if raw is None:
            if optional:
                self._charge(f"ip:{self.client_address[0]}")
                return None
            raise Abort(error(401, "Requires authentication"))
        record = self.sim.lookup_token(raw) if raw.startswith("ghs_") else None
        readiness = self.sim.token_readiness(record) if record is not None else "unknown"
        if record is None or readiness == "unknown":
            raise Abort(error(401, "Bad credentials"))
        self._charge(_installation_budget(record))
        installation = self.sim.installations.get(record.installation_id)
        if installation is None:
            raise Abort(error(401, "Bad credentials"))
        if installation.suspended_at is not None:
            raise Abort(error(403, "This installation has been suspended", DOC_APPS))
        if readiness == "permissions_pending":
            raise Abort(error(403, "Resource not accessible by integration", DOCS))
        return record

    # -- JSON shapes ---------------------------------------------------------------------------

    def _visible_repo(self, owner: str, name: str, token: InstallationToken | None) -> Repository:
        repo = self.sim.repositories.get(f"{owner}/{name}".lower())
        if repo is None:
            raise self._missing(owner, name, token=token)
        if not self._can_see(repo, token):
            raise Abort(not_found())
        return repo

    def _can_see(self, repo: Repository, token: InstallationToken | None) -> bool:
        # Public repositories are readable by any credential; private ones only through a covering token.
        return not repo.private or (token is not None and repo in self.sim.token_repositories(token))

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
        per_page = _int_param(self.query, "per_page", 30, minimum=1, maximum=100)
        page = _int_param(self.query, "page", 1, minimum=1, maximum=10**6)
        start = (page - 1) * per_page
        chunk = repos[start : start + per_page]
        last = max(1, -(-len(repos) // per_page))
        links = []
        base = f"{self.sim.api_url}/installation/repositories"
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        headers = {"Link": ", ".join(links)} if links else {}
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
        self._charge(_installation_budget(record))
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
        credential = _installation_budget(token) if token else f"ip:{self.client_address[0]}"
        bucket = self.sim.rate_bucket(credential)
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": bucket.limit - bucket.used,
            "reset": bucket.reset,
        }
        return Reply(200, {"resources": {"core": core}, "rate": core})


def _installation_budget(token: InstallationToken) -> str:
    # The rate limit belongs to the installation: every token of it, ours and the callers', spends one budget.
    return f"installation:{token.installation_id}"


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


def _int_param(query: dict[str, list[str]], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = (query.get(name) or [""])[0]
    if not raw.isdigit():
        return default
    return max(minimum, min(maximum, int(raw)))


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates
