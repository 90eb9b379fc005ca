"""Only the regular file at the policy's own path is a policy. GitHub answers a symlink under
`.atmos/pro/sts/` with the content and path of its target, elsewhere in the repository, outside the
review that guards the policy folder; and refuses a file over 1 MB with a 403 `too_large`. Both are
`trust_policy_invalid`, with a sentence in the audit decision saying why. The simulator holds real git
symlinks and answers them as GitHub does.
"""

from __future__ import annotations

import pytest

from audit.event_types import MINT
from audit.models import AuditEvent

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db

POLICY = ".atmos/pro/sts/default.yaml"


def decision_for(repo: str) -> dict:
    event = AuditEvent.objects.filter(action__in=MINT.actions).latest("id")
    return next(decision for decision in event.detail["decisions"] if decision["repo"] == repo)


def test_a_policy_that_is_a_symlink_to_another_file_is_invalid(client, world, session_for):
    acme = world.installation("acme")
    world.repository("acme/a", acme, files={"docs/anything-anyone-can-merge.yaml": ADMITS_ACME_APP})
    world.sim.put_symlink("acme/a", POLICY, "../../../docs/anything-anyone-can-merge.yaml")

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert result == {"tokens": [], "excluded": [{"repo": "acme/a", "reason": "trust_policy_invalid"}]}
    why = decision_for("acme/a")["why"]
    assert "docs/anything-anyone-can-merge.yaml" in why and "link" in why


def test_a_symlink_to_a_file_inside_the_policy_folder_is_still_not_the_policy(client, world, session_for):
    acme = world.installation("acme")
    world.repository("acme/a", acme, files={".atmos/pro/sts/other.yaml": ADMITS_ACME_APP.replace("default", "other")})
    world.sim.put_symlink("acme/a", POLICY, "other.yaml")

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_invalid"}]


def test_the_regular_file_at_its_path_is_read_as_the_policy(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert [t["repositories"] for t in result["tokens"]] == [["acme/a"]]


def test_a_symlink_refusal_is_remembered_like_any_answer(client, world, session_for):
    acme = world.installation("acme")
    world.repository("acme/a", acme, files={"README.md": ADMITS_ACME_APP})
    world.sim.put_symlink("acme/a", POLICY, "../../../README.md")
    mint(client, session_for(), {"sources": ["acme/a"]})
    world.sim.reset_calls()

    result = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]

    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_invalid"}]
    assert world.sim.calls["contents"] == 0


def test_a_file_github_refuses_as_too_large_is_invalid(client, world, session_for):
    acme = world.installation("acme")
    world.repository("acme/a", acme, files={POLICY: "# " + "x" * (1024 * 1024 + 10)})
    world.source("acme/b", acme, ADMITS_ACME_APP)

    result = mint(client, session_for(), {"sources": ["acme/a", "acme/b"]}).json()["data"]

    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_invalid"}]
    assert [t["repositories"] for t in result["tokens"]] == [["acme/b"]]
    assert "1 MB" in decision_for("acme/a")["why"]
