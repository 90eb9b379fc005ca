"""Hand-made hostile tokens: what an attacker can build without GitHub's private key (or with a wrong one)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from githubsim.simulator import GitHubSimulator
from tests.sts.exchange.conftest import b64url, b64url_json, segments

_ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def attacker_key() -> rsa.RSAPrivateKey:
    return _ATTACKER_KEY


def valid_claims(sim: GitHubSimulator, **overrides: Any) -> dict[str, Any]:
    """The claims the simulator would sign for acme/app (read back from one of its tokens)."""
    _, claims, _ = segments(sim.actions_token())
    claims.update(overrides)
    return claims


def issuer_public_pem(sim: GitHubSimulator) -> bytes:
    private = serialization.load_pem_private_key(sim.oidc_private_key_pem.encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def signed_by_issuer(sim: GitHubSimulator, claims: dict[str, Any], *, algorithm: str = "RS256", **header: Any) -> str:
    """Signed with the issuer's real private key: only the algorithm or the header is wrong."""
    return jwt.encode(claims, sim.oidc_private_key_pem, algorithm=algorithm, headers={"kid": sim.oidc_kid, **header})


def hs256_with_public_key(sim: GitHubSimulator) -> str:
    """The classic key confusion: HMAC keyed with the issuer's public key, which anyone can download."""
    header = b64url_json({"typ": "JWT", "alg": "HS256", "kid": sim.oidc_kid})
    payload = b64url_json(valid_claims(sim))
    signature = hmac.new(issuer_public_pem(sim), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def signed_by_attacker(sim: GitHubSimulator, claims: dict[str, Any] | None = None, **header: Any) -> str:
    """RS256 with a key the attacker made, announcing the issuer's kid and anything else in the header."""
    return jwt.encode(
        claims if claims is not None else valid_claims(sim),
        _ATTACKER_KEY,
        algorithm="RS256",
        headers={"kid": sim.oidc_kid, **header},
    )


def attacker_jwk() -> dict[str, Any]:
    return jwt.algorithms.RSAAlgorithm.to_jwk(_ATTACKER_KEY.public_key(), as_dict=True)


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """The issuer's header and signature over a payload that was changed afterwards."""
    header, _, signature = token.split(".")
    return f"{header}.{b64url_json(claims)}.{signature}"


def with_raw_payload(sim: GitHubSimulator, payload: bytes) -> str:
    """A properly signed token whose payload is any bytes at all (not necessarily a JSON object)."""
    header = b64url_json({"typ": "JWT", "alg": "RS256", "kid": sim.oidc_kid})
    signing_input = f"{header}.{b64url(payload)}"
    private = serialization.load_pem_private_key(sim.oidc_private_key_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def flipped_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    replacement = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{replacement}{signature[middle + 1 :]}"
