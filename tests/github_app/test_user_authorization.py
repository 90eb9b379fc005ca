"""github_app.user_authorization against the simulator's web host and API: a code becomes a user token,
the token lists the installations the person can reach; every failure is one of our error family and
none of them carries the code, the token or the client secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from github_app import user_authorization
from github_app.errors import GitHubAuthenticationFailed, GitHubError, GitHubRateLimited, GitHubUnavailable
from github_app.user_authorization import GitHubCodeRefused, InstallationAccount, OAuthApp, UserToken
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
    assert oauth.installation_account(token, acme) is not None
    assert oauth.installation_account(token, globex) is None


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
        oauth.installation_account(token, 1)
    assert token.value not in str(failed.value)


def test_a_token_github_does_not_know_is_refused(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    with pytest.raises(GitHubAuthenticationFailed):
        oauth.installation_account(UserToken("ghu_" + "x" * 36), 1)


def test_it_pages_until_it_finds_the_installation(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    organizations = [f"org{n:03}" for n in range(150)]
    ids = [github_sim.add_installation(name) for name in organizations]
    github_sim.add_user("busy", admin_of=organizations)
    token = oauth.user_token_for(code_for(github_sim, "busy"))

    assert oauth.installation_account(token, ids[0]) is not None
    assert github_sim.calls["user_installations"] == 1
    assert oauth.installation_account(token, ids[-1]) is not None
    assert github_sim.calls["user_installations"] == 3
    assert oauth.installation_account(token, 1) is None
    assert github_sim.calls["user_installations"] == 5


# --- who administers an installation's account ---


def test_an_organization_admin_administers_its_installation(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    acme = github_sim.add_installation("acme")
    token = oauth.user_token_for(code_for(github_sim, "mona"))

    account = oauth.installation_account(token, acme)

    assert account is not None and (account.type, account.login) == ("Organization", "acme")
    assert oauth.user_administers(token, account) is True
    assert github_sim.calls["user_membership"] == 1


def test_a_plain_member_or_a_read_only_collaborator_reaches_but_does_not_administer(
    github_sim: GitHubSimulator, oauth: OAuthApp
) -> None:
    acme = github_sim.add_installation("acme")
    github_sim.add_repository("acme/app", installation_id=acme)
    github_sim.add_user("pat", member_of=["acme"])
    github_sim.add_user("reader")
    github_sim.add_collaborator("acme/app", "reader", permission="read")

    for login in ("pat", "reader"):
        token = oauth.user_token_for(code_for(github_sim, login))
        account = oauth.installation_account(token, acme)
        assert account is not None, login  # GitHub lists it: any explicit permission counts there
        assert oauth.user_administers(token, account) is False, login


def test_a_personal_account_is_administered_by_its_owner_only(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    own = github_sim.add_installation("hubot", account_type="User")
    github_sim.add_repository("hubot/dotfiles", installation_id=own)
    github_sim.add_collaborator("hubot/dotfiles", "mona", permission="admin")

    hubot = oauth.user_token_for(code_for(github_sim, "hubot"))
    mona = oauth.user_token_for(code_for(github_sim, "mona"))
    account = oauth.installation_account(hubot, own)

    assert account is not None and account.type == "User"
    assert oauth.user_administers(hubot, account) is True
    assert oauth.installation_account(mona, own) == account
    assert oauth.user_administers(mona, account) is False


def test_a_pending_admin_or_an_unknown_account_type_is_not_an_administrator(
    github_sim: GitHubSimulator, oauth: OAuthApp
) -> None:
    acme = github_sim.add_installation("acme")
    github_sim.add_user("invited")
    github_sim.add_membership("acme", "invited", role="admin", state="pending")
    token = oauth.user_token_for(code_for(github_sim, "invited"))
    account = InstallationAccount(type="Organization", login="acme", id=github_sim.installations[acme].account.id)

    assert oauth.installation_account(token, acme) is None
    assert oauth.user_administers(token, account) is False
    mona = oauth.user_token_for(code_for(github_sim, "mona"))
    assert oauth.user_administers(mona, InstallationAccount(type="Enterprise", login="acme", id=account.id)) is False


def answering(monkeypatch: pytest.MonkeyPatch, ending: str, status: int, body: Any) -> None:
    """GitHub's API answers `status` and `body` (JSON, or raw bytes) on the URL path ending `ending`."""
    real = user_authorization.http_request

    def fake(method: str, url: str, **kwargs: Any) -> requests.Response:
        if not urlsplit(url).path.endswith(ending):
            return real(method, url, **kwargs)
        response = requests.Response()
        response.status_code, response.url = status, url
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        return response

    monkeypatch.setattr(user_authorization, "http_request", fake)


