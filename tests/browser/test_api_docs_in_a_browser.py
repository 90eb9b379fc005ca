"""The API's docs page (`/api/v1/docs/`) in headless Chromium: Swagger UI renders every route from the
served description, its files come from our static files, and its Content-Security-Policy (no
`unsafe-inline`) refuses nothing the page needs."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

ROUTES = ["/api/v1/auth/github-oidc", "/api/v1/sts", "/api/v1/sts/revoke"]


def test_the_docs_page_renders_every_route_under_its_content_security_policy(browser: Any, live_server: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = requests.get(f"{live_server.url}/api/v1/docs/", timeout=30)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in page.text and "<style>" not in page.text  # nothing inline to refuse
    assert "cdn" not in page.text.lower()

    browser.get(f"{live_server.url}/api/v1/docs/")
    WebDriverWait(browser, 30).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= 3)
    shown = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    assert sorted(path.replace("\u200b", "") for path in shown) == ROUTES
    browser.find_element(By.CSS_SELECTOR, "#operations-sts-sts_mint .opblock-summary").click()
    WebDriverWait(browser, 10).until(lambda driver: "InvalidMintRequest" in driver.page_source)
    screenshot(browser, "api-docs")

    console = [entry["message"] for entry in browser.get_log("browser")]
    refused = [message for message in console if "Content Security Policy" in message or "Refused" in message]
    assert refused == []
