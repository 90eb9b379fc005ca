"""Webhook deliveries, as GitHub sends them to an App's webhook URL.

Headers: ``X-GitHub-Event``, ``X-GitHub-Delivery`` (a GUID, the same on a redelivery),
``X-GitHub-Hook-ID``, ``X-GitHub-Hook-Installation-Target-Type``/``-ID``, ``X-Hub-Signature-256``
(HMAC-SHA256 of the raw body with the webhook secret) and a ``GitHub-Hookshot/…`` User-Agent. GitHub
gives up on a delivery after 10 s and never redelivers by itself; a redelivery is asked for
(https://docs.github.com/webhooks/using-webhooks/handling-failed-webhook-deliveries). Deliveries leave
from a thread of their own, so a receiver that calls the simulator back cannot deadlock a seeding call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from typing import Any

import requests

from githubsim.shapes import installation_json
from githubsim.state import Account, Event, PullRequest, Push, Repository, SimulatorState, iso

DELIVERY_TIMEOUT_SECONDS = 10
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024  # GitHub does not deliver larger payloads
HOOK_ID = 470000001
USER_AGENT = "GitHub-Hookshot/5a1b2c3"
SENDER = Account(login="octocat", id=583231, type="User")


class WebhookSender:
    """Turns the simulator's events into signed deliveries to ``sim.webhook_url`` (none when unset), each
    recorded in ``sim.webhook_deliveries`` with the receiver's answer."""

    def __init__(self, sim: SimulatorState) -> None:
        self.sim = sim
        self._bodies: dict[str, tuple[str, bytes]] = {}  # guid -> (event, raw body), for redeliveries
        self._queue: queue.Queue[tuple[dict[str, Any], bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._session.trust_env = False
        sim.subscribe(self.on_event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="githubsim-webhooks")
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=DELIVERY_TIMEOUT_SECONDS + 1)
            self._thread = None

    def on_event(self, event: Event) -> None:
        if not self.sim.webhook_url:
            return
        body = json.dumps(payload(self.sim, event)).encode()
        guid = str(uuid.uuid4())
        self._bodies[guid] = (event.name, body)
        self._enqueue(guid, event.name, body, redelivery=False)

    def redeliver(self, guid: str) -> None:
        """Send a delivery again, with the same GUID (GitHub's manual redelivery)."""
        if guid not in self._bodies:
            raise KeyError(f"no delivery {guid}")
        name, body = self._bodies[guid]
        self._enqueue(guid, name, body, redelivery=True)

    def wait(self) -> None:
        """Return once every delivery queued so far was sent (and answered or given up on)."""
        self._queue.join()

    def _enqueue(self, guid: str, name: str, body: bytes, *, redelivery: bool) -> None:
        record: dict[str, Any] = {
            "guid": guid,
            "event": name,
            "action": json.loads(body).get("action"),
            "redelivery": redelivery,
            "status_code": None,  # the receiver's answer; None while pending or when it never answered
            "error": "",
            "payload": json.loads(body),
        }
        self.sim.webhook_deliveries.append(record)
        if len(body) > MAX_PAYLOAD_BYTES:
            record["error"] = "payload over 25 MB: not delivered"
            return
        if self._thread is None:
            record["error"] = "the simulator is not serving: not delivered"
            return
        self._queue.put((record, body))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._send(*item)
            finally:
                self._queue.task_done()

    def _send(self, record: dict[str, Any], body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Event": record["event"],
            "X-GitHub-Delivery": record["guid"],
            "X-GitHub-Hook-ID": str(HOOK_ID),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(self.sim.app_id),
        }
        if self.sim.webhook_secret:
            headers["X-Hub-Signature-256"] = signature(self.sim.webhook_secret, body)
        try:
            response = self._session.post(
                self.sim.webhook_url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            return
        record["status_code"] = response.status_code


def signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: the hex HMAC-SHA256 of the raw body keyed with the webhook secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(sim: SimulatorState, event: Event) -> dict[str, Any]:
    """The body GitHub sends for ``event`` (shapes of GitHub's published webhook examples)."""
    sender = SENDER.as_json(sim.api_url)
    if event.name == "push" and event.push is not None:
        return _push(sim, event, event.push, sender)
    if event.name == "pull_request" and event.pull_request is not None:
        return _pull_request(sim, event, event.pull_request, sender)
    installation = installation_json(sim, event.installation)
    if event.name == "installation_repositories":
        items = [_repository_item(r) for r in event.repositories]
        return {
            "action": event.action,
            "installation": installation,
            "repository_selection": event.installation.repository_selection,
            "repositories_added": items if event.action == "added" else [],
            "repositories_removed": items if event.action == "removed" else [],
            "requester": None,
            "sender": sender,
        }
    body: dict[str, Any] = {"action": event.action, "installation": installation, "sender": sender}
    if event.action in ("created", "deleted", "new_permissions_accepted"):
        body["repositories"] = [_repository_item(r) for r in sim.installation_repositories(event.installation)]
    if event.action == "created":
        body["requester"] = None
    return body


def _repository_item(repo: Repository) -> dict[str, Any]:
    node_id = _node_id(f"010:Repository{repo.id}")
    return {"id": repo.id, "node_id": node_id, "name": repo.name, "full_name": repo.full_name, "private": repo.private}


def _push(sim: SimulatorState, event: Event, push: Push, sender: dict[str, Any]) -> dict[str, Any]:
    repo = push.repository
    html = f"https://github.com/{repo.full_name}"
    now = time.time()
    person = {"name": "octocat", "email": "octocat@users.noreply.github.com", "username": "octocat"}
    commit = {
        "id": push.after,
        "tree_id": "",
        "distinct": True,
        "message": push.message,
        "timestamp": iso(now).replace("Z", "+00:00"),
        "url": f"{html}/commit/{push.after}",
        "author": person,
        "committer": person,
        "added": list(push.added),
        "removed": list(push.removed),
        "modified": list(push.modified),
    }
    owner = {**repo.owner.as_json(sim.api_url), "name": repo.owner.login, "email": None}
    # A push payload's repository differs from the REST one: created_at and pushed_at are epoch integers.
    repository = {
        "id": repo.id,
        "node_id": _node_id(f"010:Repository{repo.id}"),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": owner,
        "html_url": html,
        "url": html,
        "default_branch": repo.default_branch,
        "master_branch": repo.default_branch,
        "created_at": int(repo.created_at),
        "updated_at": iso(now),
        "pushed_at": int(now),
        "visibility": "private" if repo.private else "public",
    }
    return {
        "ref": f"refs/heads/{push.branch or repo.default_branch}",
        "before": push.before or "0" * 40,
        "after": push.after,
        "repository": repository,
        "pusher": {"name": "octocat", "email": "octocat@users.noreply.github.com"},
        "sender": sender,
        "installation": {
            "id": event.installation.id,
            "node_id": _node_id(f"023:IntegrationInstallation{event.installation.id}"),
        },
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{html}/compare/{(push.before or '0' * 40)[:12]}...{push.after[:12]}",
        "commits": [commit],
        "head_commit": commit,
    }


def _pull_request(sim: SimulatorState, event: Event, pull: PullRequest, sender: dict[str, Any]) -> dict[str, Any]:
    [repo] = event.repositories
    repository = {
        **_repository_item(repo),
        "default_branch": repo.default_branch,
        "owner": repo.owner.as_json(sim.api_url),
    }
    html = f"https://github.com/{repo.full_name}/pull/{pull.number}"
    return {
        "action": event.action,
        "number": pull.number,
        "pull_request": {
            "url": f"{sim.api_url}/repos/{repo.full_name}/pulls/{pull.number}",
            "id": repo.id * 1000 + pull.number,
            "html_url": html,
            "number": pull.number,
            "state": "open",
            "title": f"Changes from {pull.head_branch}",
            "user": sender,
            "head": {"label": f"{repo.owner.login}:{pull.head_branch}", "ref": pull.head_branch,
                     "sha": pull.head_sha, "repo": repository},
            "base": {"label": f"{repo.owner.login}:{pull.base_branch}", "ref": pull.base_branch,
                     "sha": pull.base_sha, "repo": repository},
        },
        "repository": repository,
        "installation": {
            "id": event.installation.id,
            "node_id": _node_id(f"023:IntegrationInstallation{event.installation.id}"),
        },
        "sender": sender,
    }  # fmt: skip


def _node_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
