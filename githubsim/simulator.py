"""The simulator as a process component: its state (``githubsim.state``) served over HTTP on loopback.

GitHub's behaviour reproduced here is described in the spec's github.md; the HTTP side lives in
``githubsim.api`` (REST API, OIDC issuer, control API) and ``githubsim.git_http`` (smart HTTP over TLS).
"""

from __future__ import annotations

import threading
from pathlib import Path

from githubsim.api import ApiServer
from githubsim.git_http import GitServer
from githubsim.server_base import SimulatorServer
from githubsim.state import SimulatorState
from githubsim.web import WebServer
from githubsim.webhooks import WebhookSender


class GitHubSimulator(SimulatorState):
    """A faithful, strict GitHub (App API, Actions OIDC issuer, git smart HTTP) on 127.0.0.1."""

    def __init__(self, state_dir: Path | None = None, *, persistent: bool = False) -> None:
        super().__init__(state_dir, persistent=persistent)
        self._servers: list[SimulatorServer] = []
        self._threads: list[threading.Thread] = []
        self.webhooks = WebhookSender(self)

    def start(self, port: int = 0, git_port: int = 0, web_port: int = 0) -> None:
        self._stopping.clear()
        api_server = ApiServer(("127.0.0.1", port), self)
        git_server = GitServer(("127.0.0.1", git_port), self)
        web_server = WebServer(("127.0.0.1", web_port), self)
        self.api_url = f"http://127.0.0.1:{api_server.server_address[1]}"
        self.issuer = f"{self.api_url}/oidc"
        self.git_host = f"127.0.0.1:{git_server.server_address[1]}"
        self.git_base_url = f"https://{self.git_host}"
        self.web_url = f"http://127.0.0.1:{web_server.server_address[1]}"
        self._servers = [api_server, git_server, web_server]
        self.webhooks.start()
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self.webhooks.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._servers = []

    def reset(self) -> None:
        self.webhooks.wait()  # a delivery still on its way must not land in the next test's record
        super().reset()

    def redeliver(self, guid: str) -> None:
        self.webhooks.redeliver(guid)

    def wait_for_deliveries(self) -> None:
        """Return once every webhook delivery so far was answered (or given up on after 10 s)."""
        self.webhooks.wait()