def membership(**changes: Any) -> Callable[[int], dict[str, Any]]:
    def body(acme_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = {"state": "active", "role": "admin", "organization": {"login": "acme", "id": acme_id}}
        for name, value in changes.items():
            if value is ...:
                answer.pop(name)
            elif name.startswith("org_"):
                answer["organization"][name[4:]] = value
            else:
                answer[name] = value
        return answer

    return body


@pytest.mark.parametrize(
    "hostile",
    [
        membership(state=...),
        membership(role=...),
        membership(organization=...),
        membership(state="pending"),
        membership(state="ACTIVE"),
        membership(role="member"),
        membership(role="Admin"),
        membership(role=["admin"]),
        membership(organization="acme"),
        membership(org_login="globex"),
        membership(org_login=None),
        membership(org_id=999_999),
        membership(org_id="1"),
        membership(org_id=True),
        membership(org_id=None),
        lambda _acme_id: {},
    ],
)
def test_a_membership_answer_short_of_an_active_admin_of_that_organization_is_no(
    github_sim: GitHubSimulator, oauth: OAuthApp, monkeypatch: pytest.MonkeyPatch, hostile: Callable[[int], Any]
) -> None:
    acme = github_sim.add_installation("acme")
    token = oauth.user_token_for(code_for(github_sim, "mona"))
    account = oauth.installation_account(token, acme)
    assert account is not None and oauth.user_administers(token, account) is True  # the real answer says yes
    answering(monkeypatch, "/user/memberships/orgs/acme", 200, hostile(account.id))

    assert oauth.user_administers(token, account) is False


@pytest.mark.parametrize(("status", "body"), [(404, {"message": "Not Found"}), (403, {"message": "Forbidden"})])
def test_not_a_member_or_not_visible_is_no(
    github_sim: GitHubSimulator, oauth: OAuthApp, monkeypatch: pytest.MonkeyPatch, status: int, body: Any
) -> None:
    token = oauth.user_token_for(code_for(github_sim, "mona"))
    answering(monkeypatch, "/user/memberships/orgs/acme", status, body)

    assert oauth.user_administers(token, InstallationAccount(type="Organization", login="acme", id=1)) is False


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(200, b"<html>hiccup</html>", GitHubUnavailable), (200, [], GitHubUnavailable), (502, {}, GitHubUnavailable)],
)
def test_a_membership_answer_github_does_not_document_is_github_unavailable(
    github_sim: GitHubSimulator,
    oauth: OAuthApp,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: Any,
    error: type[GitHubError],
) -> None:
    token = oauth.user_token_for(code_for(github_sim, "mona"))
    answering(monkeypatch, "/user/memberships/orgs/acme", status, body)

    with pytest.raises(error) as failed:
        oauth.user_administers(token, InstallationAccount(type="Organization", login="acme", id=1))
    assert token.value not in str(failed.value)


def test_a_rate_limited_membership_answer_is_an_error_not_a_no(github_sim: GitHubSimulator, oauth: OAuthApp) -> None:
    token = oauth.user_token_for(code_for(github_sim, "mona"))
    github_sim.fault("user_membership", kind="rate_limit")

    with pytest.raises(GitHubRateLimited):
        oauth.user_administers(token, InstallationAccount(type="Organization", login="acme", id=1))


@pytest.mark.parametrize(
    "hostile",
    [
        lambda own: {},
        lambda own: {"id": None, "login": "hubot"},
        lambda own: {"id": str(own), "login": "hubot"},
        lambda own: {"id": own + 1, "login": "hubot"},
        lambda own: {"id": True, "login": "hubot"},
        lambda own: {"id": -own, "login": "hubot"},
        lambda own: [own],
    ],
)
def test_a_user_answer_without_the_owners_id_is_no(
    github_sim: GitHubSimulator, oauth: OAuthApp, monkeypatch: pytest.MonkeyPatch, hostile: Callable[[int], Any]
) -> None:
    own = github_sim.add_installation("hubot", account_type="User")
    token = oauth.user_token_for(code_for(github_sim, "hubot"))
    account = oauth.installation_account(token, own)
    assert account is not None and oauth.user_administers(token, account) is True  # the real answer says yes
    answering(monkeypatch, "/user", 200, hostile(account.id))

    assert oauth.user_administers(token, account) is False


@pytest.mark.parametrize(("status", "body"), [(200, b"not json"), (502, {"message": "Bad Gateway"})])
def test_a_user_answer_github_does_not_document_is_github_unavailable(
    github_sim: GitHubSimulator, oauth: OAuthApp, monkeypatch: pytest.MonkeyPatch, status: int, body: Any
) -> None:
    token = oauth.user_token_for(code_for(github_sim, "hubot"))
    answering(monkeypatch, "/user", status, body)

    with pytest.raises(GitHubUnavailable):
        oauth.user_administers(token, InstallationAccount(type="User", login="hubot", id=1))


@pytest.mark.parametrize(
    "hostile_account",
    [None, {}, {"login": "acme", "id": 5}, {"type": "Organization", "login": "", "id": 5},
     {"type": "Organization", "login": "acme", "id": "5"}, {"type": "Organization", "login": "acme", "id": False}],
)  # fmt: skip
def test_an_installation_listed_without_its_account_is_github_unavailable(
    github_sim: GitHubSimulator, oauth: OAuthApp, monkeypatch: pytest.MonkeyPatch, hostile_account: Any
) -> None:
    token = oauth.user_token_for(code_for(github_sim, "mona"))
    answering(monkeypatch, "/user/installations", 200, {"installations": [{"id": 7, "account": hostile_account}]})

    with pytest.raises(GitHubUnavailable):
        oauth.installation_account(token, 7)
