"""The Actions OIDC issuer's half of the simulator: its signing keys, discovery document, and tokens.

A mixin of ``SimulatorState``, whose records give a token's repository and owner their real ids.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from githubsim.keys import OidcKeyRing


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OidcIssuer:
    # Set by SimulatorState; typed loosely here so this module needs nothing from it.
    _oidc: OidcKeyRing
    _lock: threading.RLock
    issuer: str
    repositories: dict[str, Any]
    _accounts: dict[str, Any]

    @property
    def oidc_private_key_pem(self) -> str:
        return self._oidc.current.pem

    @property
    def oidc_kid(self) -> str:
        return self._oidc.current_kid

    def rotate_oidc_key(self, *, keep_previous: bool = True) -> str:
        with self._lock:
            return self._oidc.rotate(keep_previous=keep_previous)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        with self._lock:
            return self._oidc.jwks()

    def openid_configuration(self) -> dict[str, Any]:
        # Shape of https://token.actions.githubusercontent.com/.well-known/openid-configuration
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": [
                "sub",
                "aud",
                "exp",
                "iat",
                "iss",
                "jti",
                "nbf",
                "ref",
                "sha",
                "repository",
                "repository_id",
                "repository_owner",
                "repository_owner_id",
                "enterprise",
                "enterprise_id",
                "run_id",
                "run_number",
                "run_attempt",
                "actor",
                "actor_id",
                "workflow",
                "workflow_ref",
                "workflow_sha",
                "head_ref",
                "base_ref",
                "event_name",
                "ref_type",
                "ref_protected",
                "environment",
                "environment_node_id",
                "job_workflow_ref",
                "job_workflow_sha",
                "repository_visibility",
                "runner_environment",
                "issuer_scope",
                "check_run_id",
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def actions_token(
        self,
        *,
        audience: str = "atmos-pro.com",
        lifetime: int = 300,
        kid: str | None = None,
        issued_at: int | None = None,
        omit: tuple[str, ...] = (),
        header_overrides: dict[str, Any] | None = None,
        **claims: object,
    ) -> str:
        """A GitHub Actions OIDC token, RS256-signed by the issuer's current key (or the key ``kid`` names).

        ``kid`` naming a key the issuer never had signs with the current key but announces that kid.
        A ``header_overrides`` of ``{"alg": "none"}`` produces an unsigned token.
        """
        iat = int(time.time()) if issued_at is None else int(issued_at)
        repository = str(claims.get("repository", "acme/app"))
        owner = repository.split("/", 1)[0]
        ref = str(claims.get("ref", "refs/heads/main"))
        event_name = str(claims.get("event_name", "push"))
        sha = str(claims.get("sha", hashlib.sha1(repository.encode() + ref.encode()).hexdigest()))
        known = self.repositories.get(repository.lower())
        repository_id = (
            str(known.id) if known else str(600000000 + int(hashlib.sha256(repository.encode()).hexdigest()[:6], 16))
        )
        owner_account = self._accounts.get(owner.lower())
        owner_id = (
            str(owner_account.id)
            if owner_account
            else str(1000 + int(hashlib.sha256(owner.encode()).hexdigest()[:6], 16))
        )
        environment = claims.get("environment")
        if environment is not None:
            default_sub = f"repo:{repository}:environment:{environment}"
        elif event_name in ("pull_request", "pull_request_target"):
            default_sub = f"repo:{repository}:pull_request"
        else:
            default_sub = f"repo:{repository}:ref:{ref}"
        workflow_ref = f"{repository}/.github/workflows/ci.yml@{ref}"
        payload: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "sub": default_sub,
            "aud": audience,
            "ref": ref,
            "sha": sha,
            "repository": repository,
            "repository_owner": owner,
            "repository_owner_id": owner_id,
            "run_id": "9876543210",
            "run_number": "42",
            "run_attempt": "1",
            "repository_visibility": "private" if known is None or known.private else "public",
            "repository_id": repository_id,
            "actor_id": "583231",
            "actor": "octocat",
            "workflow": "CI",
            "head_ref": "",
            "base_ref": "",
            "event_name": event_name,
            "ref_protected": "true",
            "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": claims.get("workflow_ref", workflow_ref),
            "job_workflow_sha": sha,
            "runner_environment": "github-hosted",
            "check_run_id": "31415926535",
            "iss": self.issuer,
            "nbf": iat - 600,
            "exp": iat + lifetime,
            "iat": iat,
        }
        payload.update(claims)
        for name in omit:
            payload.pop(name, None)
        with self._lock:
            signing = self._oidc.keys.get(kid) if kid else self._oidc.current
            key = signing or self._oidc.current
            header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "x5t": kid or key.kid, "kid": kid or key.kid}
            header.update(header_overrides or {})
            header = {k: v for k, v in header.items() if v is not None}
            signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
            if header.get("alg") == "none":
                return signing_input + "."
            signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            return f"{signing_input}.{b64url(signature)}"
