"""git smart HTTP over TLS, done by the real ``git http-backend``; clone and fetch only.

Like github.com: HTTP basic auth whose password is an installation token (the user name is ignored,
conventionally ``x-access-token``), 401 with ``WWW-Authenticate: Basic realm="GitHub"`` otherwise, and
no dumb protocol. Stricter than github.com on purpose: public repositories need a token too, and
pushes are refused whatever the token (the tokens this project mints are read-only).
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import ssl
import struct
import subprocess
from typing import Any
from urllib.parse import unquote, urlsplit

from githubsim.gitstore import git_env
from githubsim.server_base import QuietHandler, SimulatorServer
from githubsim.state import Repository, SimulatorState

ROUTE = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/(?P<rest>info/refs|git-upload-pack|git-receive-pack)$"
)
MAX_BODY = 64 * 1024 * 1024


class GitServer(SimulatorServer):
    def __init__(self, address: tuple[str, int], sim: SimulatorState) -> None:
        self.sim = sim
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self.tls.load_cert_chain(sim._tls.cert_file, sim._tls.key_file)
        super().__init__(address, GitHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the request's own thread, so one slow client cannot stall accept().
        request.settimeout(30)
        try:
            tls_socket = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            GitHandler(tls_socket, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls_socket.close()


class GitHandler(QuietHandler):
    server: GitServer
    server_version = "GitHub Babel 2.0"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        sim = self.server.sim
        sim.count_call("git")
        fault = sim.take_fault("git")
        if fault is not None:
            if fault.kind in ("timeout", "reset"):
                if fault.kind == "timeout":
                    sim.hold()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            status = fault.status or (429 if fault.kind.endswith("rate_limit") else 500)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._plain(status, "Simulated failure\n", headers)
            return
        body = self._read_body()
        if body is None:
            self._plain(413, "Request too large\n")
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        match = ROUTE.match(parts.path)
        if match is None:
            self._plain(404, "Not Found\n")
            return
        service = parts.query
        rest = match["rest"]
        if rest == "info/refs" and service not in ("service=git-upload-pack", "service=git-receive-pack"):
            # GitHub has no dumb protocol.
            self._plain(403, "Please upgrade your git client.\nGitHub.com no longer supports git over dumb-http.\n")
            return
        repo = sim.repositories.get(f"{unquote(match['owner'])}/{unquote(match['repo'])}".lower())
        refusal = self._refusal(repo)
        if refusal == 401 or repo is None:
            self._plain(401, "Authentication required\n", {"WWW-Authenticate": 'Basic realm="GitHub"'})
            return
        if refusal == 403:
            self._plain(403, f"Permission to {repo.full_name}.git denied.\n")
            return
        if rest == "git-receive-pack" or service == "service=git-receive-pack":
            self._plain(403, f"Write access to repository not granted.\nPermission to {repo.full_name}.git denied.\n")
            return
        if self.command == "POST" and rest != "git-upload-pack":
            self._plain(404, "Not Found\n")
            return
        self._backend(repo, rest, service, body)

    def _refusal(self, repo: Repository | None) -> int | None:
        """None when the credentials may read ``repo``; else 401, or 403 while a fresh token's permissions
        are still being copied (the same propagation windows as the API's)."""
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return 401
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return 401
        _user, _, password = decoded.partition(":")
        sim = self.server.sim
        record = sim.lookup_token(password) if password.startswith("ghs_") else None
        if record is None or repo is None:
            return 401
        installation = sim.installations.get(record.installation_id)
        if installation is None or installation.suspended_at is not None:
            return 401
        readiness = sim.token_readiness(record)
        if readiness == "unknown":
            return 401
        if repo not in sim.token_repositories(record) or "contents" not in record.permissions:
            return 401
        return 403 if readiness == "permissions_pending" else None

    def _backend(self, repo: Repository, rest: str, query: str, body: bytes) -> None:
        env = git_env()
        project_root = repo.git.path.parent.parent
        env.update(
            {
                "GIT_PROJECT_ROOT": str(project_root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": f"/{repo.git.path.parent.name}/{repo.git.path.name}/{rest}",
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type") or "",
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "REMOTE_USER": "x-access-token",
                "SERVER_PROTOCOL": "HTTP/1.1",
            }
        )
        for header, variable in (("Git-Protocol", "HTTP_GIT_PROTOCOL"), ("Content-Encoding", "HTTP_CONTENT_ENCODING")):
            if self.headers.get(header):
                env[variable] = self.headers[header]
        done = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, check=False)
        head, sep, payload = done.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = done.stdout.partition(b"\n\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ")[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        if done.returncode != 0 and not sep:
            self._plain(500, "git http-backend failed\n")
            return
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
