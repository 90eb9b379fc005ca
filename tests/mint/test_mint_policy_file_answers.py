"""Only the regular file at the policy's own path is a policy. GitHub answers a symlink under
`.atmos/pro/sts/` with the content and path of its target, elsewhere in the repository, outside the
review that guards the policy folder; and refuses a file over 1 MB with a 403 `too_large`. Both are
`trust_policy_invalid`, with a sentence in the audit decision saying why.

The simulator does not serve symlinks or `too_large` yet, and the GitHub client does not yet expose
the answered path or a typed too-large error: these tests wrap the real client's `read_file` (the
simulator still answers over HTTP) and change only what GitHub would answer differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from audit.models import AuditEvent
from github_app.client import FileContent, GitHubApp
from sts.github_pending import GitHubFileTooLarge

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class AnsweredFile(FileContent):
    """GitHub's answer with the path it answered for (what the client's `FileContent.path` carries)."""

    path: str = ""


@pytest.fixture
def answers(monkeypatch):
    """Per repository name, what GitHub answers instead of the file at the path asked for."""
    overrides: dict[str, object] = {}
    real = GitHubApp.read_file

    def read_file(self, **kwargs):
        found = real(self, **kwargs)
        override = overrides.get(kwargs["full_name"])
        if isinstance(override, Exception):
            raise override
        if override is not None:
            return AnsweredFile(content=found.content, etag=found.etag, path=str(override))
        return AnsweredFile(content=found.content, etag=found.etag, path=kwargs["path"])

    monkeypatch.setattr(GitHubApp, "read_file", read_file)
    return overrides


def decision_for(repo: str) -> dict:
    event = AuditEvent.objects.get(action="sts.mint")
    return next(decision for decision in event.detail["decisions"] if decision["repo"] == repo)


def test_a_policy_that_is_a_symlink_to_another_file_is_invalid(client, world, session_for, answers):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    answers["acme/a"] = "docs/anything-anyone-can-merge.yaml"

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert result == {"tokens": [], "excluded": [{"repo": "acme/a", "reason": "trust_policy_invalid"}]}
    why = decision_for("acme/a")["why"]
    assert "docs/anything-anyone-can-merge.yaml" in why and "link" in why


def test_the_regular_file_at_its_path_is_read_as_the_policy(client, world, session_for, answers):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert [t["repositories"] for t in result["tokens"]] == [["acme/a"]]


def test_a_symlink_refusal_is_remembered_like_any_answer(client, world, session_for, answers):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    answers["acme/a"] = ".atmos/pro/sts/../../README.md"
    mint(client, session_for(), {"sources": ["acme/a"]})
    world.sim.reset_calls()

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_invalid"}]
    assert world.sim.calls["contents"] == 0


def test_a_file_github_refuses_as_too_large_is_invalid(client, world, session_for, answers):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/b", acme, ADMITS_ACME_APP)
    answers["acme/a"] = GitHubFileTooLarge("GitHub refused GET …/contents: too_large", status=403)

    result = mint(client, session_for(), {"sources": ["acme/a", "acme/b"]}).json()["data"]

    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_invalid"}]
    assert [t["repositories"] for t in result["tokens"]] == [["acme/b"]]
    assert "1 MB" in decision_for("acme/a")["why"]
