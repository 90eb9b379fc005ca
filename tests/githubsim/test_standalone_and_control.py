"""`python -m githubsim` as a separate process, the /_sim/ control API, and SimulatorClient."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from githubsim import GitHubSimulator
from githubsim.client import SimulatorClient, SimulatorError

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str], Path]]:
    state = tmp_path / "state"
    port, git_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        "-m",
        "githubsim",
        "--port",
        str(port),
        "--git-port",
        str(git_port),
        "--state-dir",
        str(state),
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.strip())
        if line.strip() == "githubsim ready":
            break
    try:
        yield process, lines, state
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_the_cli_starts_prints_its_config_and_stops_on_sigterm(
    standalone: tuple[subprocess.Popen[str], list[str], Path],
) -> None:
    process, lines, state = standalone
    config = dict(line.split(": ", 1) for line in lines if ": " in line)
    assert config["api_url"].startswith("http://127.0.0.1:")
    assert config["issuer"] == config["api_url"] + "/oidc"
    assert config["git_base_url"].startswith("https://127.0.0.1:")
    assert Path(config["app_private_key_file"]).read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert Path(config["ca_file"]).is_file() and Path(config["ca_file"]).is_relative_to(state)
    assert requests.get(f"{config['issuer']}/.well-known/jwks", timeout=5).json()["keys"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_a_seeded_standalone_simulator_mints_and_clones(
    standalone: tuple[subprocess.Popen[str], list[str], Path], tmp_path: Path
) -> None:
    _process, lines, _state = standalone
    api_url = next(line.split(": ", 1)[1] for line in lines if line.startswith("api_url: "))
    client = SimulatorClient(api_url)
    installation_id = client.add_installation("acme")
    client.add_repository("acme/infra", installation_id=installation_id, files={"a.txt": "a"})
    client.put_file("acme/infra", "bin.dat", b"\x00\x01")
    client.delete_file("acme/infra", "a.txt")
    now = int(time.time())
    app_jwt = jwt.encode(
        {"iss": str(client.app_id), "iat": now - 60, "exp": now + 540}, client.app_private_key_pem, algorithm="RS256"
    )
    minted = requests.post(
        f"{api_url}/app/installations/{installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt}"},
        json={"repositories": ["infra"]},
        timeout=5,
    ).json()
    token = minted["token"]
    assert client.token_is_live(token)
    contents = requests.get(
        f"{api_url}/repos/acme/infra/contents/bin.dat", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert base64.b64decode(contents.json()["content"]) == b"\x00\x01"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_SSL_CAINFO=client.ca_file, GIT_TERMINAL_PROMPT="0", HOME=str(tmp_path))
    url = f"https://x-access-token:{token}@{client.git_host}/acme/infra"
    done = subprocess.run(
        ["git", "clone", "--quiet", url, str(tmp_path / "c")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [".git", "README.md", "bin.dat"]
    assert client.calls["access_tokens"] == 1
    assert client.tokens_issued[0]["repositories"] == ["acme/infra"]
    client.expire_token(token)
    assert not client.token_is_live(token)
    client.reset()
    assert client.calls == {}


def test_the_client_mirrors_the_oidc_and_fault_controls(github_sim: GitHubSimulator) -> None:
    client = SimulatorClient(github_sim.api_url)
    assert client.issuer == github_sim.issuer
    token = client.actions_token(repository="globex/infra", omit=("jti",), run_attempt="2")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["repository_owner"], claims["run_attempt"]) == ("globex", "2")
    assert "jti" not in claims
    assert client.oidc_private_key_pem == github_sim.oidc_private_key_pem
    new_kid = client.rotate_oidc_key(keep_previous=False)
    assert github_sim.oidc_kid == new_kid
    client.fault("oidc_jwks", status=500)
    assert requests.get(f"{github_sim.issuer}/.well-known/jwks", timeout=5).status_code == 500
    client.reset_calls()
    assert github_sim.calls == {}


def test_the_control_api_reports_bad_requests(github_sim: GitHubSimulator) -> None:
    client = SimulatorClient(github_sim.api_url)
    with pytest.raises(SimulatorError, match="ValueError"):
        client.fault("nope", status=500)
    with pytest.raises(SimulatorError, match="KeyError"):
        client.suspend_installation(12345)
    assert requests.post(f"{github_sim.api_url}/_sim/stop", timeout=5).status_code == 404
    assert requests.post(f"{github_sim.api_url}/_sim/reset", data=b"[1]", timeout=5).status_code == 400
    assert requests.get(f"{github_sim.api_url}/_sim/nothing", timeout=5).status_code == 404
