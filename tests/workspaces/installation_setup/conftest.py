"""A workspace with one person per role, an outsider (admin of another workspace) and a superuser; the
simulator knows mona (member of acme, where the App is installed on two repositories) and hubot (no org)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from githubsim import GitHubSimulator
from tests.factories import workspace_create
from workspaces.models import Membership, Workspace

SETUP_PATH = "/github/setup"


@dataclass
class People:
    workspace: Workspace
    other: Workspace
    users: dict[str, User]

    def client(self, who: str) -> Client:
        client = Client()
        client.force_login(self.users[who])
        return client


@pytest.fixture
def people(db: None, settings: Any) -> People:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; no test of hashing
    workspace, other = workspace_create(name="Acme"), workspace_create(name="Globex")
    users = {role: User.objects.create_user(f"acme-{role}", password="pw-" + role) for role in Membership.Role}
    for role, user in users.items():
        Membership.objects.create(user=user, workspace=workspace, role=role)
    users["second-admin"] = User.objects.create_user("acme-second-admin")
    Membership.objects.create(user=users["second-admin"], workspace=workspace, role=Membership.Role.ADMIN)
    users["outsider"] = User.objects.create_user("globex-admin")
    Membership.objects.create(user=users["outsider"], workspace=other, role=Membership.Role.ADMIN)
    users["superuser"] = User.objects.create_superuser("operator", password="pw-operator")
    return People(workspace=workspace, other=other, users=users)


@dataclass
class Acme:
    installation_id: int
    repositories: dict[str, int]


@pytest.fixture
def acme(github_sim: GitHubSimulator) -> Acme:
    github_sim.configure_oauth(callback_url=f"http://testserver{SETUP_PATH}")
    installation_id = github_sim.add_installation("acme")
    repositories = {
        name: github_sim.add_repository(name, installation_id=installation_id) for name in ("acme/infra", "acme/mods")
    }
    github_sim.add_repository("acme/not-selected")
    github_sim.add_user("mona", admin_of=["acme"])
    github_sim.add_user("hubot")
    return Acme(installation_id=installation_id, repositories=repositories)


def start_url(workspace: Workspace) -> str:
    return reverse("workspaces:installation-setup-start", args=[workspace.public_id])


def state_for(client: Client, workspace: Workspace) -> str:
    """Presses "Install on GitHub" and reads the state GitHub's page is given."""
    response = client.post(start_url(workspace))
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def code_for(sim: GitHubSimulator, login: str) -> str:
    """A code GitHub gives `login` for this App (what the installation's redirect carries)."""
    session = requests.Session()
    session.trust_env = False
    response = session.get(
        f"{sim.web_url}/login/oauth/authorize",
        params={"client_id": sim.client_id, "login": login, "redirect_uri": sim.oauth_callback_url},
        allow_redirects=False,
    )
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def setup(client: Client, **params: Any) -> Any:
    """GitHub's redirect to our setup URL, with these query parameters."""
    return client.get(SETUP_PATH, {name: value for name, value in params.items() if value is not None})
