"""The control API under ``/_sim/`` (loopback only): seed and steer a simulator running in another process.

``POST /_sim/<method>`` with the method's keyword arguments as a JSON object calls that method of
:class:`~githubsim.state.SimulatorState`; ``GET /_sim/config``, ``GET /_sim/calls`` and
``GET /_sim/tokens_issued`` read state. Answers are ``{"result": ...}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any

from githubsim.server_base import Reply
from githubsim.state import SimulatorState

# The methods a control request may call; nothing else of the simulator is reachable.
METHODS = frozenset(
    {
        "add_installation",
        "add_repository",
        "put_file",
        "delete_file",
        "suspend_installation",
        "unsuspend_installation",
        "add_repository_to_installation",
        "remove_repository_from_installation",
        "actions_token",
        "rotate_oidc_key",
        "fault",
        "reset",
        "reset_calls",
        "token_is_live",
        "expire_token",
        "set_consistency",
        "configure_webhook",
        "redeliver",
        "wait_for_deliveries",
        "delete_installation",
        "accept_new_permissions",
        "add_user",
        "add_membership",
        "add_collaborator",
        "configure_oauth",
        "put_symlink",
        "rename_repository",
        "open_pull_request",
        "set_load",
    }
)


def config(sim: SimulatorState) -> dict[str, Any]:
    return {
        "api_url": sim.api_url,
        "issuer": sim.issuer,
        "git_base_url": sim.git_base_url,
        "git_host": sim.git_host,
        "web_url": sim.web_url,
        "app_slug": sim.app_slug,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "app_id": sim.app_id,
        "app_private_key_file": sim.app_private_key_path,
        "ca_file": sim.ca_file,
        "state_dir": str(sim.state_dir),
    }


def handle_control(sim: SimulatorState, method: str, name: str, body: bytes, client_ip: str) -> Reply:
    if not ipaddress.ip_address(client_ip).is_loopback:
        return Reply(403, {"error": "the control API answers loopback clients only"})
    if method == "GET":
        readers = {
            "config": lambda: config(sim),
            "calls": lambda: dict(sim.calls),
            "tokens_issued": lambda: list(sim.tokens_issued),
            "webhook_deliveries": lambda: list(sim.webhook_deliveries),
            "jwks": sim.jwks,
            "app_private_key_pem": lambda: sim.app_private_key_pem,
            "oidc_private_key_pem": lambda: sim.oidc_private_key_pem,
        }
        reader = readers.get(name)
        if reader is None:
            return Reply(404, {"error": f"no control resource {name!r}"})
        return Reply(200, {"result": reader()})
    if method != "POST" or name not in METHODS:
        return Reply(404, {"error": f"no control method {method} {name!r}"})
    try:
        kwargs = json.loads(body) if body.strip() else {}
    except ValueError:
        return Reply(400, {"error": "the body must be a JSON object"})
    if not isinstance(kwargs, dict):
        return Reply(400, {"error": "the body must be a JSON object"})
    if name == "put_file" and "content_base64" in kwargs:
        kwargs["content"] = base64.b64decode(kwargs.pop("content_base64"))
    if name == "actions_token":
        if "omit" in kwargs:
            kwargs["omit"] = tuple(kwargs["omit"])
        kwargs.update(kwargs.pop("claims", None) or {})
    try:
        result = getattr(sim, name)(**kwargs)
    except (TypeError, ValueError, KeyError, FileNotFoundError) as exc:
        return Reply(422, {"error": f"{type(exc).__name__}: {exc}"})
    return Reply(200, {"result": result})
