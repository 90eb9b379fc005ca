"""The whole flow as a person does it, in one browser session across our server and GitHub's web host:
sign in at GitHub, log in to the admin, press "Install on GitHub", pick the organization at GitHub, come
back linked. Then neither the person's user token, the App's client secret nor the code is anywhere."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import pytest
import requests
from django.apps import apps
from django.urls import reverse

from audit.models import AuditEvent
from githubsim import GitHubSimulator
from workspaces.models import GitHubInstallation, Membership

from .conftest import SETUP_PATH, People

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """A requests session that keeps every page it was shown, redirects included."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False
        self.pages: list[requests.Response] = []

    def get(self, url: str, **kwargs: object) -> requests.Response:
        return self._seen(self.session.get(url, **kwargs))  # type: ignore[arg-type]

    def post(self, url: str, **kwargs: object) -> requests.Response:
        return self._seen(self.session.post(url, **kwargs))  # type: ignore[arg-type]

    def _seen(self, response: requests.Response) -> requests.Response:
        self.pages.extend([*response.history, response])
        return response


def submit(browser: Browser, page: requests.Response, form_id: str = "", **fields: str) -> requests.Response:
    """Submits a form of the page (the one with `form_id`, or the first) with its hidden fields and `fields`."""
    forms = re.findall(r"<form ([^>]*)>(.*?)</form>", page.text, re.S)
    chosen = next((form for form in forms if not form_id or f'id="{form_id}"' in form[0]), None)
    assert chosen is not None, page.text
    action = re.search(r'action="([^"]+)"', chosen[0])
    assert action is not None and 'method="post"' in chosen[0]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', chosen[1]))
    parts = urlsplit(page.url)
    target = (
        action.group(1) if action.group(1).startswith("http") else f"{parts.scheme}://{parts.netloc}{action.group(1)}"
    )
    return browser.post(target, data={**hidden, **fields})


@pytest.fixture
def installed(
    github_sim: GitHubSimulator, people: People, live_server: object, caplog: pytest.LogCaptureFixture
) -> Browser:
    caplog.set_level(logging.DEBUG)
    base = str(live_server.url)  # type: ignore[attr-defined]
    github_sim.configure_oauth(callback_url=f"{base}{SETUP_PATH}")
    github_sim.add_user("mona", admin_of=["acme"])
    for name in ("acme/infra", "acme/mods"):
        github_sim.add_repository(name)
    browser = Browser()

    # At GitHub: mona is signed in (the simulator's sign-in page).
    assert browser.get(f"{github_sim.web_url}/login", params={"login": "mona"}).status_code == 200
    # At ours: the workspace admin logs in to the admin with the login form.
    login_page = browser.get(f"{base}{reverse('admin:login')}")
    token = CSRF_FIELD.search(login_page.text)
    assert token is not None
    logged_in = browser.post(
        login_page.url,
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": "acme-admin",
            "password": "pw-admin",
            "next": "/admin/",
        },
    )
    assert logged_in.status_code == 200 and "Your workspaces" in logged_in.text
    workspace_page = browser.get(f"{base}{reverse('admin:workspaces_workspace_change', args=[people.workspace.pk])}")
    assert "Install on GitHub" in workspace_page.text

    # The button: a POST with its CSRF token, which lands on the App's installation page at GitHub.
    github_page = submit(browser, workspace_page, "install-on-github")
    assert github_page.url.startswith(f"{github_sim.web_url}/apps/{github_sim.app_slug}/installations/new?state=")
    assert 'value="acme"' in github_page.text

    # At GitHub: install on acme; GitHub sends the browser back to our setup URL.
    result = submit(browser, github_page, account="acme")
    assert result.url.startswith(f"{base}{SETUP_PATH}?")
    assert result.status_code == 200, result.text
    return browser


@pytest.mark.django_db(transaction=True)
def test_an_admin_installs_the_app_from_the_workspace_page_and_it_is_linked(
    github_sim: GitHubSimulator, people: People, installed: Browser
) -> None:
    result = installed.pages[-1]
    installation = GitHubInstallation.objects.get()
    assert "is now linked to" in result.text and f"Installation {installation.github_id} (acme)" in result.text
    assert installation.workspace == people.workspace
    assert github_sim.installations[installation.github_id].account.login == "acme"
    assert sorted(installation.repositories.values_list("full_name", flat=True)) == ["acme/infra", "acme/mods"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_INSTALLATION_CHANGED)
    admin = people.users[Membership.Role.ADMIN].username
    assert (event.outcome, event.workspace_public_id, event.actor) == ("allowed", people.workspace.public_id, admin)
    # The same link pressed again (a reload of the page GitHub sent back) links nothing twice.
    again = installed.get(result.url)
    assert again.status_code == 400 and "used already" in again.text


@pytest.mark.django_db(transaction=True)
def test_no_user_token_client_secret_or_code_is_logged_stored_audited_or_shown(
    github_sim: GitHubSimulator, people: People, installed: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    codes = [
        value for page in installed.pages for value in re.findall(r"[?&]code=([^&]+)", page.headers.get("Location", ""))
    ]
    secrets = {"client secret": github_sim.client_secret}
    secrets.update({f"user token {n}": token for n, token in enumerate(github_sim.oauth.user_tokens_issued)})
    secrets.update({f"code {n}": code for n, code in enumerate(codes)})
    assert len(secrets) >= 3  # the secret, the user token, the code: the search looks for something real

    ours = "\n".join(page.text for page in installed.pages if not page.url.startswith(github_sim.web_url))
    everything = "\n".join(page.text + json.dumps(dict(page.headers)) for page in installed.pages)
    audit = "\n".join(json.dumps([e.identity, e.detail, e.error_tag]) for e in AuditEvent.objects.all())
    database = "\n".join(
        repr(list(model._default_manager.values_list())) for model in apps.get_models() if model._meta.managed
    )
    # The flow ran while the fixture was set up: its records are that phase's.
    # The test's own browser (requests, through urllib3) logs the URLs it opens on our server: that is
    # the person's browser, not our server; our server calls only GitHub's hosts (127.0.0.1).
    browser_host = urlsplit(installed.pages[-1].url).hostname
    records = [
        record
        for record in caplog.get_records("setup") + caplog.get_records("call")
        if not (record.name.startswith("urllib3") and browser_host in map(str, record.args or ()))
    ]
    assert any(record.name.startswith("workspaces") for record in records)  # the capture did capture our logs
    logs = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in records)
    for name, value in secrets.items():
        assert value not in logs, f"{name} in the logs"
        assert value not in ours, f"{name} on one of our pages"
        assert value not in audit, f"{name} in the audit log"
        assert value not in database, f"{name} in the database"
    assert github_sim.client_secret not in everything
    assert all(token not in everything for token in github_sim.oauth.user_tokens_issued)
