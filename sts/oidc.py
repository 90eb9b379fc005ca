"""Verification of GitHub Actions OIDC tokens: the one place that decides whether a run is who it says.

GitHub's documentation of the token and its keys:
https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect

The issuer whose keys we fetch is chosen from configuration (``STS_OIDC_ISSUERS``) by an exact match
of the token's ``iss``: nothing in a token (``jku``, ``x5u``, ``jwk``, ``x5c``) ever names a key or a
URL that we use. Key sets are public and cached in Django's cache, which every worker process shares;
an unknown ``kid`` refreshes the set at most once per ``JWKS_REFRESH_INTERVAL_SECONDS`` per issuer, so a
flood of made-up ``kid`` values cannot make us a fetching amplifier against the issuer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.core.cache import cache

from github_app.http import http_request, is_loopback_host
from sts.claims import KNOWN_CLAIMS, SUBJECT_ALIAS
from sts.errors import InvalidOidcToken, StsError

logger = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8 * 1024
MAX_CLAIM_CHARS = 1024
MAX_KEY_ID_CHARS = 256
MAX_DOCUMENT_BYTES = 256 * 1024
JWKS_CACHE_SECONDS = 600
JWKS_REFRESH_INTERVAL_SECONDS = 30
# After a failed fetch, requests fail fast for this long instead of each one fetching again.
ISSUER_FAILURE_BACKOFF_SECONDS = 5

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "aud", "jti", "sub")
# Claims that must be present for us to place the caller: strings, bounded, no control characters.
IDENTIFYING_CLAIMS = ("jti", "sub", "repository", "repository_owner", "repository_id", "repository_owner_id")
# Headers that carry a key or a place to fetch one: a token never chooses its own key.
KEY_BEARING_HEADERS = ("jku", "x5u", "jwk", "x5c")
# The claims that trust policies match on, as the policy language names them (one list, in
# sts.claims), plus `repo_property_<name>` custom claims: what a session carries as the run's identity.
IDENTITY_CLAIMS = tuple(sorted(KNOWN_CLAIMS - {SUBJECT_ALIAS}))
CUSTOM_PROPERTY_PREFIX = "repo_property_"

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_GITHUB_ID = re.compile(r"[0-9]{1,19}")
_MAX_BIGINT = 2**63 - 1
# 2100-01-01: a time claim beyond it is not a time GitHub would write (and would overflow a datetime).
_MAX_TIMESTAMP = 4102444800


class OidcIssuerUnavailable(StsError):
    """The issuer's discovery document or key set could not be fetched: our side of the exchange failed."""

    tag = "OidcIssuerUnavailable"
    status = 503
    message = "The GitHub Actions OIDC keys could not be fetched right now; retry the job in a few minutes."


def verify_actions_token(token: str) -> dict[str, Any]:
    """The claims of a GitHub Actions OIDC token whose signature, issuer, audience and times verified.

    Raises ``InvalidOidcToken`` (401) for any token we refuse and ``OidcIssuerUnavailable`` (503)
    when the issuer's keys cannot be fetched. Never puts the token in a message or a log line.
    """
    if not isinstance(token, str) or not token:
        raise InvalidOidcToken("The OIDC token is empty.")
    if len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
        raise InvalidOidcToken(f"The OIDC token is longer than {MAX_TOKEN_BYTES} bytes.")
    header = _unverified_header(token)
    unverified = _unverified_claims(token)
    issuer = _configured_issuer(unverified.get("iss"))
    key = _signing_key(issuer=issuer, kid=header["kid"])
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=list(settings.STS_OIDC_AUDIENCES),
            issuer=issuer,
            leeway=settings.STS_OIDC_LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidOidcToken("The OIDC token has expired; request a new one in the job.") from None
    except jwt.ImmatureSignatureError:
        raise InvalidOidcToken("The OIDC token is not valid yet (nbf or iat is in the future).") from None
    except jwt.InvalidAudienceError:
        raise InvalidOidcToken(
            "The OIDC token is for another audience; request it with the audience this server accepts."
        ) from None
    except jwt.InvalidIssuerError:
        raise InvalidOidcToken("The OIDC token's issuer is not accepted.") from None
    except jwt.MissingRequiredClaimError as error:
        raise InvalidOidcToken(f"The OIDC token lacks the required claim {error.claim!r}.") from None
    except jwt.InvalidSignatureError:
        raise InvalidOidcToken("The OIDC token's signature does not verify.") from None
    except jwt.InvalidTokenError:
        raise InvalidOidcToken("The OIDC token is not a valid JWT.") from None
    _check_identifying_claims(claims)
    return claims


