"""/policies/simulate/: a pasted policy decided by the mint's own validator and evaluator, for pasted
claims or a recorded event of the user's own workspaces; hostile input answered with a sentence, never
a 500; the audit roles only; CSRF required."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from review.headers import CONTENT_SECURITY_POLICY
from review.simulate import MAX_CLAIMS, policy_simulate
from sts.policy import parse_policy_bytes
from tests.factories import CALLER, SAMPLE_POLICY, policy
from tests.review.conftest import People, signed_in

URL = "/policies/simulate/"
# Two rules: the first holds only on a release tag, the second for acme-infrastructure's main branch.
TWO_RULES = """\
apiVersion: atmos-pro.com/v1alpha1
kind: TrustPolicy
metadata:
  name: default
spec:
  rules:
    - match:
        repository_owner: "acme"
        ref: "refs/tags/v*"
    - match:
        repository: "acme/acme-infrastructure"
        ref: "refs/heads/main"
      permissions:
        contents: read
        issues: read
"""


def simulate(client: Client, **fields: Any) -> Any:
    data = {"policy": TWO_RULES, "policy_name": "default", "claims": "", "event": "", "workspace": ""}
    return client.post(URL, {**data, **fields})


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_pasted_claims_are_allowed_by_the_rule_that_holds_with_the_earlier_rule_s_failure_and_lines(
    people: People, client: Client
) -> None:
    claims = {"repository": "acme/acme-infrastructure", "repository_owner": "acme", "ref": "refs/heads/main"}

    response = simulate(signed_in(client, people.a.users["security"]), claims=json.dumps(claims))
    body = text_of(response)

    assert response.status_code == 200
    assert 'Allowed by <span class="mono">rules[1]</span>' in body
    assert "contents: read" in body and "issues: read" in body
    # rules[0] at line 7 failed on its `ref` condition at line 9; rules[1] at line 10 matched.
    assert re.search(
        r"rules\[0\]</td> <td>7</td> <td>did not match: ref: &quot;refs/heads/main&quot; does not match", body
    )
    assert re.search(r"</td> <td>9</td> </tr>", body)
    assert re.search(r"rules\[1\]</td> <td>10</td> <td>matched</td>", body)


def test_claims_no_rule_admits_are_denied_with_each_rule_s_first_failing_condition(
    people: People, client: Client
) -> None:
    claims = {"repository": "acme/other", "repository_owner": "globex", "ref": "refs/heads/main"}

    body = text_of(simulate(signed_in(client, people.a.users["admin"]), claims=json.dumps(claims)))

    assert "Denied: no rule holds" in body and "trust_policy_denied" in body
    assert "rules[0]</td> <td>7</td> <td>did not match: repository_owner: &quot;globex&quot;" in body
    assert "rules[1]</td> <td>10</td> <td>did not match: repository: &quot;acme/other&quot;" in body


@pytest.mark.parametrize(
    "claims",
    [
        CALLER,
        {**CALLER, "ref": "refs/tags/v1"},
        {"repository": "acme/acme-infrastructure", "ref": "refs/heads/main"},
        {"repository_owner": True, "ref": 5},
        {},
    ],
)
def test_it_decides_exactly_as_the_mint_s_evaluator(claims: dict[str, object]) -> None:
    mint_decision = parse_policy_bytes(TWO_RULES.encode(), name="default", allow_write=False).evaluate(claims)

    simulated = policy_simulate(policy_text=TWO_RULES, policy_name="default", claims=claims, allow_write=False)

    assert simulated.decision is not None and simulated.decision.as_dict() == mint_decision.as_dict()


def test_a_recorded_mint_is_decided_on_the_identity_it_verified(people: People, client: Client) -> None:
    response = simulate(signed_in(client, people.a.users["security"]), event=str(people.a.mint.pk))

    assert response.status_code == 200
    assert 'Allowed by <span class="mono">rules[1]</span>' in text_of(response)


def test_a_recorded_exchange_can_be_picked_too(people: People, client: Client) -> None:
    exchange = audit_record(
        action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_SUCCESS,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_exchange",
        workspace_public_id=people.a.workspace.public_id,
        identity={"repository": "acme/acme-infrastructure", "repository_owner": "acme", "ref": "refs/tags/v2"},
    )

    body = text_of(simulate(signed_in(client, people.a.users["security"]), event=str(exchange.pk)))

    assert 'Allowed by <span class="mono">rules[0]</span>' in body


def _without_csrf_token(response: Any, pk: str) -> str:
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return body.replace(f'value="{pk}"', 'value="N"')


def _not_found_sentence(response: Any) -> bool:
    return "No exchange or mint event with this id in your workspaces." in response.content.decode()


def test_another_workspace_s_event_reads_exactly_as_one_that_does_not_exist(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])

    other = simulate(client, event=str(people.b.mint.pk))
    missing = simulate(client, event="987654321")

    assert (other.status_code, missing.status_code) == (400, 400)
    assert _not_found_sentence(other) and _not_found_sentence(missing)
    assert _without_csrf_token(other, str(people.b.mint.pk)) == _without_csrf_token(missing, "987654321")
    for secret in (people.b.caller, people.b.source, people.b.workspace.public_id, "globex-bot"):
        assert secret not in other.content.decode()


def test_an_event_that_is_no_exchange_or_mint_is_not_found_either(people: People, client: Client) -> None:
    change = audit_record(
        action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="chg_x",
        workspace_public_id=people.a.workspace.public_id,
        identity={"actor": "acme-admin", "actor_kind": "member"},
    )

    assert _not_found_sentence(simulate(signed_in(client, people.a.users["security"]), event=str(change.pk)))


def test_an_event_refused_before_any_identity_was_verified_says_so(people: People, client: Client) -> None:
    refused = audit_record(
        action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_FAILURE,
        outcome=AuditEvent.Outcome.DENIED,
        request_id="req_bad_token",
        workspace_public_id=people.a.workspace.public_id,
        error_tag="InvalidOidcToken",
    )

    response = simulate(signed_in(client, people.a.users["security"]), event=str(refused.pk))

    assert response.status_code == 400 and "carries no verified identity" in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({}, "Give either claims or an event id, not both and not neither."),
        ({"claims": "{}", "event": "{mint}"}, "Give either claims or an event id, not both and not neither."),
        ({"event": "-1"}, "greater than or equal to 1"),
        ({"event": "9" * 30}, "less than or equal to"),
        ({"event": "1 OR 1=1"}, "Enter a whole number."),
        ({"claims": "{not json"}, "The claims are not valid JSON: Expecting property name enclosed in double quotes"),
        ({"claims": '{"a": 1'}, "(line 1, column 8)"),
        ({"claims": "[1, 2]"}, "The claims must be a JSON object of claim names and values."),
        ({"claims": '"repo:acme/app"'}, "The claims must be a JSON object"),
        ({"claims": "null"}, "The claims must be a JSON object"),
        ({"claims": "5"}, "The claims must be a JSON object"),
        ({"claims": '{"ref": NaN}'}, "NaN is not a JSON value."),
        ({"claims": '{"ref": Infinity}'}, "Infinity is not a JSON value."),
        ({"claims": "[" * 5000 + "]" * 5000}, "The claims are nested too deeply."),
        ({"claims": '{"ref": "\\ud800"}'}, "unpaired surrogate"),
        ({"claims": '{"\\udfff": "x"}'}, "unpaired surrogate"),
        ({"claims": json.dumps({f"c{n}": "x" for n in range(MAX_CLAIMS + 1)})}, f"more than {MAX_CLAIMS} names"),
        ({"claims": "{" + '"a": "' + "x" * 17_000 + '"}'}, "at most 16384 characters"),
        ({"claims": '{"ref": "x\\u0000"}', "policy": "a\x00b"}, "Null characters are not allowed."),
        ({"claims": "{}", "policy": "x" * (64 * 1024 + 1)}, "at most 65536 characters"),
        ({"claims": "{}", "policy_name": "../../etc/passwd" + "x" * 60}, "at most 64 characters"),
        ({"claims": "{}", "workspace": "ws_not_mine"}, "Select a valid choice."),
    ],
)
def test_hostile_input_is_answered_with_a_sentence(
    people: People, client: Client, fields: dict[str, str], sentence: str
) -> None:
    fields = {name: value.replace("{mint}", str(people.a.mint.pk)) for name, value in fields.items()}
    response = simulate(signed_in(client, people.a.users["security"]), **fields)

    assert response.status_code == 400
    assert sentence in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")


def test_another_workspace_cannot_be_chosen_for_its_write_switch(people: People, client: Client) -> None:
    response = simulate(
        signed_in(client, people.a.users["security"]), claims="{}", workspace=people.b.workspace.public_id
    )

    assert response.status_code == 400 and "Select a valid choice." in response.content.decode()
    assert people.b.workspace.name not in response.content.decode()


@pytest.mark.parametrize(
    ("policy_text", "line", "problem"),
    [
        ("spec: [unclosed\n", 2, "YAML"),
        (TWO_RULES.replace("repository_owner", "repository_ownr"), 8, "unknown claim"),
        (TWO_RULES.replace("kind: TrustPolicy", "kind: Policy"), 2, "must be 'TrustPolicy'"),
        ('a: &x ["lol","lol"]\nb: &y [*x,*x,*x,*x,*x,*x,*x,*x,*x]\nc: [*y,*y,*y,*y,*y,*y,*y,*y,*y]\n', 1, "anchors"),
        ("!!python/object:os.system 'id'\n", 1, "tag"),
        ("spec:\n  rules:\n    - match:\n        ref: {regex: '(a*)*b['}\n", 4, "RE2 regular expression"),
    ],
)
def test_the_validator_s_problems_are_shown_with_their_lines(
    people: People, client: Client, policy_text: str, line: int, problem: str
) -> None:
    response = simulate(signed_in(client, people.a.users["security"]), claims="{}", policy=policy_text)
    body = text_of(response)

    assert response.status_code == 200 and "Invalid policy" in body and "trust_policy_invalid" in body
    found = re.findall(
        r'<tr class="decision-excluded"><td>([^<]*)</td><td class="mono">[^<]*</td><td>([^<]*)</td>', body
    )
    rows = [(found_line, html.unescape(message)) for found_line, message in found]
    assert any(found_line == str(line) and problem.lower() in message.lower() for found_line, message in rows), rows


def test_a_policy_larger_than_the_request_limit_is_refused_before_it_is_read(people: People, client: Client) -> None:
    response = simulate(signed_in(client, people.a.users["security"]), claims="{}", policy="x" * (300 * 1024))

    assert response.status_code == 400


def test_a_write_rule_is_invalid_unless_the_chosen_workspace_allows_write_tokens(
    people: People, client: Client
) -> None:
    writes = policy('repository: "acme/*"', permissions="        contents: write\n")
    signed_in(client, people.a.users["admin"])
    claims = json.dumps({"repository": "acme/acme-infrastructure"})

    refused = text_of(simulate(client, claims=claims, policy=writes))
    people.a.workspace.allow_write_tokens = True
    people.a.workspace.save()
    allowed = text_of(simulate(client, claims=claims, policy=writes, workspace=people.a.workspace.public_id))

    assert "Invalid policy" in refused and "write" in refused and "Write tokens not allowed" in refused
    assert "Allowed by" in allowed and "contents: write" in allowed and "Write tokens allowed" in allowed


def test_a_post_without_the_csrf_token_is_refused(people: People) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.a.users["security"])

    response = client.post(URL, {"policy": SAMPLE_POLICY, "claims": json.dumps(CALLER)})
    page = client.get(URL)

    assert response.status_code == 403
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()


@pytest.mark.parametrize("who", ["billing", "member"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_people_without_an_audit_role_are_refused(people: People, client: Client, who: str, method: str) -> None:
    signed_in(client, people.a.users[who])

    response = client.get(URL) if method == "get" else simulate(client, event=str(people.a.mint.pk))

    assert response.status_code == 403


def test_another_workspace_s_security_member_cannot_pick_this_workspace_s_event(people: People, client: Client) -> None:
    response = simulate(signed_in(client, people.b.users["security"]), event=str(people.a.mint.pk))

    assert response.status_code == 400 and _not_found_sentence(response)
    for secret in ("acme-bot", people.a.source, people.a.workspace.public_id, "4242"):
        assert secret not in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_the_login_page(people: People, client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_page_carries_the_review_headers_and_no_inline_script_or_style(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])

    for response in (client.get(URL), simulate(client, claims=json.dumps(CALLER))):
        body = response.content.decode()
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert "<script" not in body and "style=" not in body and "<style" not in body


def test_an_event_page_links_to_the_simulator_with_its_event(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])

    detail = client.get(reverse("audit:detail", args=[people.a.mint.pk])).content.decode()
    listing = client.get(reverse("audit:list")).content.decode()
    prefilled = client.get(URL, {"event": str(people.a.mint.pk)}).content.decode()

    assert f'href="{URL}?event={people.a.mint.pk}"' in detail
    assert f'href="{URL}"' in listing
    assert f'value="{people.a.mint.pk}"' in prefilled


@pytest.mark.parametrize("value", ["1 OR 1=1", "-5", "9" * 40, "<script>"])
def test_a_hostile_event_parameter_in_the_link_is_ignored(people: People, client: Client, value: str) -> None:
    response = signed_in(client, people.a.users["security"]).get(URL, {"event": value})

    assert response.status_code == 200 and value not in response.content.decode()
