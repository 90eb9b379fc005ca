"""What every HTTP face of the simulator shares: the threaded server and GitHub's reply shapes.

Errors are ``{"message", "documentation_url", "status"}`` as GitHub's REST API answers them.
"""

from __future__ import annotations

import ssl
import sys
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DOCS = "https://docs.github.com/rest"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


def error(status: int, message: str, documentation_url: str = DOCS, **extra: Any) -> Reply:
    return Reply(status, {"message": message, "documentation_url": documentation_url, "status": str(status), **extra})


def not_found(documentation_url: str = DOCS) -> Reply:
    return error(404, "Not Found", documentation_url)


class Abort(Exception):
    """Raised by a handler's checks: the reply is the answer, whatever the handler was doing."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeouts, resets, a test that is done) is not a simulator bug.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """What every face's handler shares: HTTP/1.1 keep-alive answered at once, and no request log."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle's algorithm on, a kept-alive connection
    # waits for the client's delayed ACK (~40 ms) before the body, which no real GitHub does.
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines stay out of test output (a query may carry a one-use code)."""
