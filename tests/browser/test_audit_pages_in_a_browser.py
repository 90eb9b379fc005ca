"""The audit pages through the security member's eyes, in headless Chromium: search, open, export."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests

from audit.models import AuditEvent
from audit.services import audit_record
from tests.browser.conftest import log_in, screenshot
from tests.workspaces.admin.tenants import Tenants

pytestmark = pytest.mark.django_db(transaction=True)


def _by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def test_the_security_member_searches_opens_an_event_and_exports_only_their_workspace(
    browser: Any, live_server: Any, people: Tenants
) -> None:
    source, other = people.a.repository_name, people.b.repository_name
    for tenant, name in ((people.a, source), (people.b, other)):
        audit_record(
            action=AuditEvent.Action.TOKEN_MINTED,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id="req_browser",
            workspace_public_id=tenant.workspace.public_id,
            identity={"repository": "acme/acme-infrastructure", "ref": "refs/heads/main", "actor": "ci-bot"},
            sources=[{"repository": name, "github_id": 7, "decision": "granted", "rule": 0, "fingerprint": "f" * 44}],
        )
    query = f"source:{source} actor:ci-bot"
    log_in(browser, live_server.url, "acme-security")

    browser.get(f"{live_server.url}/audit/")
    search = browser.find_element(_by("ID"), "q")
    search.send_keys(query)
    search.submit()

    assert "q=" in browser.current_url
    links = browser.find_elements(_by("CSS_SELECTOR"), "table a[href*='/audit/']")
    assert len([link for link in links if link.get_attribute("href").rstrip("/").split("/")[-1].isdigit()]) == 1
    stylesheet = browser.find_element(_by("CSS_SELECTOR"), "link[rel=stylesheet]").get_attribute("href")
    assert requests.get(stylesheet, timeout=10).status_code == 200
    assert other not in browser.page_source and people.b.workspace.public_id not in browser.page_source
    screenshot(browser, "audit-1-search")

    next(link for link in links if link.get_attribute("href").rstrip("/").split("/")[-1].isdigit()).click()
    assert source in browser.page_source and other not in browser.page_source
    screenshot(browser, "audit-2-event")

    cookies = {cookie["name"]: cookie["value"] for cookie in browser.get_cookies()}
    export = requests.get(f"{live_server.url}/audit/export.csv?q={quote(query)}", cookies=cookies, timeout=10)
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert "ci-bot" in export.text and other not in export.text
