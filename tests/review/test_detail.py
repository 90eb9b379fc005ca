"""/audit/<id>/: who asked, what was asked, each source's decision, each token and the chain link."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.review.conftest import People, signed_in


def _page(client: Client, people: People, pk: int) -> str:
    response = signed_in(client, people.a.users["security"]).get(reverse("audit:detail", args=[pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_who_asked_with_a_link_to_the_run(people: People, client: Client) -> None:
    body = _page(client, people, people.a.mint.pk)

    assert f'href="https://github.com/{people.a.caller}/actions/runs/4242"' in body
    for shown in ("refs/heads/main", "a" * 40, "acme-bot", "deploy", "production", "req_acme_1"):
        assert shown in body


def test_the_run_link_follows_the_configured_github_host(people: People, client: Client, settings: object) -> None:
    settings.GITHUB_HOST = "github.example.com"  # type: ignore[attr-defined]

    body = _page(client, people, people.a.mint.pk)

    assert f'href="https://github.example.com/{people.a.caller}/actions/runs/4242"' in body


def test_it_shows_each_sources_decision_and_the_rule_or_the_failing_condition(people: People, client: Client) -> None:
    granted = _page(client, people, people.a.mint.pk)
    refused = _page(client, people, people.a.refusal.pk)

    assert people.a.source in granted and "policy rule 0" in granted
    assert "trust_policy_denied" in refused
    assert "rule 0: ref is refs/heads/evil, not refs/heads/main (acme)" in refused


def test_it_shows_each_token_by_fingerprint_with_its_revocation(people: People, client: Client) -> None:
    body = _page(client, people, people.a.mint.pk)
    assert people.a.minted.fingerprint in body and "contents:read" in body and ">active<" in body

    people.a.minted.revocation_requested_at = people.a.minted.revoked_at = timezone.now()
    people.a.minted.save()

    assert "revoked (confirmed by GitHub)" in _page(client, people, people.a.mint.pk)


def test_it_never_shows_the_token_itself(people: People, client: Client) -> None:
    body = _page(client, people, people.a.mint.pk)

    assert "ghs_acme" not in body


def test_it_shows_the_hash_and_that_the_link_verifies(people: People, client: Client) -> None:
    body = _page(client, people, people.a.refusal.pk)

    assert people.a.refusal.hash in body and people.a.mint.hash in body and ">verified<" in body


def test_it_shows_a_link_broken_behind_the_triggers_back(people: People, client: Client) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_change")
            cursor.execute("UPDATE audit_auditevent SET actor = 'someone-else' WHERE id = %s", [people.a.mint.pk])
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_change")
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_auditevent'")
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            cursor.execute("UPDATE audit_auditevent SET actor = 'someone-else' WHERE id = %s", [people.a.mint.pk])
            for _, sql in triggers:
                cursor.execute(sql)

    body = _page(client, people, people.a.mint.pk)

    assert "broken: Its content does not match its hash." in body


def test_an_event_without_sources_or_identity_still_renders(people: People, client: Client) -> None:
    from audit.models import AuditEvent
    from audit.services import audit_record

    bare = audit_record(
        action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_bare",
        workspace_public_id=people.a.workspace.public_id,
        identity={"repository": "not a repo/../x", "run_id": "12; rm"},
    )

    body = _page(client, people, bare.pk)

    assert "No source repository was decided" in body and "/actions/runs/" not in body
