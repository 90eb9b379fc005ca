"""Who may read the audit pages: a workspace's admin and security roles (their workspace only) and
superusers; everyone else is refused, and nothing of another workspace shows in pages or exports."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.review.conftest import People, signed_in

PAGES = ("audit:list", "audit:export-csv", "audit:export-jsonl")


def _body(response: object) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    return content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_it_sends_an_anonymous_visitor_to_the_login_page(people: People, client: Client, page: str) -> None:
    response = client.get(reverse(page))

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["outsider", "billing_staff", "billing", "member"])
def test_it_refuses_people_without_an_audit_role(people: People, client: Client, page: str, who: str) -> None:
    user = people.a.users[who] if who in ("billing", "member") else getattr(people, who)

    response = signed_in(client, user).get(reverse(page))

    assert response.status_code == 403
    assert people.a.caller not in response.content.decode()


@pytest.mark.parametrize("who", ["outsider", "billing", "member"])
def test_it_refuses_the_detail_page_to_people_without_an_audit_role(people: People, client: Client, who: str) -> None:
    user = people.a.users[who] if who != "outsider" else people.outsider

    response = signed_in(client, user).get(reverse("audit:detail", args=[people.a.mint.pk]))

    assert response.status_code == 403


@pytest.mark.parametrize("role", ["admin", "security"])
@pytest.mark.parametrize("page", PAGES)
def test_an_audit_role_sees_its_own_workspace_and_nothing_of_another(
    people: People, client: Client, role: str, page: str
) -> None:
    response = signed_in(client, people.a.users[role]).get(reverse(page))
    body = _body(response)

    assert response.status_code == 200
    assert people.a.caller in body and people.a.source in body
    for other in (people.b.caller, people.b.source, people.b.workspace.public_id, "globex"):
        assert other not in body


@pytest.mark.parametrize("page", PAGES)
def test_a_query_naming_another_workspace_finds_nothing(people: People, client: Client, page: str) -> None:
    response = signed_in(client, people.a.users["security"]).get(reverse(page), {"q": f"source:{people.b.source}"})

    body = _body(response)

    assert response.status_code == 200
    for other in (people.b.caller, people.b.workspace.public_id, "globex-bot", "globex-intruder"):
        assert other not in body


@pytest.mark.parametrize("event", ["mint", "refusal"])
def test_another_workspaces_event_is_not_found(people: People, client: Client, event: str) -> None:
    other = getattr(people.b, event)

    response = signed_in(client, people.a.users["security"]).get(reverse("audit:detail", args=[other.pk]))

    assert response.status_code == 404
    assert "globex" not in response.content.decode()


def test_a_member_of_one_workspace_with_security_in_another_sees_only_the_other(people: People, client: Client) -> None:
    from workspaces.models import Membership

    member = people.a.users["member"]
    Membership.objects.create(user=member, workspace=people.b.workspace, role=Membership.Role.SECURITY)

    body = signed_in(client, member).get(reverse("audit:list")).content.decode()

    assert people.b.caller in body and people.a.caller not in body


def test_a_superuser_sees_every_workspace(people: People, client: Client) -> None:
    body = signed_in(client, people.superuser).get(reverse("audit:list")).content.decode()

    assert people.a.caller in body and people.b.caller in body


def test_an_unknown_event_is_not_found(people: People, client: Client) -> None:
    response = signed_in(client, people.superuser).get("/audit/999999999/")

    assert response.status_code == 404


@pytest.mark.parametrize("pk", ["9223372036854775808", "9" * 40])
def test_an_event_id_beyond_any_row_is_not_found(people: People, client: Client, pk: str) -> None:
    response = signed_in(client, people.superuser).get(f"/audit/{pk}/")

    assert response.status_code == 404
