"""The opted-in source repositories page (the policy-name index): each workspace's admin and security
people read their own workspace's, with the rules in words, the last validation and when it changed."""

from __future__ import annotations

import pytest
from django.test import Client

from sts.models import PolicyIndexEntry
from tests.workspaces.admin.tenants import Tenants, admin_url, logged_in
from workspaces.models import Membership

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SECURITY])
def test_admin_and_security_see_their_workspaces_policies_in_words(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])

    page = client.get(admin_url(PolicyIndexEntry, "changelist")).content.decode()

    assert tenants.a.repository_name in page
    assert "rules[0]: when repository &quot;acme/acme-infrastructure&quot; → contents: read" in page
    assert "valid" in page
    assert tenants.b.repository_name not in page


@pytest.mark.parametrize("role", [Role.BILLING, Role.MEMBER])
def test_other_roles_do_not_see_the_page(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    assert client.get(admin_url(PolicyIndexEntry, "changelist")).status_code == 403
    # A row nobody lets them see is a 404, as every row outside one's scope is.
    assert client.get(admin_url(PolicyIndexEntry, "change", tenants.a.policy.pk)).status_code == 404


def test_another_workspaces_policy_is_a_404(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[Role.ADMIN])
    assert client.get(admin_url(PolicyIndexEntry, "change", tenants.b.policy.pk)).status_code == 404


def test_the_page_is_read_only_even_for_the_workspace_admin(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[Role.ADMIN])
    entry = tenants.a.policy

    assert client.get(admin_url(PolicyIndexEntry, "add")).status_code == 403
    assert client.post(admin_url(PolicyIndexEntry, "change", entry.pk), {"policy_name": "x"}).status_code == 403
    assert client.post(admin_url(PolicyIndexEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert PolicyIndexEntry.objects.get(pk=entry.pk).policy_name == "default"


def test_an_invalid_policy_shows_its_first_problems_escaped(client: Client, tenants: Tenants) -> None:
    entry = tenants.a.policy
    entry.valid, entry.problem_count = False, 7
    entry.problems = [{"path": "spec.rules[0].match.reff", "message": "unknown claim <script>x</script>", "line": 9}]
    entry.rules = []
    entry.save()
    logged_in(client, tenants.a.users[Role.SECURITY])

    page = client.get(admin_url(PolicyIndexEntry, "change", entry.pk)).content.decode()

    assert "invalid (7 problems)" in page
    assert "line 9: spec.rules[0].match.reff: unknown claim &lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
