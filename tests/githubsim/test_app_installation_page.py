"""The App's installation page on the web host: sign in, pick an account, install; then GitHub sends the
person to the callback URL with the installation, the state and a code (user authorization during installation)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer

CALLBACK = "https://atmos.example/github/setup"


@pytest.fixture
def mona(github_sim: GitHubSimulator, http: requests.Session) -> requests.Session:
    """A browser in which mona (member of acme) is signed in to the simulator's web host."""
    github_sim.configure_oauth(callback_url=CALLBACK)
    github_sim.add_user("mona", admin_of=["acme"])
    github_sim.add_repository("acme/infra")
    signed_in = http.get(f"{github_sim.web_url}/login", params={"login": "mona"}, allow_redirects=False)
    assert signed_in.status_code == 302 and "user_session" in http.cookies
    return http


def page_url(sim: GitHubSimulator, slug: str | None = None) -> str:
    return f"{sim.web_url}/apps/{slug or sim.app_slug}/installations/new"


def install(sim: GitHubSimulator, browser: requests.Session, account: str, state: str = "st-1") -> dict[str, str]:
    page = browser.get(page_url(sim), params={"state": state})
    assert page.status_code == 200 and f'value="{account}"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    answer = browser.post(sim.web_url + action.group(1), data={**fields, "account": account}, allow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def test_installing_sends_the_person_to_the_callback_with_installation_state_and_code(
    github_sim: GitHubSimulator, mona: requests.Session
) -> None:
    back = install(github_sim, mona, "acme")

    installation_id = int(back["installation_id"])
    assert back["setup_action"] == "install" and back["state"] == "st-1"
    assert github_sim.installations[installation_id].account.login == "acme"
    assert [r.full_name for r in github_sim.installation_repositories(github_sim.installations[installation_id])] == [
        "acme/infra"
    ]
    token = mona.post(
        f"{github_sim.web_url}/login/oauth/access_token",
        data={"client_id": github_sim.client_id, "client_secret": github_sim.client_secret, "code": back["code"]},
        headers={"Accept": "application/json"},
    ).json()["access_token"]
    listed = mona.get(f"{github_sim.api_url}/user/installations", headers=bearer(token)).json()
    assert [i["id"] for i in listed["installations"]] == [installation_id]


def test_installing_where_the_app_already_is_answers_an_update_of_that_installation(
    github_sim: GitHubSimulator, mona: requests.Session
) -> None:
    existing = github_sim.add_installation("acme")

    back = install(github_sim, mona, "acme")

    assert (int(back["installation_id"]), back["setup_action"]) == (existing, "update")


def test_a_person_installs_on_their_own_account_as_a_user_installation(
    github_sim: GitHubSimulator, mona: requests.Session
) -> None:
    back = install(github_sim, mona, "mona")

    assert github_sim.installations[int(back["installation_id"])].account.type == "User"


def test_no_account_the_person_does_not_belong_to_is_offered_or_accepted(
    github_sim: GitHubSimulator, mona: requests.Session
) -> None:
    page = mona.get(page_url(github_sim), params={"state": "s"})
    assert 'value="globex"' not in page.text

    refused = mona.post(f"{github_sim.web_url}/apps/{github_sim.app_slug}/installations", data={"account": "globex"})

    assert refused.status_code == 404 and not github_sim.installations


def test_without_a_signed_in_person_the_page_asks_to_sign_in_and_installs_nothing(
    github_sim: GitHubSimulator, http: requests.Session
) -> None:
    github_sim.add_user("mona", admin_of=["acme"])
    page = http.get(page_url(github_sim), params={"state": "s"}, allow_redirects=False)
    posted = http.post(f"{github_sim.web_url}/apps/{github_sim.app_slug}/installations", data={"account": "acme"})

    assert page.status_code == 200 and "Sign in" in page.text and "Install" not in page.text.split("Sign in")[0]
    assert posted.status_code == 404 and not github_sim.installations


def test_an_unknown_app_slug_is_not_found(github_sim: GitHubSimulator, mona: requests.Session) -> None:
    assert mona.get(page_url(github_sim, "someone-elses-app")).status_code == 404


def test_signing_in_refuses_unknown_people_and_returns_only_to_its_own_pages(
    github_sim: GitHubSimulator, http: requests.Session
) -> None:
    github_sim.add_user("mona")
    unknown = http.get(f"{github_sim.web_url}/login", params={"login": "nobody"}, allow_redirects=False)
    offsite = http.get(
        f"{github_sim.web_url}/login", params={"login": "mona", "return_to": "//evil.example/x"}, allow_redirects=False
    )

    assert unknown.status_code == 200 and "user_session" not in unknown.headers.get("Set-Cookie", "")
    assert offsite.headers["Location"] == "/"


def test_user_installations_are_paged_with_a_link_header(github_sim: GitHubSimulator, mona: requests.Session) -> None:
    for n in range(3):
        github_sim.add_user(f"org-owner-{n}")
    ids = [github_sim.add_installation(f"org{n}") for n in range(3)]
    github_sim.add_user("many", admin_of=[f"org{n}" for n in range(3)])
    code = parse_qs(
        urlsplit(
            mona.get(
                f"{github_sim.web_url}/login/oauth/authorize",
                params={"client_id": github_sim.client_id, "login": "many", "redirect_uri": CALLBACK},
                allow_redirects=False,
            ).headers["Location"]
        ).query
    )["code"][0]
    token = mona.post(
        f"{github_sim.web_url}/login/oauth/access_token",
        data={"client_id": github_sim.client_id, "client_secret": github_sim.client_secret, "code": code},
        headers={"Accept": "application/json"},
    ).json()["access_token"]

    first = mona.get(f"{github_sim.api_url}/user/installations?per_page=2", headers=bearer(token))
    second = mona.get(first.links["next"]["url"], headers=bearer(token))

    assert first.json()["total_count"] == 3
    assert [i["id"] for i in first.json()["installations"] + second.json()["installations"]] == ids
    assert "next" not in second.links


def test_an_organization_a_person_is_a_plain_member_of_is_not_offered_nor_accepted(
    github_sim: GitHubSimulator, mona: requests.Session
) -> None:
    github_sim.add_membership("initech", "mona")  # a plain member: GitHub lets them only request it
    github_sim.add_membership("umbrella", "mona", role="admin", state="pending")

    page = mona.get(page_url(github_sim), params={"state": "s"})
    assert 'value="acme"' in page.text
    assert 'value="initech"' not in page.text and 'value="umbrella"' not in page.text

    for account in ("initech", "umbrella"):
        refused = mona.post(f"{github_sim.web_url}/apps/{github_sim.app_slug}/installations", data={"account": account})
        assert refused.status_code == 404
    assert not github_sim.installations
