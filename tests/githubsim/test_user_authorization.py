"""The user-authorization web flow on the web host, and GET /user/installations with the user token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from githubsim import GitHubSimulator
from githubsim.client import SimulatorClient, SimulatorError

from .conftest import bearer

CALLBACK = "https://atmos.example/github/setup"
JSON = {"Accept": "application/json"}


@pytest.fixture
def people(github_sim: GitHubSimulator) -> dict[str, int]:
    github_sim.configure_oauth(callback_url=CALLBACK)
    acme = github_sim.add_installation("acme")
    globex = github_sim.add_installation("globex")
    own = github_sim.add_installation("mona", account_type="User")
    github_sim.add_user("mona", admin_of=["acme"])
    github_sim.add_user("hubot")
    return {"acme": acme, "globex": globex, "mona": own}


def authorize(sim: GitHubSimulator, http: requests.Session, **params: str) -> requests.Response:
    query = {"client_id": sim.client_id, "state": "s-123", **params}
    return http.get(f"{sim.web_url}/login/oauth/authorize", params=query, allow_redirects=False)


def code_for(sim: GitHubSimulator, http: requests.Session, login: str) -> str:
    response = authorize(sim, http, login=login, redirect_uri=CALLBACK)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


def exchange(sim: GitHubSimulator, http: requests.Session, code: str, **extra: str) -> requests.Response:
    body = {"client_id": sim.client_id, "client_secret": sim.client_secret, "code": code, **extra}
    return http.post(f"{sim.web_url}/login/oauth/access_token", data=body, headers=JSON)


def test_the_flow_gives_a_user_token_that_lists_the_persons_installations(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    answer = exchange(github_sim, http, code_for(github_sim, http, "mona"))

    assert answer.status_code == 200
    token = answer.json()["access_token"]
    assert token.startswith("ghu_") and answer.json()["token_type"] == "bearer"
    listed = http.get(f"{github_sim.api_url}/user/installations", headers=bearer(token)).json()
    assert sorted(i["id"] for i in listed["installations"]) == sorted([people["acme"], people["mona"]])
    assert listed["total_count"] == 2
    assert http.get(f"{github_sim.api_url}/user", headers=bearer(token)).json()["login"] == "mona"


def test_a_person_in_no_organization_sees_no_installation(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    token = exchange(github_sim, http, code_for(github_sim, http, "hubot")).json()["access_token"]

    assert http.get(f"{github_sim.api_url}/user/installations", headers=bearer(token)).json()["total_count"] == 0


def test_a_code_works_once(github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session) -> None:
    code = code_for(github_sim, http, "mona")
    assert "access_token" in exchange(github_sim, http, code).json()

    again = exchange(github_sim, http, code)

    assert again.status_code == 200
    assert again.json()["error"] == "bad_verification_code"
    assert "access_token" not in again.json()


def test_an_expired_or_made_up_code_is_a_bad_verification_code(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    github_sim.oauth.code_lifetime_seconds = 0
    expired = code_for(github_sim, http, "mona")

    for code in (expired, "0" * 20, ""):
        answer = exchange(github_sim, http, code)
        assert (answer.status_code, answer.json()["error"]) == (200, "bad_verification_code")


def test_wrong_client_credentials_are_refused_and_the_code_survives_only_if_unused(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    code = code_for(github_sim, http, "mona")

    wrong = exchange(github_sim, http, code, client_secret="not-the-secret")

    assert wrong.json()["error"] == "incorrect_client_credentials"
    assert "access_token" in exchange(github_sim, http, code).json()


def test_without_accept_json_the_answer_is_form_encoded(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    body = {"client_id": github_sim.client_id, "client_secret": github_sim.client_secret, "code": "nope"}
    answer = http.post(f"{github_sim.web_url}/login/oauth/access_token", data=body)

    assert answer.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(answer.text)["error"] == ["bad_verification_code"]


def test_a_redirect_uri_outside_the_callback_is_sent_back_to_the_callback_with_an_error(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    response = authorize(github_sim, http, login="mona", redirect_uri="https://evil.example/steal")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    assert parse_qs(location.query)["error"] == ["redirect_uri_mismatch"]
    assert "code" not in parse_qs(location.query)


def test_a_code_is_bound_to_its_redirect_uri(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    code = code_for(github_sim, http, "mona")

    answer = exchange(github_sim, http, code, redirect_uri=CALLBACK + "/other")

    assert answer.json()["error"] == "redirect_uri_mismatch"


def test_an_unknown_client_or_no_signed_in_person_gets_no_code(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    assert authorize(github_sim, http, client_id="Iv1.other", login="mona").status_code == 404
    page = authorize(github_sim, http)
    assert page.status_code == 200 and "Location" not in page.headers


def test_the_oauth_routes_are_not_on_the_api_host(github_sim: GitHubSimulator, http: requests.Session) -> None:
    response = http.get(f"{github_sim.api_url}/login/oauth/authorize", params={"client_id": github_sim.client_id})
    assert response.status_code == 404


def test_user_installations_refuse_other_credentials(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session, as_app: dict[str, str]
) -> None:
    url = f"{github_sim.api_url}/user/installations"
    assert http.get(url).status_code == 401
    assert http.get(url, headers=bearer("ghu_" + "a" * 36)).status_code == 401
    assert http.get(url, headers=as_app).status_code == 401
    installation_token = http.post(
        f"{github_sim.api_url}/app/installations/{people['acme']}/access_tokens", headers=as_app, json={}
    ).json()["token"]
    assert http.get(url, headers=bearer(installation_token)).status_code == 403


def test_the_control_api_seeds_people_and_the_callback(github_sim: GitHubSimulator, http: requests.Session) -> None:
    client = SimulatorClient(github_sim.api_url)
    client.add_user("octo", admin_of=["acme"])
    client.configure_oauth(callback_url=CALLBACK)

    assert client.config["web_url"] == github_sim.web_url
    assert github_sim.oauth.is_member("acme", "octo") and github_sim.oauth_callback_url == CALLBACK


def token_of(sim: GitHubSimulator, http: requests.Session, login: str) -> dict[str, str]:
    return bearer(exchange(sim, http, code_for(sim, http, login)).json()["access_token"])


def listed_ids(sim: GitHubSimulator, http: requests.Session, login: str) -> list[int]:
    answer = http.get(f"{sim.api_url}/user/installations", headers=token_of(sim, http, login))
    assert answer.status_code == 200
    return sorted(item["id"] for item in answer.json()["installations"])


def test_user_installations_list_any_explicit_permission_as_github_does(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    """A plain member and an outside collaborator with read access see the installation listed (GitHub
    lists any permission level): being listed proves nothing about administering it."""
    github_sim.add_user("pat", member_of=["globex"])
    github_sim.add_user("reader")
    github_sim.add_repository("globex/app", installation_id=people["globex"])
    github_sim.add_repository("globex/uncovered")  # the globex installation does not cover it
    github_sim.add_collaborator("globex/app", "reader")
    github_sim.add_user("outside")
    github_sim.add_collaborator("globex/uncovered", "outside", permission="admin")
    github_sim.add_user("invited")
    github_sim.add_membership("globex", "invited", role="admin", state="pending")

    assert listed_ids(github_sim, http, "pat") == [people["globex"]]
    assert listed_ids(github_sim, http, "reader") == [people["globex"]]
    assert listed_ids(github_sim, http, "outside") == []
    assert listed_ids(github_sim, http, "invited") == []  # an invitation not yet accepted is no permission


def test_the_membership_of_an_organization_answers_role_and_state_as_github_does(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session
) -> None:
    github_sim.add_user("pat", member_of=["globex"])
    github_sim.add_membership("acme", "pat", role="admin", state="pending")
    acme = github_sim.account("acme")
    assert acme is not None

    def membership(login: str, org: str) -> requests.Response:
        return http.get(f"{github_sim.api_url}/user/memberships/orgs/{org}", headers=token_of(github_sim, http, login))

    owner = membership("mona", "ACME")
    assert owner.status_code == 200
    body = owner.json()
    assert (body["state"], body["role"]) == ("active", "admin")
    assert (body["organization"]["login"], body["organization"]["id"]) == ("acme", acme.id)
    assert body["user"]["login"] == "mona" and body["url"].endswith("/orgs/acme/memberships/mona")
    assert (membership("pat", "globex").json()["role"], membership("pat", "globex").json()["state"]) == (
        "member",
        "active",
    )
    assert membership("pat", "acme").json()["state"] == "pending"
    assert membership("hubot", "acme").status_code == 404
    assert membership("mona", "no-such-org").status_code == 404
    assert membership("mona", "mona").status_code == 404  # a personal account has no members


def test_the_membership_endpoint_refuses_other_credentials(
    github_sim: GitHubSimulator, people: dict[str, int], http: requests.Session, as_app: dict[str, str]
) -> None:
    url = f"{github_sim.api_url}/user/memberships/orgs/acme"
    assert http.get(url).status_code == 401
    assert http.get(url, headers=bearer("ghu_" + "a" * 36)).status_code == 401
    installation_token = http.post(
        f"{github_sim.api_url}/app/installations/{people['acme']}/access_tokens", headers=as_app, json={}
    ).json()["token"]
    assert http.get(url, headers=bearer(installation_token)).status_code == 403


def test_the_control_api_sets_roles_and_collaborators(github_sim: GitHubSimulator, http: requests.Session) -> None:
    client = SimulatorClient(github_sim.api_url)
    client.add_user("octo", member_of=["acme"])
    assert github_sim.oauth.membership("acme", "octo") is not None
    assert github_sim.oauth.organizations_of("octo", role="admin") == []

    client.add_membership("acme", "octo", role="admin")
    client.add_repository("acme/app")
    client.add_collaborator("acme/app", "octo", permission="write")

    assert github_sim.oauth.organizations_of("octo", role="admin") == ["acme"]
    assert list(github_sim.oauth.collaborations_of("octo").values()) == ["write"]
    with pytest.raises(SimulatorError, match="role must be"):
        client.add_membership("acme", "octo", role="owner")
    with pytest.raises(SimulatorError, match="permission must be"):
        client.add_collaborator("acme/app", "octo", permission="pull")
