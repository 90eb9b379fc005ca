"""The audit log must not be a place to pour data into: whatever a mint asks for, its event holds
counts plus the first few names, decisions and problems, within a documented bound."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.event_types import MINT
from audit.models import AuditEvent
from sts.mint import AUDIT_DECISIONS, AUDIT_PROBLEMS_PER_POLICY

from .conftest import mint

pytestmark = pytest.mark.django_db

# The documented bound of a mint's event detail (sts/mint.py, README "Minting").
MINT_DETAIL_BOUND = 12 * 1024
OWNER = "o" * 39  # GitHub's longest account name
MANY_PROBLEMS = (
    "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: default\nspec:\n  rules:\n"
    + "".join(
        f'    - match:\n        reposittory{index}: "{"x" * 200}"\n        reff{index}: "y"\n' for index in range(100)
    )
)


def longest_name(index: int) -> str:
    return f"{OWNER}/" + f"r{index:03d}-".ljust(100, "n")  # 140 characters: the longest valid name


def stored_detail() -> dict:
    event = AuditEvent.objects.get(action__in=MINT.actions)
    return event.detail


def test_the_largest_request_leaves_an_event_within_the_bound(client, world, session_for):
    world.installation("acme")
    owner = world.installation(OWNER)
    names = [longest_name(index) for index in range(100)]
    for name in names:
        world.source(name, owner, MANY_PROBLEMS)

    response = mint(client, session_for(), {"sources": names})

    body = response.json()
    assert response.status_code == 200 and body["success"] is True, body
    assert [item["reason"] for item in body["data"]["excluded"]] == ["trust_policy_invalid"] * 100
    detail = stored_detail()
    size = len(json.dumps(detail))
    print(f"largest mint event: {size} bytes of detail")
    assert size < MINT_DETAIL_BOUND
    assert not any(isinstance(value, dict) and value.get("omitted") for value in detail.values())
    assert detail["requested"]["count"] == 100
    assert detail["outcomes"] == {"trust_policy_invalid": 100}
    assert len(detail["decisions"]) == AUDIT_DECISIONS
    first = detail["decisions"][0]
    assert first["problem_count"] > AUDIT_PROBLEMS_PER_POLICY
    assert len(first["problems"]) == AUDIT_PROBLEMS_PER_POLICY


def test_names_longer_than_any_valid_one_are_cut_in_the_event(client, world, session_for):
    world.installation("acme")
    names = [f"{index:03d}" + "x" * 297 for index in range(100)]  # 300 characters each, all invalid

    response = mint(client, session_for(), {"sources": names})

    assert response.json()["data"]["excluded"][0]["reason"] == "invalid_source_name"
    detail = stored_detail()
    assert len(json.dumps(detail)) < MINT_DETAIL_BOUND
    assert all(len(name) <= 140 for name in detail["requested"]["first"])
    assert all(len(decision["repo"]) <= 140 for decision in detail["decisions"])
    assert detail["outcomes"] == {"invalid_source_name": 100}


def test_the_full_problem_list_stays_available_from_the_validator(tmp_path):
    policy_file = tmp_path / "default.yaml"
    policy_file.write_text(MANY_PROBLEMS)
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command("sts_lint", str(policy_file), stdout=out)

    assert out.getvalue().count("unknown claim name") > AUDIT_PROBLEMS_PER_POLICY * 10
