"""Our session JWT (kind ``ws:gh:action``): what a GitHub Actions run holds after the OIDC exchange.

Signed with ``STS_SESSION_SIGNING_KEY`` (the algorithm follows the key: ES256, EdDSA or RS256); the
header's ``kid`` is the RFC 7638 thumbprint of the public key, so verification finds the key among the
current and the previous ones (``STS_SESSION_PREVIOUS_KEYS``) and uses that key's own algorithm, never
one that the header asks for. Every session is recorded (``StsSession``): a token whose row is gone or
expired is not a session any more.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.written_sql import Columns
from sts.errors import InvalidSession, NotAnActionsSession
from sts.models import StsSession
from sts.signing_keys import load_private_key, load_public_key
from workspaces.models import Plan, Workspace

SESSION_KIND = "ws:gh:action"
SESSION_ISSUER = "atmos-pro-sts"
SESSION_AUDIENCE = "atmos-pro-sts"
KIND_CLAIM = "kind"
WORKSPACE_CLAIM = "workspaceId"
MAX_SESSION_TOKEN_BYTES = 16 * 1024
# Claims of ours: the identity claims never overwrite them.
_RESERVED_CLAIMS = frozenset({"iss", "aud", "sub", "jti", "iat", "nbf", "exp", KIND_CLAIM, WORKSPACE_CLAIM})


SigningKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
VerificationKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class SessionKey:
    kid: str
    algorithm: str
    public_key: VerificationKey


def session_issue(*, workspace: Workspace, identity: dict[str, str], request_id: str) -> tuple[str, StsSession]:
    """Sign a session for a verified run of ``workspace`` and record it; returns (JWT, row)."""
    private_key, signing = _signing_key(settings.STS_SESSION_SIGNING_KEY)
    now = int(time.time())
    lifetime = min(settings.STS_SESSION_TTL_SECONDS, settings.STS_SESSION_MAX_TTL_SECONDS)
    jti = "ses_" + secrets.token_urlsafe(24)
    claims: dict[str, Any] = {name: value for name, value in identity.items() if name not in _RESERVED_CLAIMS}
    claims.update(
        {
            "iss": SESSION_ISSUER,
            "aud": SESSION_AUDIENCE,
            "sub": identity["sub"],
            KIND_CLAIM: SESSION_KIND,
            WORKSPACE_CLAIM: workspace.public_id,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
    )
    session = StsSession.objects.create(
        jti=jti,
        workspace=workspace,
        identity=dict(identity),
        request_id=request_id,
        expires_at=datetime.fromtimestamp(now + lifetime, tz=UTC),
    )
    token = jwt.encode(claims, private_key, algorithm=signing.algorithm, headers={"kid": signing.kid, "typ": "JWT"})
    return token, session


def session_verify(token: str) -> StsSession:
    """The recorded, unexpired session that ``token`` is; ``InvalidSession`` (401) for anything else,
    ``NotAnActionsSession`` (400) for a token of ours of another kind."""
    if not isinstance(token, str) or not token or len(token.encode("utf-8", "surrogatepass")) > MAX_SESSION_TOKEN_BYTES:
        raise InvalidSession()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidSession() from None
    kid = header.get("kid")
    key = verification_keys().get(kid) if isinstance(kid, str) else None
    if key is None or header.get("alg") != key.algorithm:
        raise InvalidSession()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.public_key,
            algorithms=[key.algorithm],
            audience=SESSION_AUDIENCE,
            issuer=SESSION_ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "jti", "sub"]},
            # Servers' clocks differ by a little: a session one of them issued a second "in the future"
            # is fresh, not invalid. The same leeway as for the OIDC tokens.
            leeway=settings.STS_OIDC_LEEWAY_SECONDS,
        )
    except jwt.InvalidTokenError:
        raise InvalidSession() from None
    if claims.get(KIND_CLAIM) != SESSION_KIND:
        raise NotAnActionsSession()
    session = _recorded_session(str(claims["jti"]))
    if session is None:
        raise InvalidSession()
    if session.expires_at + timedelta(
        seconds=settings.STS_OIDC_LEEWAY_SECONDS
    ) <= timezone.now() or session.workspace.public_id != claims.get(WORKSPACE_CLAIM):
        raise InvalidSession()
    return session


_SESSION = Columns(StsSession, "session")
_WORKSPACE = Columns(Workspace, "workspace")
_PLAN = Columns(Plan, "plan")


def _recorded_session(jti: str) -> StsSession | None:
    """The session row of `jti` with its workspace and plan: `select_related`'s query, written out
    (every request of the API verifies a session, and composing it cost the ORM more than running it)."""
    with connection.cursor() as cursor:
        cursor.execute(_session_sql(), [jti])
        row = cursor.fetchone()
    if row is None:
        return None
    workspace_at, plan_at = len(_SESSION), len(_SESSION) + len(_WORKSPACE)
    session = _SESSION.instance(row[:workspace_at])
    workspace = _WORKSPACE.instance(row[workspace_at:plan_at])
    workspace.plan = _PLAN.instance(row[plan_at:])
    session.workspace = workspace
    return session


@functools.cache
def _session_sql() -> str:
    return (
        f"SELECT {_SESSION.select}, {_WORKSPACE.select}, {_PLAN.select} FROM {_SESSION.table} "  # noqa: S608
        f"INNER JOIN {_WORKSPACE.table} ON {_WORKSPACE.column('id')} = {_SESSION.column('workspace')} "
        f"INNER JOIN {_PLAN.table} ON {_PLAN.column('id')} = {_WORKSPACE.column('plan')} "
        f"WHERE {_SESSION.column('jti')} = %s"
    )


def key_id(public_key: PublicKeyTypes) -> str:
    """The RFC 7638 JWK thumbprint of a public key (https://www.rfc-editor.org/rfc/rfc7638)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
        members: tuple[str, ...] = ("e", "kty", "n")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
        members = ("crv", "kty", "x", "y")
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(public_key, as_dict=True)
        members = ("crv", "kty", "x")
    else:
        raise TypeError(f"No session algorithm for a {type(public_key).__name__}.")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def verification_keys() -> dict[str, SessionKey]:
    """The keys a session may be signed with, by kid: the current one and those before a rotation."""
    return _verification_keys(settings.STS_SESSION_SIGNING_KEY, tuple(settings.STS_SESSION_PREVIOUS_KEYS))


@functools.lru_cache(maxsize=8)
def _verification_keys(current_pem: str, previous_pems: tuple[str, ...]) -> dict[str, SessionKey]:
    keys: dict[str, SessionKey] = {}
    for pem in previous_pems:
        key = _session_key(load_public_key("STS_SESSION_PREVIOUS_KEYS", pem))
        keys[key.kid] = key
    current = _signing_key(current_pem)[1]
    keys[current.kid] = current
    return keys


@functools.lru_cache(maxsize=8)
def _signing_key(pem: str) -> tuple[SigningKey, SessionKey]:
    private_key = load_private_key("STS_SESSION_SIGNING_KEY", pem, allowed=("EC", "Ed25519", "RSA"))
    if not isinstance(private_key, SigningKey):
        raise TypeError("STS_SESSION_SIGNING_KEY must be an EC, Ed25519 or RSA key.")
    return private_key, _session_key(private_key.public_key())


def _session_key(public_key: PublicKeyTypes) -> SessionKey:
    algorithm: str
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        algorithm = "ES256"  # settings accept only P-256
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        algorithm = "EdDSA"
    elif isinstance(public_key, rsa.RSAPublicKey):
        algorithm = "RS256"
    else:
        raise TypeError(f"No session algorithm for a {type(public_key).__name__}.")
    return SessionKey(kid=key_id(public_key), algorithm=algorithm, public_key=public_key)
