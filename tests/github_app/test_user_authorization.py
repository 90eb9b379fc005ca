"""github_app.user_authorization against the simulator's web host and API: a code becomes a user token,
the token lists the installations the person can reach; every failure is one of our error family and
none of them carries the code, the token or the client secret."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from github_app.errors import GitHubAuthenticationFailed, GitHubError, GitHubUnavailable
from github_app.user_authorization import GitHubCodeRefused, OAuthApp, UserToken
from githubsim import GitHubSimulator

CALLBACK = "https://atmos.example/github/setup"


@pytest.fixture
def oauth(github_sim: GitHubSimulator) -> OAuthApp:
    github_sim.configure_oauth(callback_url=CALLBACK)
    github_sim.add_user("mona", admin_of=["acme"])
    github_sim.add_user("hubot")
    return OAuthApp.from_settings()


def code_for(sim: GitHubSimulator, login: str) -> str:
    session = requests.Session()
    session.trust_env = False
    response = session.get(
        f"{sim.web_url}/login/oauth/authorize",
        params={"client_id": sim.client_id, "login": login},
        allow_redirects=False,
    )
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def test_a_code_becomes_a_user_token_that_reaches_the_persons_installations(
    github_sim: GitHubSimulator, oauth: OAuthApp
) -> None:
    acme, globex = github_sim.add_installation("acme"), github_sim.add_installation("globex")

    token = oauth.user_token_for(code_for(github_sim, "mona"))

    assert token.value in github_sim.oauth.user_tokens_issued
    assert oauth.user_can_reach_installation(token, acme) is True
    assert oauth.user_can_reach_installation(token, globex) is False


def test_neither_the_token_nor_the_client_secret_shows_in_a_repr(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    token = oauth.user_token_for(code_for(github_sim, "mona"))

    assert token.value not in repr(token) and github_sim.client_secret not in repr(oauth)


def test_a_code_works_once(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    code = code_for(github_sim, "mona")
    oauth.user_token_for(code)

    with pytest.raises(GitHubCodeRefused) as refused:
        oauth.user_token_for(code)

    assert code not in str(refused.value)


@pytest.mark.parametrize("code", ["0" * 20, "", "x" * 500])
def test_a_made_up_code_is_refused(github_sim: GitHubSimulator, oauth: OAuthApp, code: str) -> None:
    with pytest.raises(GitHubCodeRefused):
        oauth.user_token_for(code)


def test_wrong_client_credentials_are_an_authentication_failure_that_does_not_repeat_them(
    github_sim: GitHubSimulator, oauth: OAuthApp, settings: Any
) -> None:
    settings.GITHUB_APP_CLIENT_SECRET = "cs-wrong-q8Lm2Rt7"
    with pytest.raises(GitHubAuthenticationFailed) as refused:
        OAuthApp.from_settings().user_token_for(code_for(github_sim, "mona"))
    assert "cs-wrong" not in str(refused.value)


def test_without_client_credentials_nothing_is_asked(github_sim: GitHubSimulator, settings: Any) -> None:
    settings.GITHUB_APP_CLIENT_ID = ""
    with pytest.raises(GitHubAuthenticationFailed):
        OAuthApp.from_settings()
    assert github_sim.calls["oauth_access_token"] == 0


@pytest.mark.parametrize(("kind", "status"), [("status", 500), ("status", 404), ("malformed", None), ("reset", None)])
def test_the_web_host_failing_is_github_unavailable(
    github_sim: GitHubSimulator, oauth: OAuthApp, kind: str, status: int | None
) -> None:
    github_sim.fault("oauth_access_token", kind=kind, status=status)
    with pytest.raises(GitHubUnavailable):
        oauth.user_token_for(code_for(github_sim, "mona"))


@pytest.mark.parametrize(("kind", "status"), [("status", 502), ("malformed", None), ("rate_limit", None)])
def test_the_api_failing_to_list_installations_is_one_of_our_errors(
    github_sim: GitHubSimulator, oauth: OAuthApp, kind: str, status: int | None
) -> None:
    token = oauth.user_token_for(code_for(github_sim, "mona"))
    github_sim.fault("user_installations", kind=kind, status=status, times=5)
    with pytest.raises(GitHubError) as failed:
        oauth.user_can_reach_installation(token, 1)
    assert token.value not in str(failed.value)


def test_a_token_github_does_not_know_is_refused(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    with pytest.raises(GitHubAuthenticationFailed):
        oauth.user_can_reach_installation(UserToken("ghu_" + "x" * 36), 1)


def test_it_pages_until_it_finds_the_installation(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    organizations = [f"org{n:03}" for n in range(150)]
    ids = [github_sim.add_installation(name) for name in organizations]
    github_sim.add_user("busy", admin_of=organizations)
    token = oauth.user_token_for(code_for(github_sim, "busy"))

    assert oauth.user_can_reach_installation(token, ids[0]) is True
    assert github_sim.calls["user_installations"] == 1
    assert oauth.user_can_reach_installation(token, ids[-1]) is True
    assert github_sim.calls["user_installations"] == 3
    assert oauth.user_can_reach_installation(token, 1) is False
    assert github_sim.calls["user_installations"] == 5
