"""Plays the Atmos CLI's flow against the running demo server (``make run``), step by step.

1. a GitHub Actions OIDC token for the caller repository (from the simulator's issuer),
2. exchanged for a session (``POST /api/v1/auth/github-oidc``),
3. a mint for two sources (``POST /api/v1/sts``): the one whose trust policy admits the caller gets a
   token, the one without a policy is excluded,
4. a real ``git clone`` of the private source through the client's GIT_CONFIG_* rewrites,
5. the token revoked straight at GitHub, after which the same clone is refused.

Token values are never printed: only their length and fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from demo.atmos_client import AtmosClientError, exchange, git_rewrite_env, mint, revoke_at_github
from githubsim.client import SimulatorClient

DEMO_FILE = Path(__file__).resolve().parent.parent / "var" / "demo" / "demo.json"


class FlowFailed(Exception):
    pass


def step(number: int, text: str) -> None:
    print(f"\n[{number}] {text}", flush=True)


def shown(token: str) -> str:
    fingerprint = base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()
    return f"{token[:4]}… ({len(token)} characters, sha256 {fingerprint[:16]}…)"


def git_clone(url: str, target: Path, *, ca_file: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_SSL_CAINFO": ca_file,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            **extra_env,
        }
    )
    return subprocess.run(
        ["git", "clone", "--quiet", url, str(target)], env=env, capture_output=True, text=True, check=False
    )


def play(demo: dict[str, Any]) -> None:
    base_url = demo["base_url"]
    simulator = SimulatorClient(demo["simulator_api_url"])
    caller, with_policy, without_policy = (
        demo["caller_repository"],
        demo["source_with_policy"],
        demo["source_without_policy"],
    )

    step(1, f"GitHub Actions OIDC token for {caller} on refs/heads/main (audience atmos-pro.com)")
    oidc_token = simulator.actions_token(repository=caller, ref="refs/heads/main", audience="atmos-pro.com")
    print(f"    got an OIDC token {shown(oidc_token)}")

    step(2, f"POST {base_url}/api/v1/auth/github-oidc (workspace {demo['workspace_id']})")
    session = exchange(base_url, oidc_token, demo["workspace_id"])
    print(f"    session {shown(session)}")

    step(3, f"POST {base_url}/api/v1/sts for {with_policy} and {without_policy}")
    data = mint(base_url, session, sources=[with_policy, without_policy])
    tokens = data.get("tokens") or []
    for token in tokens:
        print(
            f"    token for {', '.join(token['repositories'])} on {token['host']}: {shown(token['token'])}, "
            f"permissions {json.dumps(token['permissions'], sort_keys=True)}, expires {token['expiresAt']}"
        )
    for exclusion in data.get("excluded") or []:
        print(f"    excluded {exclusion['repo']}: {exclusion['reason']}")
    covered = {name.lower() for token in tokens for name in token["repositories"]}
    if with_policy.lower() not in covered:
        raise FlowFailed(f"no token covers {with_policy}")
    if not any(item["repo"].lower() == without_policy.lower() for item in data.get("excluded") or []):
        raise FlowFailed(f"{without_policy} was not excluded")

    rewrites = git_rewrite_env(tokens)
    url = f"{demo['git_base_url']}/{with_policy}"
    with tempfile.TemporaryDirectory(prefix="atmos-demo-") as workdir:
        step(4, f"git clone {url} (with the client's {rewrites['GIT_CONFIG_COUNT']} GIT_CONFIG_* rewrites)")
        clone = git_clone(url, Path(workdir) / "clone", ca_file=demo["ca_file"], extra_env=rewrites)
        if clone.returncode != 0:
            raise FlowFailed(f"git clone failed: {clone.stderr.strip()}")
        files = sorted(
            str(path.relative_to(Path(workdir) / "clone"))
            for path in (Path(workdir) / "clone").rglob("*")
            if path.is_file() and ".git" not in path.parts
        )
        print(f"    cloned: {', '.join(files)}")

        other = f"{demo['git_base_url']}/{without_policy}"
        refused = git_clone(other, Path(workdir) / "refused", ca_file=demo["ca_file"], extra_env=rewrites)
        print(f"    git clone {other}: {'refused, as it should be' if refused.returncode != 0 else 'ALLOWED'}")
        if refused.returncode == 0:
            raise FlowFailed(f"the token cloned {without_policy}, which has no trust policy")

        step(5, f"DELETE {demo['simulator_api_url']}/installation/token for each token (the client revokes at GitHub)")
        for token in tokens:
            status = revoke_at_github(demo["simulator_api_url"], token["token"], ca_file=demo["ca_file"])
            print(f"    revoked {shown(token['token'])}: HTTP {status}")
        again = git_clone(url, Path(workdir) / "again", ca_file=demo["ca_file"], extra_env=rewrites)
        print(f"    git clone {url} after revocation: {'refused' if again.returncode != 0 else 'ALLOWED'}")
        if again.returncode == 0:
            raise FlowFailed("the revoked token still clones")


def main() -> int:
    if not DEMO_FILE.exists():
        print(f"{DEMO_FILE} is missing: start the demo with `make run` first.", file=sys.stderr)
        return 2
    demo = json.loads(DEMO_FILE.read_text())
    try:
        play(demo)
    except AtmosClientError as error:
        print(f"\nThe server refused: {error}", file=sys.stderr)
        return 1
    except FlowFailed as error:
        print(f"\nThe flow failed: {error}", file=sys.stderr)
        return 1
    print("\nThe whole flow passed: exchange, mint, clone, exclusion, revocation.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
