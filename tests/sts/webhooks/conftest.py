"""Deliveries signed as GitHub signs them, sent to the receiver, and installations a workspace owns."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from github_app.webhooks import SIGNATURE_PREFIX
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

# GitHub's own example secret (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
SECRET = "It's a Secret to Everybody"
RETIRED_SECRET = "a secret rotated out last month"
URL = "/webhooks/github"


def signature(secret: str, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def webhook_secrets(settings: Any) -> None:
    settings.GITHUB_WEBHOOK_SECRETS = [SECRET]


@dataclass
class Sender:
    """Sends deliveries to the receiver through Django's test client, signed unless told otherwise."""

    client: Client
    # pytest-django's capture of on_commit callbacks: in a test's transaction nothing commits, so the
    # callbacks (the task's enqueueing) run when the request ends, as they would on a real commit.
    on_commit: Any = None

    def send(
        self,
        event: str,
        payload: Any,
        *,
        guid: str | None = None,
        secret: str | None = SECRET,
        body: bytes | None = None,
        signed_body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        raw = body if body is not None else json.dumps(payload).encode()
        sent_headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": guid or str(uuid.uuid4())}
        if secret is not None:
            sent_headers["X-Hub-Signature-256"] = signature(secret, signed_body if signed_body is not None else raw)
        sent_headers.update(headers or {})
        if self.on_commit is None:
            return self.client.post(URL, data=raw, content_type=content_type, headers=sent_headers)
        with self.on_commit(execute=True):
            return self.client.post(URL, data=raw, content_type=content_type, headers=sent_headers)


@pytest.fixture
def sender(client: Client, django_capture_on_commit_callbacks: Any) -> Sender:
    return Sender(client, django_capture_on_commit_callbacks)


def owned_installation(
    github_id: int,
    *,
    account: str = "Codertocat",
    repositories: dict[int, str] | None = None,
    workspace: Workspace | None = None,
) -> GitHubInstallation:
    """An installation a workspace owns, with repository rows (GitHub id -> full name)."""
    workspace = workspace or Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
    installation = GitHubInstallation.objects.create(
        github_id=github_id,
        workspace=workspace,
        account_login=account,
        account_id=github_id + 10_000,
        account_type="Organization",
        repository_selection="selected",
        permissions={"contents": "read", "metadata": "read"},
    )
    for repository_id, full_name in (repositories or {}).items():
        InstallationRepository.objects.create(installation=installation, github_id=repository_id, full_name=full_name)
    return installation


def installation_payload(action: str, installation_id: int, *, account: str = "Codertocat", **extra: Any) -> dict:
    return {
        "action": action,
        "installation": {
            "id": installation_id,
            "account": {"login": account, "id": 21031067, "type": "Organization"},
            "repository_selection": "selected",
            "permissions": {"contents": "read", "metadata": "read"},
            "suspended_at": None,
        },
        "sender": {"login": "octocat", "id": 1},
        **extra,
    }


def push_payload(
    *,
    installation_id: int | None,
    repository_id: int,
    full_name: str,
    paths: list[str] | None = None,
    ref: str = "refs/heads/main",
    **extra: Any,
) -> dict:
    commit = {"id": "a" * 40, "added": paths or [], "removed": [], "modified": []}
    body: dict[str, Any] = {
        "ref": ref,
        "before": "b" * 40,
        "after": "a" * 40,
        "repository": {"id": repository_id, "full_name": full_name, "default_branch": "main", "created_at": 1},
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": [commit],
        "head_commit": commit,
    }
    if installation_id is not None:
        body["installation"] = {"id": installation_id, "node_id": "x"}
    body.update(extra)
    return body
