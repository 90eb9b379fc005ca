"""Webhook deliveries: GitHub's headers and signature, the fixtures' shapes, no automatic redelivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from githubsim import GitHubSimulator
from githubsim.client import SimulatorClient
from githubsim.webhooks import signature

# GitHub's published examples (octokit/webhooks, MIT licence; see SOURCE.md there), unchanged.
FIXTURES = Path(__file__).parent / "webhook_examples"
SECRET = "It's a Secret to Everybody"
# Keys some of GitHub's examples carry for accounts we do not model (an organization or enterprise sender).
UNMODELLED = {"organization", "enterprise"}


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answer: int = 200


@pytest.fixture
def receiver(github_sim: GitHubSimulator) -> Iterator[Receiver]:
    got = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.requests.append((dict(self.headers), body))
            self.send_response(got.answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Silent."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/github"
    github_sim.configure_webhook(url=got.url, secret=SECRET)
    try:
        yield got
    finally:
        github_sim.wait_for_deliveries()
        server.shutdown()
        server.server_close()


def delivered(sim: GitHubSimulator, receiver: Receiver) -> list[tuple[dict[str, str], dict[str, Any]]]:
    sim.wait_for_deliveries()
    return [(headers, json.loads(body)) for headers, body in receiver.requests]


def test_the_signature_matches_githubs_published_vector() -> None:
    assert (
        signature(SECRET, b"Hello, World!") == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_a_push_is_delivered_with_githubs_headers_and_a_valid_signature(
    github_sim: GitHubSimulator, receiver: Receiver
) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id)
    github_sim.wait_for_deliveries()
    receiver.requests.clear()

    github_sim.put_file("acme/infra", ".atmos/pro/sts/default.yaml", "version: 1\n")

    [(headers, body)] = delivered(github_sim, receiver)
    raw = receiver.requests[0][1]
    assert headers["X-GitHub-Event"] == "push"
    assert len(headers["X-GitHub-Delivery"]) == 36
    assert headers["X-GitHub-Hook-ID"].isdigit()
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(github_sim.app_id)
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
    assert body["ref"] == "refs/heads/main" and body["installation"]["id"] == installation_id
    assert body["commits"][0]["added"] == [".atmos/pro/sts/default.yaml"]
    assert body["after"] == github_sim.repositories["acme/infra"].git.resolve("main")
    assert isinstance(body["repository"]["created_at"], int)  # an integer in push payloads, as in GitHub's


def test_modifying_and_deleting_a_file_are_pushes_that_say_so(github_sim: GitHubSimulator, receiver: Receiver) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id, files={"a.yaml": "a"})
    github_sim.wait_for_deliveries()
    receiver.requests.clear()

    github_sim.put_file("acme/infra", "a.yaml", "b")
    github_sim.delete_file("acme/infra", "a.yaml")

    pushes = [body["commits"][0] for _, body in delivered(github_sim, receiver)]
    assert [(c["modified"], c["removed"]) for c in pushes] == [(["a.yaml"], []), ([], ["a.yaml"])]


def test_a_push_to_a_repository_without_the_app_is_not_delivered(
    github_sim: GitHubSimulator, receiver: Receiver
) -> None:
    github_sim.add_repository("acme/lonely")
    github_sim.put_file("acme/lonely", "a.txt", "a")

    assert delivered(github_sim, receiver) == []


def test_installation_events_follow_the_installation(github_sim: GitHubSimulator, receiver: Receiver) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra")
    github_sim.add_repository_to_installation("acme/infra", installation_id)
    github_sim.remove_repository_from_installation("acme/infra", installation_id)
    github_sim.suspend_installation(installation_id)
    github_sim.unsuspend_installation(installation_id)
    github_sim.accept_new_permissions(installation_id, {"contents": "read", "checks": "write"})
    github_sim.delete_installation(installation_id)

    seen = [(h["X-GitHub-Event"], b["action"]) for h, b in delivered(github_sim, receiver)]

    assert seen == [
        ("installation", "created"),
        ("installation_repositories", "added"),
        ("installation_repositories", "removed"),
        ("installation", "suspend"),
        ("installation", "unsuspend"),
        ("installation", "new_permissions_accepted"),
        ("installation", "deleted"),
    ]
    added = delivered(github_sim, receiver)[1][1]
    assert added["repositories_added"][0]["full_name"] == "acme/infra"
    assert set(added["repositories_added"][0]) == {"id", "node_id", "name", "full_name", "private"}


def test_every_example_of_github_is_there() -> None:
    assert len(list(FIXTURES.glob("*/*.json"))) == 14


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_payloads_carry_the_keys_of_githubs_examples(
    github_sim: GitHubSimulator, receiver: Receiver, fixture: Path
) -> None:
    example = json.loads(fixture.read_text())
    event, action = fixture.parent.name, example.get("action")
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id)
    {
        ("installation", "deleted"): lambda: github_sim.delete_installation(installation_id),
        ("installation", "suspend"): lambda: github_sim.suspend_installation(installation_id),
        ("installation", "unsuspend"): lambda: github_sim.unsuspend_installation(installation_id),
        ("installation", "new_permissions_accepted"): lambda: github_sim.accept_new_permissions(
            installation_id, {"contents": "read"}
        ),
        ("installation_repositories", "removed"): lambda: github_sim.remove_repository_from_installation(
            "acme/infra", installation_id
        ),
        ("push", None): lambda: github_sim.put_file("acme/infra", "a.txt", "a"),
    }.get((event, action), lambda: None)()

    ours = [b for h, b in delivered(github_sim, receiver) if h["X-GitHub-Event"] == event and b.get("action") == action]

    assert ours, f"no {event}.{action} delivered"
    assert set(example) - UNMODELLED <= set(ours[-1])
    if event == "push":
        assert type(ours[-1]["repository"]["created_at"]) is type(example["repository"]["created_at"])


def test_a_failed_delivery_is_not_redelivered_until_asked(github_sim: GitHubSimulator, receiver: Receiver) -> None:
    receiver.answer = 500
    github_sim.add_installation("acme")
    [(headers, _)] = delivered(github_sim, receiver)
    assert [d["status_code"] for d in github_sim.webhook_deliveries] == [500]

    receiver.answer = 202
    github_sim.redeliver(headers["X-GitHub-Delivery"])

    second = delivered(github_sim, receiver)[1][0]
    assert second["X-GitHub-Delivery"] == headers["X-GitHub-Delivery"]
    assert [(d["status_code"], d["redelivery"]) for d in github_sim.webhook_deliveries] == [(500, False), (202, True)]


def test_without_a_secret_a_delivery_is_unsigned(github_sim: GitHubSimulator, receiver: Receiver) -> None:
    github_sim.configure_webhook(url=receiver.url, secret="")
    github_sim.add_installation("acme")

    [(headers, _)] = delivered(github_sim, receiver)

    assert "X-Hub-Signature-256" not in headers


def test_without_a_webhook_url_nothing_is_delivered(github_sim: GitHubSimulator) -> None:
    github_sim.add_installation("acme")
    github_sim.wait_for_deliveries()

    assert github_sim.webhook_deliveries == []


def test_an_unreachable_receiver_is_recorded_as_such(github_sim: GitHubSimulator) -> None:
    github_sim.configure_webhook(url="http://127.0.0.1:9/nowhere", secret=SECRET)
    github_sim.add_installation("acme")
    github_sim.wait_for_deliveries()

    [record] = github_sim.webhook_deliveries
    assert record["status_code"] is None and record["error"]


def test_the_control_api_configures_and_reads_deliveries(github_sim: GitHubSimulator, receiver: Receiver) -> None:
    client = SimulatorClient(github_sim.api_url)
    client.configure_webhook(url=receiver.url, secret=SECRET)
    client.add_installation("acme")
    client.wait_for_deliveries()

    [record] = client.webhook_deliveries
    assert (record["event"], record["action"], record["status_code"]) == ("installation", "created", 200)
