"""GitHub's App JWT rules: RS256 with the App key, iss = app id, iat not ahead, exp at most 10 min ahead."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from githubsim import GitHubSimulator

from .conftest import bearer


@pytest.fixture
def url(github_sim: GitHubSimulator) -> str:
    installation_id = github_sim.add_installation("acme")
    return f"{github_sim.api_url}/app/installations/{installation_id}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_unauthorized(response: requests.Response, fragment: str) -> None:
    assert response.status_code == 401
    body = response.json()
    assert fragment in body["message"]
    assert body["status"] == "401"
    assert body["documentation_url"].startswith("https://docs.github.com/")


def test_a_valid_app_jwt_reads_the_installation(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    response = http.get(url, headers=bearer(app_jwt()))
    assert response.status_code == 200
    assert response.json()["account"]["login"] == "acme"


def test_iss_may_be_an_integer(
    url: str, github_sim: GitHubSimulator, app_jwt: Callable[..., str], http: requests.Session
) -> None:
    assert http.get(url, headers=bearer(app_jwt(iss=github_sim.app_id))).status_code == 200


def test_it_rejects_a_jwt_signed_with_another_key(
    url: str, app_jwt: Callable[..., str], http: requests.Session
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert_unauthorized(http.get(url, headers=bearer(app_jwt(key=pem.decode()))), "could not be decoded")


def test_it_rejects_exp_more_than_ten_minutes_ahead(
    url: str, app_jwt: Callable[..., str], http: requests.Session
) -> None:
    now = int(time.time())
    response = http.get(url, headers=bearer(app_jwt(iat=now, exp=now + 660)))
    assert_unauthorized(response, "'Expiration time' claim ('exp') is too far in the future")


def test_it_rejects_an_expired_jwt(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    now = int(time.time())
    assert_unauthorized(http.get(url, headers=bearer(app_jwt(iat=now - 700, exp=now - 100))), "'Expiration time'")


def test_it_rejects_a_jwt_without_exp(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    now = int(time.time())
    token = jwt.encode({"iss": "1", "iat": now}, "x" * 32, algorithm="HS256")
    assert_unauthorized(http.get(url, headers=bearer(token)), "could not be decoded")
    response = http.get(url, headers=bearer(app_jwt(exp=None)))
    assert_unauthorized(response, "'Expiration time'")


def test_it_rejects_iat_in_the_future(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    now = int(time.time())
    assert_unauthorized(http.get(url, headers=bearer(app_jwt(iat=now + 120, exp=now + 300))), "'Issued at'")


def test_it_rejects_iat_even_a_few_seconds_in_the_future(
    url: str, app_jwt: Callable[..., str], http: requests.Session
) -> None:
    now = int(time.time())
    assert_unauthorized(http.get(url, headers=bearer(app_jwt(iat=now + 5, exp=now + 300))), "'Issued at'")


def test_it_accepts_iat_now(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    now = int(time.time())
    assert http.get(url, headers=bearer(app_jwt(iat=now, exp=now + 300))).status_code == 200


def test_it_rejects_another_apps_id(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    assert_unauthorized(http.get(url, headers=bearer(app_jwt(iss="999"))), "Integration not found")
    assert_unauthorized(http.get(url, headers=bearer(app_jwt(iss="not-a-number"))), "'Issuer' claim")


def test_it_rejects_an_hs256_jwt_keyed_with_the_public_key(
    url: str, github_sim: GitHubSimulator, http: requests.Session
) -> None:
    now = int(time.time())
    public_pem = github_sim.app_public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"iss": str(github_sim.app_id), "iat": now, "exp": now + 300}
    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    assert_unauthorized(http.get(url, headers=bearer(forged)), "could not be decoded")


def test_it_rejects_no_credentials_and_garbage(url: str, http: requests.Session) -> None:
    assert_unauthorized(http.get(url), "could not be decoded")
    assert_unauthorized(http.get(url, headers=bearer("not.a.jwt")), "could not be decoded")
    assert http.get(url, headers={"Authorization": "Basic abc"}).status_code == 401


def test_an_installation_token_is_not_accepted_on_app_endpoints(
    url: str, github_sim: GitHubSimulator, mint: Callable[..., dict[str, object]], http: requests.Session
) -> None:
    installation_id = int(url.rsplit("/", 1)[1])
    token = str(mint(installation_id)["token"])
    assert_unauthorized(http.get(url, headers=bearer(token)), "could not be decoded")
    response = http.post(f"{url}/access_tokens", headers=bearer(token))
    assert response.status_code == 401


def test_an_app_jwt_is_not_accepted_on_installation_endpoints(
    github_sim: GitHubSimulator, app_jwt: Callable[..., str], http: requests.Session
) -> None:
    response = http.get(f"{github_sim.api_url}/installation/repositories", headers=bearer(app_jwt()))
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


def test_an_app_jwt_goes_only_as_a_bearer(url: str, app_jwt: Callable[..., str], http: requests.Session) -> None:
    assert_unauthorized(http.get(url, headers={"Authorization": f"token {app_jwt()}"}), "could not be decoded")
