"""The simulator as a load test needs it: latency on every API call, one call in K failing with
GitHub's JSON error, a rate limit of choice; through the control API and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from githubsim import GitHubSimulator
from githubsim.client import SimulatorClient, SimulatorError

ROOT = Path(__file__).resolve().parents[2]


def test_one_call_in_k_fails_with_githubs_json_error(github_sim: GitHubSimulator, http: requests.Session) -> None:
    github_sim.set_load(fail_one_in=3, fail_status=503)

    responses = [http.get(f"{github_sim.api_url}/rate_limit") for _ in range(9)]

    assert [response.status_code for response in responses] == [200, 200, 503] * 3
    failure = responses[2]
    assert failure.json()["message"] == "Service Unavailable"
    assert failure.json()["documentation_url"].startswith("https://docs.github.com/")


def test_the_oidc_issuer_and_the_control_api_never_fail_under_load(
    github_sim: GitHubSimulator, http: requests.Session
) -> None:
    github_sim.set_load(fail_one_in=1)

    assert http.get(f"{github_sim.issuer}/.well-known/jwks").status_code == 200
    assert http.get(f"{github_sim.api_url}/_sim/calls").status_code == 200
    assert http.get(f"{github_sim.api_url}/rate_limit").status_code == 502


def test_every_api_call_waits_the_latency(
    github_sim: GitHubSimulator, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(github_sim, "wait", waits.append)
    SimulatorClient(github_sim.api_url).set_load(latency_ms=150)

    http.get(f"{github_sim.api_url}/rate_limit")
    http.get(f"{github_sim.api_url}/app")

    assert waits == [0.15, 0.15]


def test_the_rate_limit_of_new_credentials_is_the_one_set(
    github_sim: GitHubSimulator, http: requests.Session, as_app: dict[str, str]
) -> None:
    github_sim.set_load(rate_limit=1_000_000)

    response = http.get(f"{github_sim.api_url}/app", headers=as_app)

    assert response.headers["x-ratelimit-limit"] == "1000000"


def test_unnamed_settings_stay_and_reset_forgets_them(github_sim: GitHubSimulator) -> None:
    github_sim.set_load(latency_ms=20, fail_one_in=5)

    assert github_sim.set_load(fail_status=500) == {
        "latency_ms": 20,
        "fail_one_in": 5,
        "fail_status": 500,
        "rate_limit": 5000,
    }
    github_sim.reset()
    assert (github_sim.latency_ms, github_sim.fail_one_in, github_sim.rate_limit) == (0, 0, 5000)


@pytest.mark.parametrize(
    "load",
    [
        {"latency_ms": -1},
        {"latency_ms": "150"},
        {"latency_ms": True},
        {"latency_ms": 1.5},
        {"fail_one_in": -2},
        {"fail_status": 200},
        {"fail_status": 404},
        {"rate_limit": 0},
        {"rate_limit": None, "bogus": 1},
    ],
)
def test_hostile_settings_are_refused_through_the_control_api(github_sim: GitHubSimulator, load: dict) -> None:
    with pytest.raises(SimulatorError):
        SimulatorClient(github_sim.api_url)._call("set_load", **load)
    assert (github_sim.latency_ms, github_sim.fail_one_in, github_sim.fail_status) == (0, 0, 502)


def test_the_command_line_refuses_a_negative_latency(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "githubsim", "--state-dir", str(tmp_path), "--latency-ms", "-5", "--port", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )

    assert result.returncode == 2
    assert "latency_ms must be a whole number" in result.stderr