def run_identity(claims: Mapping[str, Any]) -> dict[str, str]:
    """The verified claims that trust policies match on (all strings, as GitHub issues them)."""
    return {
        name: value
        for name, value in claims.items()
        if (name in IDENTITY_CLAIMS or name.startswith(CUSTOM_PROPERTY_PREFIX)) and isinstance(value, str)
    }


# --- the token's shape, before any key is looked at ---


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidOidcToken("The OIDC token is not a JWT (header.payload.signature).") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidOidcToken(f"The OIDC token must be signed with {ALGORITHM}.")
    if any(name in header for name in KEY_BEARING_HEADERS):
        raise InvalidOidcToken("The OIDC token names its own key; keys come only from the configured issuer.")
    if "crit" in header:
        raise InvalidOidcToken("The OIDC token has critical header extensions that this server does not support.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KEY_ID_CHARS or _CONTROL_CHARACTERS.search(kid):
        raise InvalidOidcToken("The OIDC token has no usable key id (kid).")
    return header


def _unverified_claims(token: str) -> dict[str, Any]:
    """The payload, read only to choose the issuer and to check the types that PyJWT trusts.

    PyJWT calls ``int()`` on ``exp`` / ``nbf`` / ``iat``: a list, an object or a huge float there
    would escape its error family, so they are checked to be plain integers first.
    """
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise InvalidOidcToken("The OIDC token's payload is not a JSON object.") from None
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is None:
            raise InvalidOidcToken(f"The OIDC token lacks the required claim {name!r}.")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_TIMESTAMP:
            raise InvalidOidcToken(f"The OIDC token's {name!r} claim is not a time in seconds.")
    return claims


def _configured_issuer(issuer: object) -> str:
    if not isinstance(issuer, str) or issuer not in settings.STS_OIDC_ISSUERS:
        raise InvalidOidcToken("The OIDC token's issuer is not one this server accepts.")
    return issuer


def _check_identifying_claims(claims: Mapping[str, Any]) -> None:
    for name in IDENTIFYING_CLAIMS:
        _check_string_claim(name, claims.get(name), required=True)
    for name, value in claims.items():
        if name in IDENTITY_CLAIMS or name.startswith(CUSTOM_PROPERTY_PREFIX):
            _check_string_claim(name, value, required=False)
    for name in ("repository_id", "repository_owner_id"):
        value = claims[name]
        if not _GITHUB_ID.fullmatch(value) or int(value) > _MAX_BIGINT:
            raise InvalidOidcToken(f"The OIDC token's {name!r} claim is not a GitHub id.")
    owner, repository = claims["repository_owner"], claims["repository"]
    name = repository.removeprefix(f"{owner}/")
    if name == repository or not name or "/" in name:
        raise InvalidOidcToken("The OIDC token's 'repository' claim does not belong to its 'repository_owner'.")


def _check_string_claim(name: str, value: object, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise InvalidOidcToken(f"The OIDC token's {name!r} claim must be a non-empty string.")
    if len(value) > MAX_CLAIM_CHARS or _CONTROL_CHARACTERS.search(value):
        raise InvalidOidcToken(f"The OIDC token's {name!r} claim is too long or holds control characters.")


# --- the issuer's keys ---


def _signing_key(*, issuer: str, kid: str) -> Any:
    """The issuer's RSA public key for ``kid``; a key set refresh when the kid is new to us, rate-bounded."""
    key_set = _cached_key_set(issuer)
    key = _rsa_key(key_set, kid) if key_set is not None else None
    if key is not None:
        return key
    if key_set is not None and not cache.add(_refresh_slot_key(issuer), True, JWKS_REFRESH_INTERVAL_SECONDS):
        # Someone refreshed this issuer's keys moments ago: the kid is not one of them.
        raise InvalidOidcToken("The OIDC token is signed by a key that the issuer does not publish.")
    key = _rsa_key(_fetched_key_set(issuer), kid)
    if key is None:
        raise InvalidOidcToken("The OIDC token is signed by a key that the issuer does not publish.")
    return key


def _rsa_key(key_set: jwt.PyJWKSet, kid: str) -> Any:
    for jwk in key_set.keys:
        usable = jwk.key_type == "RSA" and jwk.algorithm_name == ALGORITHM and jwk.public_key_use in (None, "sig")
        if jwk.key_id == kid and usable:
            return jwk.key
    return None


# Parsed key sets, per process: parsing RSA keys costs more than reading the cached JSON.
_parsed: dict[str, tuple[str, jwt.PyJWKSet]] = {}


def _cached_key_set(issuer: str) -> jwt.PyJWKSet | None:
    entry = cache.get(_key_set_cache_key(issuer))
    if not isinstance(entry, dict):
        return None
    version, document = entry.get("version"), entry.get("jwks")
    known = _parsed.get(issuer)
    if known is not None and known[0] == version:
        return known[1]
    key_set = _parsed_key_set(document)
    if key_set is None or not isinstance(version, str):
        return None
    _parsed[issuer] = (version, key_set)
    return key_set


def _fetched_key_set(issuer: str) -> jwt.PyJWKSet:
    failure_key = _failure_key(issuer)
    if cache.get(failure_key):
        raise OidcIssuerUnavailable()
    try:
        document = _fetch_jwks(issuer)
    except OidcIssuerUnavailable:
        cache.set(failure_key, True, ISSUER_FAILURE_BACKOFF_SECONDS)
        raise
    key_set = _parsed_key_set(document)
    if key_set is None:
        cache.set(failure_key, True, ISSUER_FAILURE_BACKOFF_SECONDS)
        logger.warning("The OIDC issuer %s published a key set without a usable key.", issuer)
        raise OidcIssuerUnavailable()
    version = secrets.token_hex(8)
    cache.set(_key_set_cache_key(issuer), {"version": version, "jwks": document}, JWKS_CACHE_SECONDS)
    _parsed[issuer] = (version, key_set)
    return key_set


def _parsed_key_set(document: object) -> jwt.PyJWKSet | None:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        return None
    try:
        return jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError:
        return None


def _fetch_jwks(issuer: str) -> dict[str, Any]:
    """Discovery, then the key set (https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig)."""
    discovery = _fetch_json(f"{issuer}/.well-known/openid-configuration")
    if discovery.get("issuer") != issuer:
        logger.warning("The OIDC discovery document of %s names another issuer; refusing its keys.", issuer)
        raise OidcIssuerUnavailable()
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not _is_acceptable_key_url(jwks_uri):
        logger.warning("The OIDC discovery document of %s has no acceptable jwks_uri.", issuer)
        raise OidcIssuerUnavailable()
    return _fetch_json(jwks_uri)


def _is_acceptable_key_url(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def _fetch_json(url: str) -> dict[str, Any]:
    try:
        response = http_request("GET", url, headers={"Accept": "application/json"}, stream=True)
        try:
            body = _bounded_body(response)
        finally:
            response.close()
    except requests.RequestException as error:
        logger.warning("Fetching %s failed: %s", url, type(error).__name__)
        raise OidcIssuerUnavailable() from None
    if response.status_code != 200 or body is None:
        logger.warning("Fetching %s answered HTTP %s (or a body too large).", url, response.status_code)
        raise OidcIssuerUnavailable()
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        logger.warning("Fetching %s answered something that is not a JSON object.", url)
        raise OidcIssuerUnavailable()
    return document


def _bounded_body(response: requests.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _issuer_digest(issuer: str) -> str:
    return hashlib.sha256(issuer.encode()).hexdigest()[:32]


def _key_set_cache_key(issuer: str) -> str:
    return f"sts:oidc:jwks:{_issuer_digest(issuer)}"


def _refresh_slot_key(issuer: str) -> str:
    return f"sts:oidc:jwks-refresh:{_issuer_digest(issuer)}"


def _failure_key(issuer: str) -> str:
    return f"sts:oidc:jwks-failed:{_issuer_digest(issuer)}"
