"""What the webhook receiver spends before it answers GitHub: the signature check (against one and
against two secrets, as during a rotation), the JSON parse and the payload's shape check, for a
typical push, GitHub's largest installation example, and bodies at the receiver's 5 MB cap.

Run: .venv/bin/python bench/bench_webhooks.py
The receiver then writes one row and commits; the work itself runs in a Celery task.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from github_app.webhooks import signature_matches, webhook_event_parse

SECRET = "It's a Secret to Everybody"


def push(commits: int, files: int) -> bytes:
    listed = [
        {"id": f"{n:040x}", "added": [f"src/{n}/{m}.py" for m in range(files)], "removed": [], "modified": []}
        for n in range(commits)
    ]
    body = {
        "ref": "refs/heads/main",
        "repository": {"id": 1, "full_name": "acme/infra", "default_branch": "main"},
        "installation": {"id": 2},
        "forced": False,
        "deleted": False,
        "commits": listed,
    }
    return json.dumps(body).encode()


def repositories_added(count: int) -> bytes:
    body = {
        "action": "added",
        "installation": {
            "id": 2,
            "account": {"login": "acme", "id": 3, "type": "Organization"},
            "repository_selection": "selected",
            "permissions": {"contents": "read"},
        },
        "repositories_added": [{"id": n, "full_name": f"acme/r{n}"} for n in range(1, count + 1)],
        "repositories_removed": [],
    }
    return json.dumps(body).encode()


def best_ms(work: Callable[[], object], rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    cases = [
        ("push, 1 commit x 3 files", "push", push(1, 3)),
        ("push, 20 commits x 50 files", "push", push(20, 50)),
        ("push near the cap", "push", push(400, 500)),
        ("installation_repositories, 40 000 added", "installation_repositories", repositories_added(40_000)),
    ]
    print(f"{'payload':44} {'bytes':>9} {'sig 1 ms':>9} {'sig 2 ms':>9} {'json ms':>8} {'shape ms':>9}")
    for name, event, body in cases:
        print(measured(name, event, body))


def measured(name: str, event: str, body: bytes) -> str:
    header = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    one = best_ms(lambda: signature_matches(body=body, header=header, secrets=[SECRET]))
    two = best_ms(lambda: signature_matches(body=body, header=header, secrets=["new secret", SECRET]))
    parsed = json.loads(body)
    parse = best_ms(lambda: json.loads(body))
    shape = best_ms(lambda: webhook_event_parse(event=event, payload=parsed))
    return f"{name:44} {len(body):>9} {one:>9.2f} {two:>9.2f} {parse:>8.2f} {shape:>9.2f}"


if __name__ == "__main__":
    main()
