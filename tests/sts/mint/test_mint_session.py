"""The bearer of POST /api/v1/sts: only a live GitHub Actions session of ours may mint."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from audit.models import AuditEvent
from sts.models import StsSession

from .conftest import mint

pytestmark = pytest.mark.django_db


def _forged(claims: dict, key=None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return jwt.encode(claims, pem, algorithm="ES256")


@pytest.mark.parametrize(
    "bearer",
    [
        None,
        "",
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJ3b3Jrc3BhY2VJZCI6IndzXzEifQ.",
        _forged({"workspaceId": "ws_x", "kind": "ws:gh:action", "exp": int(time.time()) + 600}),
    ],
)
def test_an_unverifiable_bearer_is_401(client, world, bearer):
    headers = {} if bearer is None else {"HTTP_AUTHORIZATION": f"Bearer {bearer}"}
    response = client.post("/api/v1/sts", data={}, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["errorTag"] == "InvalidSession"
    assert AuditEvent.objects.get(action="pro.atmos.sts.mint_denied").error_tag == "InvalidSession"


def test_a_basic_scheme_is_401(client, world, session_for):
    response = client.post(
        "/api/v1/sts", data={}, content_type="application/json", HTTP_AUTHORIZATION=f"Basic {session_for()}"
    )
    assert response.status_code == 401


def test_an_expired_session_is_401(client, world, session_for):
    session = session_for()
    StsSession.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert mint(client, session, {}).status_code == 401


def test_a_session_of_another_kind_is_400(client, world, session_for, settings):
    ours = jwt.decode(session_for(), options={"verify_signature": False})
    header = jwt.get_unverified_header(session_for())
    other_kind = {**ours, "kind": "ws:user"}
    token = jwt.encode(
        other_kind, settings.STS_SESSION_SIGNING_KEY, algorithm=header["alg"], headers={"kid": header["kid"]}
    )

    response = mint(client, token, {})

    assert response.status_code == 400
    assert response.json()["errorTag"] == "NotAnActionsSession"


def test_the_session_sent_as_the_oidc_token_of_github_is_refused(client, world, github_sim):
    response = mint(client, github_sim.actions_token(), {})
    assert response.status_code == 401
