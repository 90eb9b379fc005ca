"""POST /api/v1/auth/github-oidc with caller rules: a caller no rule admits gets a 403 envelope naming
the setting, no session, and an audit event; a change of the list applies to the next exchange."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from githubsim.simulator import GitHubSimulator
from sts.caller_rules import caller_refusal, caller_rules_set
from sts.models import OidcTokenUse, StsSession
from sts.sessions import session_verify
from tests.factories import Acme, acme_create
from tests.sts.caller_rules.conftest import ADMIN
from tests.sts.exchange.conftest import exchange


@pytest.fixture
def acme(github_sim: GitHubSimulator, db: None) -> Acme:
    return acme_create(github_sim)


def attempt(client: Client, acme: Acme, **claims: Any) -> Any:
    return exchange(client, {"token": acme.token(**claims), "workspaceId": acme.workspace.public_id})


def only_main_or_production(acme: Acme) -> None:
    caller_rules_set(
        workspace=acme.workspace,
        rules=[{"match": {"repository": "acme/*", "ref": "refs/heads/main"}}, {"match": {"environment": "production"}}],
        actor=ADMIN,
    )


def test_a_caller_that_a_rule_admits_gets_a_session(acme: Acme, client: Client) -> None:
    only_main_or_production(acme)
    response = attempt(client, acme, ref="refs/heads/main")
    assert response.status_code == 200, response.json()
    assert session_verify(response.json()["data"]["token"]).identity["ref"] == "refs/heads/main"


def test_a_caller_that_another_rule_admits_gets_a_session(acme: Acme, client: Client) -> None:
    only_main_or_production(acme)
    assert attempt(client, acme, ref="refs/tags/v1", environment="production").status_code == 200


def test_a_caller_that_no_rule_admits_is_refused_with_a_403_naming_the_setting(acme: Acme, client: Client) -> None:
    only_main_or_production(acme)
    response = attempt(client, acme, ref="refs/heads/feature")
    body = response.json()
    assert (response.status_code, body["errorTag"], body["success"]) == (403, "CallerNotAdmitted", False)
    assert body["errorMessage"] == (
        f"No caller rule of workspace {acme.workspace.public_id} admits repository 'acme/app' on"
        " 'refs/heads/feature'; a workspace admin can change the workspace setting 'Caller rules'."
    )
    assert not StsSession.objects.exists()


def test_the_refusal_is_audited_with_the_caller_and_without_the_token(acme: Acme, client: Client) -> None:
    only_main_or_production(acme)
    token = acme.token(ref="refs/heads/feature")
    exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_FAILURE)
    assert (event.outcome, event.error_tag, event.workspace_public_id) == (
        "denied",
        "CallerNotAdmitted",
        acme.workspace.public_id,
    )
    assert (event.repository, event.ref) == ("acme/app", "refs/heads/feature")
    assert "Caller rules" in event.detail["reason"]
    assert token not in str(event.identity) + str(event.detail)


def test_a_refused_token_is_used_up_all_the_same(acme: Acme, client: Client) -> None:
    only_main_or_production(acme)
    token = acme.token(ref="refs/heads/feature")
    exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})
    assert OidcTokenUse.objects.count() == 1
    caller_rules_set(workspace=acme.workspace, rules=[], actor=ADMIN)
    again = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})
    assert (again.status_code, again.json()["errorTag"]) == (401, "OidcTokenReplayed")


def test_an_empty_list_admits_every_installed_repository_as_before(acme: Acme, client: Client) -> None:
    assert attempt(client, acme, ref="refs/heads/anything").status_code == 200


def test_a_change_of_the_list_applies_to_the_next_exchange(acme: Acme, client: Client) -> None:
    assert attempt(client, acme, ref="refs/heads/feature").status_code == 200
    only_main_or_production(acme)
    assert attempt(client, acme, ref="refs/heads/feature").status_code == 403
    caller_rules_set(workspace=acme.workspace, rules=[{"match": {"ref": "refs/heads/*"}}], actor=ADMIN)
    assert attempt(client, acme, ref="refs/heads/feature").status_code == 200


def test_the_repository_check_comes_before_the_caller_rules(acme: Acme, client: Client) -> None:
    # A repository the workspace never installed learns nothing about the workspace's rules.
    only_main_or_production(acme)
    response = attempt(client, acme, repository="stranger/app")
    assert (response.status_code, response.json()["errorTag"]) == (403, "RepositoryNotInWorkspace")


def test_a_session_issued_before_a_change_is_refused_by_the_re_check_its_next_mint_makes(
    acme: Acme, client: Client
) -> None:
    assert attempt(client, acme, ref="refs/heads/feature").status_code == 200
    session = StsSession.objects.get()
    assert caller_refusal(workspace=session.workspace, identity=session.identity) is None
    only_main_or_production(acme)
    assert caller_refusal(workspace=session.workspace, identity=session.identity) == (
        f"No caller rule of workspace {acme.workspace.public_id} admits repository 'acme/app' on"
        " 'refs/heads/feature'; a workspace admin can change the workspace setting 'Caller rules'."
    )
