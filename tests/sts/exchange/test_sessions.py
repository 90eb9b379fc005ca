"""sts.sessions: our session JWT, issued and verified with EC, Ed25519 and RSA keys, through a key rotation."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.utils import timezone

from sts.errors import InvalidSession, NotAnActionsSession
from sts.models import StsSession
from sts.sessions import SESSION_KIND, key_id, session_issue, session_verify
from tests.factories import caller_claims, workspace_create
from tests.sts.exchange.conftest import b64url, b64url_json, segments
from tests.sts.exchange.tokens import flipped_signature
from workspaces.models import Workspace

IDENTITY = caller_claims()


def pem_of(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


EC_PEM = pem_of(ec.generate_private_key(ec.SECP256R1()))
ED25519_PEM = pem_of(ed25519.Ed25519PrivateKey.generate())
RSA_PEM = pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))
OTHER_EC_PEM = pem_of(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def workspace(db: None) -> Workspace:
    return workspace_create()


def issue(workspace: Workspace) -> tuple[str, StsSession]:
    return session_issue(workspace=workspace, identity=dict(IDENTITY), request_id="req_test")


def forged(pem: str, claims: dict[str, Any], **header: Any) -> str:
    """A token signed by `pem` the way we sign, with any claims: what a holder of that key could make."""
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    algorithm = {ec.EllipticCurvePrivateKey: "ES256", ed25519.Ed25519PrivateKey: "EdDSA", rsa.RSAPrivateKey: "RS256"}
    name = next(alg for kind, alg in algorithm.items() if isinstance(private, kind))
    return jwt.encode(claims, private, algorithm=name, headers={"kid": key_id(private.public_key()), **header})


@pytest.mark.parametrize(("pem", "algorithm"), [(EC_PEM, "ES256"), (ED25519_PEM, "EdDSA"), (RSA_PEM, "RS256")])
def test_it_verifies_the_session_it_issued(workspace: Workspace, settings: Any, pem: str, algorithm: str) -> None:
    settings.STS_SESSION_SIGNING_KEY = pem

    token, session = issue(workspace)

    assert session_verify(token) == session
    header, claims, _ = segments(token)
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert header["alg"] == algorithm and header["kid"] == key_id(private.public_key())
    assert claims["kind"] == SESSION_KIND and claims["workspaceId"] == workspace.public_id
    assert claims["sub"] == IDENTITY["sub"] and claims["repository"] == "acme/app"
    assert claims["jti"] == session.jti and claims["iss"] == claims["aud"] == "atmos-pro-sts"


def test_it_always_sets_exp_at_the_configured_lifetime(workspace: Workspace, settings: Any) -> None:
    settings.STS_SESSION_TTL_SECONDS = 1800

    token, session = issue(workspace)

    _, claims, _ = segments(token)
    assert claims["exp"] - claims["iat"] == 1800
    assert abs(session.expires_at.timestamp() - claims["exp"]) < 1


def test_it_caps_the_lifetime_at_the_configured_maximum(workspace: Workspace, settings: Any) -> None:
    settings.STS_SESSION_TTL_SECONDS = 7200
    settings.STS_SESSION_MAX_TTL_SECONDS = 3600

    token, _ = issue(workspace)

    _, claims, _ = segments(token)
    assert claims["exp"] - claims["iat"] == 3600


def test_it_refuses_a_session_whose_exp_has_passed_beyond_the_leeway(workspace: Workspace, settings: Any) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 5
    token, _ = issue(workspace)
    _, claims, _ = segments(token)
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 6)

    with pytest.raises(InvalidSession):
        session_verify(forged(settings.STS_SESSION_SIGNING_KEY, claims))


def test_it_refuses_a_session_whose_record_has_expired_beyond_the_leeway(workspace: Workspace, settings: Any) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 5
    token, session = issue(workspace)
    StsSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=6))

    with pytest.raises(InvalidSession):
        session_verify(token)


def test_it_accepts_a_session_issued_by_a_server_whose_clock_runs_ahead(
    workspace: Workspace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 5
    ahead = time.time() + 3
    monkeypatch.setattr("sts.sessions.time.time", lambda: ahead)
    token, session = issue(workspace)
    monkeypatch.undo()

    assert session_verify(token).pk == session.pk


def test_it_refuses_a_session_issued_further_ahead_than_the_leeway(
    workspace: Workspace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 5
    ahead = time.time() + 30
    monkeypatch.setattr("sts.sessions.time.time", lambda: ahead)
    token, _ = issue(workspace)
    monkeypatch.undo()

    with pytest.raises(InvalidSession):
        session_verify(token)


def test_it_accepts_a_session_just_past_its_exp_within_the_leeway(workspace: Workspace, settings: Any) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 5
    token, session = issue(workspace)
    _, claims, _ = segments(token)
    claims.update(exp=int(time.time()) - 2)
    StsSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=2))

    assert session_verify(forged(settings.STS_SESSION_SIGNING_KEY, claims)).pk == session.pk


def test_it_refuses_a_session_whose_record_is_gone(workspace: Workspace) -> None:
    token, session = issue(workspace)
    session.delete()

    with pytest.raises(InvalidSession):
        session_verify(token)


def test_it_refuses_a_session_naming_another_workspace_than_its_record(workspace: Workspace, settings: Any) -> None:
    token, _ = issue(workspace)
    _, claims, _ = segments(token)
    claims["workspaceId"] = "ws_someone_else"

    with pytest.raises(InvalidSession):
        session_verify(forged(settings.STS_SESSION_SIGNING_KEY, claims))


def test_it_refuses_a_tampered_session(workspace: Workspace) -> None:
    token, _ = issue(workspace)

    with pytest.raises(InvalidSession):
        session_verify(flipped_signature(token))


def test_it_refuses_a_session_whose_claims_were_changed(workspace: Workspace) -> None:
    token, _ = issue(workspace)
    header, _, signature = token.split(".")
    _, decoded, _ = segments(token)
    decoded["repository"] = "acme/admin"

    with pytest.raises(InvalidSession):
        session_verify(f"{header}.{b64url_json(decoded)}.{signature}")


def test_it_refuses_a_session_signed_by_a_key_it_does_not_know(workspace: Workspace) -> None:
    token, _ = issue(workspace)
    _, claims, _ = segments(token)

    with pytest.raises(InvalidSession):
        session_verify(forged(OTHER_EC_PEM, claims))


def test_it_refuses_an_unknown_key_announcing_our_kid(workspace: Workspace) -> None:
    token, _ = issue(workspace)
    header, claims, _ = segments(token)

    with pytest.raises(InvalidSession):
        session_verify(forged(OTHER_EC_PEM, claims, kid=header["kid"]))


def test_it_refuses_an_algorithm_other_than_its_keys(workspace: Workspace, settings: Any) -> None:
    settings.STS_SESSION_SIGNING_KEY = RSA_PEM
    token, _ = issue(workspace)
    header, claims, _ = segments(token)
    public_pem = (
        serialization.load_pem_private_key(RSA_PEM.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{b64url_json({'alg': 'HS256', 'kid': header['kid']})}.{b64url_json(claims)}"
    confused = f"{signing_input}.{b64url(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
    unsigned = f"{b64url_json({'alg': 'none', 'kid': header['kid']})}.{b64url_json(claims)}."

    for token in (confused, unsigned):
        with pytest.raises(InvalidSession):
            session_verify(token)


def test_it_accepts_a_session_of_the_previous_key_during_a_rotation(workspace: Workspace, settings: Any) -> None:
    settings.STS_SESSION_SIGNING_KEY = EC_PEM
    token, session = issue(workspace)
    settings.STS_SESSION_SIGNING_KEY = ED25519_PEM
    settings.STS_SESSION_PREVIOUS_KEYS = [EC_PEM]

    assert session_verify(token) == session
    assert segments(issue(workspace)[0])[0]["alg"] == "EdDSA"  # new sessions: the new key


def test_it_refuses_a_session_of_a_key_rotated_out(workspace: Workspace, settings: Any) -> None:
    settings.STS_SESSION_SIGNING_KEY = EC_PEM
    token, _ = issue(workspace)
    settings.STS_SESSION_SIGNING_KEY = ED25519_PEM
    settings.STS_SESSION_PREVIOUS_KEYS = []

    with pytest.raises(InvalidSession):
        session_verify(token)


@pytest.mark.parametrize("kind", ["ws:user", "ws:gh:app", None])
def test_it_tells_a_session_of_ours_of_another_kind_apart(
    workspace: Workspace, settings: Any, kind: str | None
) -> None:
    token, _ = issue(workspace)
    _, claims, _ = segments(token)
    claims["kind"] = kind

    with pytest.raises(NotAnActionsSession):
        session_verify(forged(settings.STS_SESSION_SIGNING_KEY, claims))


@pytest.mark.parametrize("audience_or_issuer", [{"aud": "atmos-pro.com"}, {"iss": "https://evil.example"}])
def test_it_refuses_a_session_for_another_audience_or_issuer(
    workspace: Workspace, settings: Any, audience_or_issuer: dict[str, str]
) -> None:
    token, _ = issue(workspace)
    _, claims, _ = segments(token)
    claims.update(audience_or_issuer)

    with pytest.raises(InvalidSession):
        session_verify(forged(settings.STS_SESSION_SIGNING_KEY, claims))


@pytest.mark.parametrize("garbage", ["", "x", "a.b", "a.b.c", "eyJ" + "A" * 20_000, "\x00.\x00.\x00"])
def test_it_refuses_what_is_not_a_jwt(db: None, garbage: str) -> None:
    with pytest.raises(InvalidSession):
        session_verify(garbage)


def test_the_kid_is_the_rfc_7638_thumbprint() -> None:
    # The example of https://www.rfc-editor.org/rfc/rfc7638#section-3.1
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
        "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
        "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur"
        "-kEgU8awapJzKnqDKgw"
    )
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk({"kty": "RSA", "n": n, "e": "AQAB"})

    assert key_id(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
