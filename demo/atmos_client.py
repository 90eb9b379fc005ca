"""What the Atmos CLI (`atmos/pro` auth provider, `github/sts` integration) does against this server.

A faithful replay of the client's side of the wire contract (README, "The API"), used by the demo flow and
by the end-to-end tests: the same requests, the same reading of the envelope, the same git rewrites
and the same revocation straight against GitHub.
"""

from __future__ import annotations

import platform
from typing import Any

import requests

USER_AGENT = f"atmos/1.200.0 ({platform.system().lower()}; {platform.machine()})"
ENDPOINT = "api/v1"


class AtmosClientError(Exception):
    """The server refused; carries what the client would print."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        message = body.get("errorMessage") or body.get("error") or "unexpected response format"
        super().__init__(f"HTTP {status}: {message} (trace_id={body.get('traceId', '?')})")


def _envelope(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise AtmosClientError(response.status_code, {"errorMessage": "unexpected response format"}) from None
    if not isinstance(body, dict):
        raise AtmosClientError(response.status_code, {"errorMessage": "unexpected response format"})
    if response.status_code != 200 or not body.get("success"):
        raise AtmosClientError(response.status_code, body)
    return body


def exchange(base_url: str, oidc_token: str, workspace_id: str) -> str:
    """Step 0: the Actions OIDC token for a session JWT."""
    response = requests.post(
        f"{base_url.rstrip('/')}/{ENDPOINT}/auth/github-oidc",
        json={"token": oidc_token, "workspaceId": workspace_id},
        headers={"User-Agent": USER_AGENT},
        timeout=30,
    )
    return str(_envelope(response)["data"]["token"])


def mint(
    base_url: str, session: str, sources: list[str] | None = None, policy_name: str | None = None
) -> dict[str, Any]:
    """Step 1: tokens for the sources; returns the envelope's `data` (`tokens`, `excluded`)."""
    body: dict[str, Any] = {}
    if sources:
        body["sources"] = sources
    if policy_name:
        body["policyName"] = policy_name
    response = requests.post(
        f"{base_url.rstrip('/')}/{ENDPOINT}/sts",
        json=body,
        headers={"Authorization": f"Bearer {session}", "Accept": "application/json", "User-Agent": USER_AGENT},
        timeout=60,
    )
    return dict(_envelope(response)["data"])


def git_rewrite_env(tokens: list[dict[str, Any]]) -> dict[str, str]:
    """The GIT_CONFIG_* variables the client sets for its child processes, one https and one ssh
    rewrite per token, so a plain `git clone https://<host>/<owner>/<repo>` authenticates."""
    env: dict[str, str] = {}
    index = 0
    for token in tokens:
        key = f"url.https://x-access-token:{token['token']}@{token['host']}/{token['owner']}/.insteadOf"
        for value in (f"https://{token['host']}/{token['owner']}/", f"ssh://git@{token['host']}/{token['owner']}/"):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
            index += 1
    env["GIT_CONFIG_COUNT"] = str(index)
    return env


def revoke_at_github(api_url: str, token: str, *, ca_file: str | None = None) -> int:
    """What the client does when the run ends: revoke straight against GitHub (204, 401 and 404 all
    count as revoked)."""
    response = requests.delete(
        f"{api_url.rstrip('/')}/installation/token",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json", "User-Agent": USER_AGENT},
        timeout=30,
        verify=ca_file or True,
    )
    return response.status_code
