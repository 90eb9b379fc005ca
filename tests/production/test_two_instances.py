"""Two server instances, as two machines behind a load balancer run them: each its own gunicorn with
its own port and its own `VAR_DIR`, both configured for production (`DEBUG=False`, every secret from
a file, HTTPS from the proxy's `X-Forwarded-Proto`), sharing only the test's database, one Redis and
the GitHub simulator. Whatever one instance learns or changes, the other acts on at its next request.

The test plays the load balancer: it sends each request to the instance it names, with the header a
TLS-terminating proxy adds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import User
from django.db import connection

from githubsim.simulator import GitHubSimulator
from tests.factories import POLICY_PATH, Acme, acme_create, caller_claims, policy, repository_create, session_create
from tests.redis_server import REDIS_URL, redis_required
from workspaces.models import PlanFeature

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "two-instances-" + uuid.uuid4().hex
CALLER_THROTTLE = 4  # mints a minute per calling repository, low enough to reach here
START_SECONDS = 60
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
ADMITS_ACME_APP = policy('repository: "acme/app"')


@dataclass
class Instance:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def post(self, path: str, *, session: str | None = None, json: object) -> requests.Response:
        headers = dict(PROXY_HEADERS)
        if session is not None:
            headers["Authorization"] = f"Bearer {session}"
        return requests.post(f"{self.url}{path}", json=json, headers=headers, timeout=60)

    def exchange(self, acme: Acme) -> str:
        token = acme.sim.actions_token(repository="acme/app")
        response = self.post("/api/v1/auth/github-oidc", json={"token": token, "workspaceId": acme.workspace.public_id})
        assert response.status_code == 200, (self.name, response.text)
        return str(response.json()["data"]["token"])

    def mint(self, session: str, *sources: str) -> requests.Response:
        return self.post("/api/v1/sts", session=session, json={"sources": list(sources)})

    def granted(self, session: str, *sources: str) -> tuple[list[str], list[dict[str, str]]]:
        response = self.mint(session, *sources)
        assert response.status_code == 200, (self.name, response.text)
        data = response.json()["data"]
        return [name for token in data["tokens"] for name in token["repositories"]], data["excluded"]


@dataclass
class Pair:
    a: Instance
    b: Instance
    sim: GitHubSimulator
    cache_prefix: str


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['TEST']['NAME']}"  # a file (tests/conftest.py), shared like a server's
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}"


def _secret_files(directory: Path, sim: GitHubSimulator) -> dict[str, str]:
    """Every secret of the deployment in a file of its own, as a secret store mounts them."""
    session_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secrets = {
        "SECRET_KEY": ("two-instances-" + uuid.uuid4().hex * 2).encode(),
        "STS_SESSION_SIGNING_KEY": session_key,
        "GITHUB_WEBHOOK_SECRETS": WEBHOOK_SECRET.encode(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    files = {"GITHUB_APP_PRIVATE_KEY_FILE": sim.app_private_key_path}
    for name, value in secrets.items():
        path = directory / name.lower()
        path.write_bytes(value)
        path.chmod(0o600)
        files[f"{name}_FILE"] = str(path)
    return files


def _environment(*, sim: GitHubSimulator, secrets: dict[str, str], cache_prefix: str, var_dir: Path) -> dict[str, str]:
    inherited = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {name: value for name, value in os.environ.items() if name in inherited}
    env.update(
        secrets,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="atmospro.settings",
        DEBUG="False",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        # The load balancer redirects plain HTTP; the simulator delivers webhooks to the instance directly.
        SECURE_SSL_REDIRECT="False",
        DATABASE_URL=_database_url(),
        CACHE_URL=f"{REDIS_URL}?key_prefix={cache_prefix}",
        VAR_DIR=str(var_dir),
        GITHUB_API_URL=sim.api_url,
        STS_OIDC_ISSUERS=sim.issuer,
        GITHUB_APP_ID=str(sim.app_id),
        GITHUB_HOST=sim.git_host,
        GITHUB_CA_BUNDLE=sim.ca_file,
        # Only an invalidation can make a cached policy stale within a test.
        STS_POLICY_CACHE_SECONDS="3600",
        STS_CALLER_THROTTLE=f"{CALLER_THROTTLE}/minute",
    )
    return env


def _start(name: str, env: dict[str, str], log: Path) -> Instance:
    command = [
        *(sys.executable, "-m", "gunicorn", "atmospro.wsgi:application", "--bind", "127.0.0.1:0"),
        # One worker process per instance: each instance is then one process memory, so a test that
        # passes could not have passed on a per-process cache (the production worker count is in README).
        *("--worker-class", "gthread", "--workers", "1", "--threads", "4", "--timeout", "30"),
        *("--graceful-timeout", "5", "--error-logfile", "-"),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_SECONDS
    url = None
    while time.monotonic() < deadline and process.poll() is None:
        listening = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        url = listening.group(1) if listening else None
        if url is not None and _answers(url):
            return Instance(name=name, url=url, process=process, log=log)
        time.sleep(0.2)
    _stop(process)
    pytest.fail(f"instance {name} did not start within {START_SECONDS} s: {log.read_text(errors='replace')[-3000:]}")


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", headers=PROXY_HEADERS, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _forget_shared_cache(cache_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{cache_prefix}:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture(scope="module")
def pair(
    django_db_setup: None, github_sim_server: GitHubSimulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    redis_required()
    directory = tmp_path_factory.mktemp("two-instances")
    cache_prefix = f"two-instances-{uuid.uuid4().hex[:12]}"
    secrets = _secret_files(directory / "secrets", github_sim_server)
    instances = []
    try:
        for name in ("a", "b"):
            env = _environment(
                sim=github_sim_server, secrets=secrets, cache_prefix=cache_prefix, var_dir=directory / name / "var"
            )
            instances.append(_start(name, env, directory / f"{name}.log"))
        yield Pair(a=instances[0], b=instances[1], sim=github_sim_server, cache_prefix=cache_prefix)
    finally:
        for instance in instances:
            _stop(instance.process)
        _forget_shared_cache(cache_prefix)


@pytest.fixture
def acme(pair: Pair, github_sim: GitHubSimulator) -> Iterator[Acme]:
    """The workspace of `tests.factories.acme_create` with a source repository, acme/modules, that has
    no policy yet. The shared cache is emptied after each test."""
    world = acme_create(github_sim)
    repository_create(sim=github_sim, installation=world.installation, full_name="acme/modules")
    yield world
    github_sim.wait_for_deliveries()
    _forget_shared_cache(pair.cache_prefix)


def test_both_instances_run_the_production_configuration_apart(pair: Pair) -> None:
    for instance in (pair.a, pair.b):
        response = requests.get(f"{instance.url}/api/v1/nothing-here", headers=PROXY_HEADERS, timeout=30)
        assert response.status_code == 404
        assert "Traceback" not in response.text  # DEBUG is off: no debug page
        assert instance.process.poll() is None
    assert pair.a.url != pair.b.url


def test_a_session_issued_by_one_instance_is_accepted_by_the_other(pair: Pair, acme: Acme) -> None:
    session = pair.a.exchange(acme)
    granted, excluded = pair.b.granted(session, "acme/modules")
    assert (granted, excluded) == ([], [{"repo": "acme/modules", "reason": "no_trust_policy"}])


def test_a_session_from_another_deployments_key_is_refused_by_both(pair: Pair, acme: Acme) -> None:
    # The proof above must be able to fail: a session signed with a key the deployment does not hold
    # is refused by either instance (this test process signs with a development key of its own).
    foreign = session_create(workspace=acme.workspace, identity=caller_claims(repository_id=str(acme.repository_id)))
    for instance in (pair.a, pair.b):
        response = instance.mint(foreign, "acme/modules")
        assert response.status_code == 401, response.text


def test_a_policy_pushed_through_one_instances_webhook_applies_at_the_next_mint_through_the_other(
    pair: Pair, acme: Acme
) -> None:
    session = pair.a.exchange(acme)
    # B caches "no policy" for an hour (STS_POLICY_CACHE_SECONDS) ...
    assert pair.b.granted(session, "acme/modules")[0] == []
    # ... so a policy whose push was lost (no webhook configured yet) does not apply through B ...
    acme.sim.put_file("acme/modules", POLICY_PATH, ADMITS_ACME_APP)
    assert pair.b.granted(session, "acme/modules")[0] == []
    # ... until GitHub delivers a push to A, whose task forgets the repository's policies in the shared
    # cache: B's very next mint reads the policy.
    acme.sim.configure_webhook(url=f"{pair.a.url}/webhooks/github", secret=WEBHOOK_SECRET)
    acme.sim.put_file("acme/modules", POLICY_PATH, ADMITS_ACME_APP + "# reviewed\n")
    acme.sim.wait_for_deliveries()
    assert [(d["event"], d["status_code"]) for d in acme.sim.webhook_deliveries] == [("push", 202)]
    assert pair.b.granted(session, "acme/modules") == (["acme/modules"], [])


def test_a_plan_change_in_one_instances_admin_refuses_the_next_mint_through_the_other(pair: Pair, acme: Acme) -> None:
    session = pair.a.exchange(acme)
    assert pair.b.mint(session, "acme/modules").status_code == 200  # B has answered for this workspace once

    staff = _admin_login(pair.a, username="root", password=uuid.uuid4().hex)
    # The admin session A issued is good on B too (Django's sessions live in the database).
    assert staff.get(pair.b, "/admin/").status_code == 200
    feature = PlanFeature.objects.get(plan=acme.workspace.plan, key="sts")
    changed = staff.post(
        pair.a,
        f"/admin/workspaces/planfeature/{feature.pk}/change/",
        {"plan": str(feature.plan_id), "key": "sts", "value": "false"},
    )
    assert changed.status_code == 302, changed.text[-2000:]
    feature.refresh_from_db()
    assert feature.value is False

    refused = pair.b.mint(session, "acme/modules")
    assert refused.status_code == 403, refused.text
    assert refused.json()["errorTag"] == "StsNotEntitled"


def test_a_throttle_counts_the_mints_of_both_instances_together(pair: Pair, acme: Acme) -> None:
    session = pair.a.exchange(acme)
    # Half the allowance through each instance: either one alone is well within it.
    for instance in (pair.a, pair.b) * (CALLER_THROTTLE // 2):
        assert instance.mint(session, "acme/modules").status_code == 200
    for instance in (pair.a, pair.b):
        throttled = instance.mint(session, "acme/modules")
        assert throttled.status_code == 429, throttled.text
        assert throttled.json()["errorTag"] == "Throttled"


def test_githubs_rate_limit_learnt_by_one_instance_spares_the_other_the_call(pair: Pair, acme: Acme) -> None:
    acme.sim.put_file("acme/modules", POLICY_PATH, ADMITS_ACME_APP)
    session = pair.a.exchange(acme)
    acme.sim.fault("access_tokens", kind="rate_limit", times=1)
    assert pair.a.granted(session, "acme/modules") == (
        [],
        [{"repo": "acme/modules", "reason": "github_rate_limited"}],
    )
    acme.sim.reset_calls()
    # The fault is spent: only the shared memory of GitHub's answer can refuse this one.
    assert pair.b.granted(session, "acme/modules")[1] == [{"repo": "acme/modules", "reason": "github_rate_limited"}]
    assert acme.sim.calls["access_tokens"] == 0


class AdminBrowser:
    """A browser logged in to an instance's admin. Its cookies are `Secure` (production), which a
    browser sends over the load balancer's HTTPS; this client sends them over the test's plain
    loopback HTTP itself (requests would hold them back)."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def get(self, instance: Instance, path: str) -> requests.Response:
        return self.http.get(f"{instance.url}{path}", headers=self._headers(), timeout=30, allow_redirects=False)

    def post(self, instance: Instance, path: str, form: dict[str, Any]) -> requests.Response:
        # Over HTTPS Django checks the Referer against the host, as a browser's form post carries it.
        headers = {**self._headers(), "Referer": f"https://{instance.url.removeprefix('http://')}{path}"}
        body = {**form, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]}
        return self.http.post(f"{instance.url}{path}", data=body, headers=headers, timeout=30, allow_redirects=False)

    def _headers(self) -> dict[str, str]:
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.http.cookies)
        return {**PROXY_HEADERS, **({"Cookie": cookies} if cookies else {})}


def _admin_login(instance: Instance, *, username: str, password: str) -> AdminBrowser:
    """A new superuser logged in to the instance's admin."""
    User.objects.create_superuser(username, f"{username}@example.com", password=password)
    browser = AdminBrowser()
    page = browser.get(instance, "/admin/login/")
    assert page.status_code == 200, page.text[-2000:]
    form = {"username": username, "password": password, "next": "/admin/"}
    response = browser.post(instance, "/admin/login/?next=/admin/", form)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/", response.text[-2000:]
    return browser
