"""A workspace admin installs the GitHub App from the workspace's page in a real browser: the button, the
simulator's GitHub (sign in, pick the organization, install), and back on our page, linked."""

from __future__ import annotations

from typing import Any

from githubsim import GitHubSimulator
from tests.browser.conftest import log_in, screenshot
from tests.workspaces.admin.tenants import Tenants
from workspaces.models import GitHubInstallation


def test_a_workspace_admin_installs_the_app_on_an_organization_and_it_is_linked(
    browser: Any, live_server: Any, people: Tenants, github_sim: GitHubSimulator
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def arrives_at(prefix: str) -> None:
        # A click returns before the browser has loaded the next page: wait for it (on a busy machine too).
        WebDriverWait(browser, 20).until(lambda driver: driver.current_url.startswith(prefix))

    github_sim.configure_oauth(callback_url=f"{live_server.url}/github/setup")
    github_sim.add_user("octocat", admin_of=["initech"])
    github_sim.add_repository("initech/platform")
    workspace = people.a.workspace
    log_in(browser, live_server.url, "acme-admin")

    browser.get(f"{live_server.url}/admin/workspaces/workspace/{workspace.pk}/change/")
    button = browser.find_element(By.CSS_SELECTOR, "#install-on-github button")
    assert button.text == "Install on GitHub" and button.is_displayed()
    screenshot(browser, "install-1-workspace-page")
    button.click()

    # GitHub (the simulator's web host): sign in, then choose the organization and install.
    arrives_at(f"{github_sim.web_url}/apps/{github_sim.app_slug}/installations/new")
    browser.find_element(By.NAME, "login").send_keys("octocat")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.find_element(By.CSS_SELECTOR, "input[value=initech]").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    arrives_at(f"{live_server.url}/github/setup?")
    message = browser.find_element(By.ID, "installation-linked").text
    screenshot(browser, "install-2-linked")
    installation = GitHubInstallation.objects.get(account_login="initech")
    assert f"Installation {installation.github_id} (initech) is now linked to workspace {workspace.name}" in message
    assert installation.workspace == workspace
    assert list(installation.repositories.values_list("full_name", flat=True)) == ["initech/platform"]

    browser.find_element(By.LINK_TEXT, "Back to the workspace").click()
    arrives_at(f"{live_server.url}/admin/workspaces/workspace/")
    rows = browser.find_element(By.ID, "landing-installations").text
    assert "initech" in rows and str(installation.github_id) in rows
    screenshot(browser, "install-3-back-on-the-workspace")
