"""The admin through each role's eyes, in headless Chromium: styled, scoped, and its switch obeyed by the mint."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.test import Client

from sts.sessions import session_issue
from tests.browser.conftest import log_in, screenshot
from tests.factories import CALLER, World
from tests.sts.mint.conftest import ADMITS_ACME_APP, mint
from tests.workspaces.admin.tenants import Tenants
from workspaces.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def _by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def _assert_styled(driver: Any, base_url: str) -> None:
    """The admin's stylesheet loaded: its header colour is applied, and the file it links answers 200."""
    header = driver.find_element(_by("ID"), "header")
    assert driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", header) not in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )
    hrefs = [link.get_attribute("href") for link in driver.find_elements(_by("CSS_SELECTOR"), "link[rel=stylesheet]")]
    base_css = next(href for href in hrefs if "/static/admin/css/base" in href)
    assert base_css.startswith(base_url)
    response = requests.get(base_css, timeout=10)
    assert response.status_code == 200
    assert "text/css" in response.headers["Content-Type"]


def test_the_security_member_reads_their_audit_log_and_nothing_of_another_workspace(
    browser: Any, live_server: Any, people: Tenants
) -> None:
    other = people.b.repository_name
    log_in(browser, live_server.url, "acme-security")
    _assert_styled(browser, live_server.url)
    screenshot(browser, "security-1-index")
    assert people.a.workspace.name in browser.page_source

    browser.get(f"{live_server.url}/admin/audit/auditevent/")
    rows = browser.find_elements(_by("CSS_SELECTOR"), "#result_list tbody tr")
    assert len(rows) == 2
    screenshot(browser, "security-2-audit-list")
    assert other not in browser.page_source
    assert people.b.workspace.public_id not in browser.page_source

    rows[0].find_element(_by("CSS_SELECTOR"), "th a").click()
    assert "/change/" in browser.current_url
    screenshot(browser, "security-3-audit-event")
    assert people.a.workspace.public_id in browser.page_source
    assert other not in browser.page_source

    browser.get(f"{live_server.url}/admin/audit/auditevent/{people.b.mint_event.pk}/change/")
    assert browser.find_element(_by("TAG_NAME"), "h1").text == "Not found"
    assert other not in browser.page_source


def test_the_billing_member_sees_the_plan_and_usage_but_not_the_audit_log(
    browser: Any, live_server: Any, people: Tenants
) -> None:
    log_in(browser, live_server.url, "acme-billing")
    _assert_styled(browser, live_server.url)
    browser.get(f"{live_server.url}/admin/workspaces/workspace/{people.a.workspace.pk}/change/")
    assert browser.find_element(_by("ID"), "landing-usage").is_displayed()
    assert not browser.find_elements(_by("ID"), "landing-installations")
    screenshot(browser, "billing-1-workspace")

    browser.get(f"{live_server.url}/admin/audit/auditevent/")
    assert browser.find_element(_by("TAG_NAME"), "h1").text == "Not allowed"
    assert people.a.repository_name not in browser.page_source
    screenshot(browser, "billing-2-audit-refused")
    browser.get(f"{live_server.url}/admin/")
    assert not browser.find_elements(_by("CSS_SELECTOR"), "a[href='/admin/audit/auditevent/']")


def test_the_workspace_admin_switches_sts_off_and_the_next_mint_is_refused(
    browser: Any, live_server: Any, people: Tenants, github_sim: Any, client: Client
) -> None:
    workspace = people.a.workspace
    world = World(sim=github_sim, workspace=workspace)
    installation = world.installation("acme")
    # The mint wants the caller's own repository covered by a live installation of the workspace.
    caller = installation.repositories.filter(full_name=CALLER["repository"]).first()
    caller_id = caller.github_id if caller is not None else world.repository(CALLER["repository"], installation)
    world.source("acme/modules", installation, ADMITS_ACME_APP)
    identity = {**CALLER, "repository_id": str(caller_id)}
    session, _ = session_issue(workspace=workspace, identity=identity, request_id="req_browser")
    assert mint(client, session, {"sources": ["acme/modules"]}).status_code == 200

    log_in(browser, live_server.url, "acme-admin")
    browser.get(f"{live_server.url}/admin/workspaces/workspace/{workspace.pk}/change/")
    _assert_styled(browser, live_server.url)
    screenshot(browser, "admin-1-workspace")
    switch = browser.find_element(_by("ID"), "id_sts_enabled")
    assert switch.is_selected()
    switch.click()
    browser.find_element(_by("NAME"), "_save").click()
    message = browser.find_element(_by("CSS_SELECTOR"), "ul.messagelist li.success")  # waits for the next page
    assert "was changed successfully" in message.text
    screenshot(browser, "admin-2-sts-switched-off")

    workspace.refresh_from_db()
    assert workspace.sts_enabled is False
    refused = mint(client, session, {"sources": ["acme/modules"]})
    assert refused.status_code == 403
    assert refused.json()["errorTag"] == "StsNotEntitled"
    assert Membership.objects.get(user__username="acme-admin").role == Membership.Role.ADMIN
