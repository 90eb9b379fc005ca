"""The policy simulator through the security member's eyes, in headless Chromium: from a recorded mint's
page to the simulator with that event picked, a pasted policy, and the decision with its explanation."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from audit.services import audit_record
from tests.browser.conftest import log_in, screenshot
from tests.workspaces.admin.tenants import Tenants

pytestmark = pytest.mark.django_db(transaction=True)

# Typed into the textarea line by line (a textarea does not indent by itself).
POLICY = """\
apiVersion: atmos-pro.com/v1alpha1
kind: TrustPolicy
metadata:
  name: default
spec:
  rules:
    - match:
        ref: "refs/tags/v*"
    - match:
        repository: "acme/acme-infrastructure"
        ref: "refs/heads/main"
      permissions:
        contents: read
"""


def _until_replaced(browser: Any, element: Any) -> None:
    """Until the page that held `element` has been replaced by the next one (the form's answer)."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(element))


def _by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def test_the_security_member_simulates_a_pasted_policy_with_a_recorded_mint(
    browser: Any, live_server: Any, people: Tenants
) -> None:
    event = audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_simulated",
        workspace_public_id=people.a.workspace.public_id,
        identity={"repository": "acme/acme-infrastructure", "ref": "refs/heads/main", "actor": "ci-bot"},
        detail={"policy_name": "default"},
    )
    log_in(browser, live_server.url, "acme-security")

    browser.get(f"{live_server.url}/audit/{event.pk}/")
    browser.find_element(_by("CSS_SELECTOR"), "a.simulate-link").click()
    assert browser.current_url.endswith(f"/policies/simulate/?event={event.pk}")
    assert browser.find_element(_by("ID"), "id_event").get_attribute("value") == str(event.pk)

    browser.find_element(_by("ID"), "id_policy").send_keys(POLICY)
    browser.find_element(_by("CSS_SELECTOR"), "form.simulate button[type=submit]").click()

    decision = browser.find_element(_by("CSS_SELECTOR"), ".decision").text
    assert decision.startswith("Allowed by rules[1]") and "contents: read" in decision
    rows = [row.text for row in browser.find_elements(_by("CSS_SELECTOR"), ".simulation tbody tr")]
    assert rows[0].startswith('rules[0] 7 did not match: ref: "refs/heads/main" does not match')
    assert rows[1].startswith("rules[1] 9 matched")
    screenshot(browser, "policy-simulator-1-allowed")

    policy = browser.find_element(_by("ID"), "id_policy")
    policy.clear()
    policy.send_keys(POLICY.replace("ref:", "reff:", 1))
    answered = browser.find_element(_by("CSS_SELECTOR"), ".decision")
    browser.find_element(_by("CSS_SELECTOR"), "form.simulate button[type=submit]").click()
    _until_replaced(browser, answered)

    assert browser.find_element(_by("CSS_SELECTOR"), ".decision").text.startswith("Invalid policy")
    problem = browser.find_element(_by("CSS_SELECTOR"), ".simulation tbody tr").text
    assert problem.startswith("8 spec.rules[0].match.reff unknown claim name")
    screenshot(browser, "policy-simulator-2-invalid")
