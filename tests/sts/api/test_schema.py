"""The OpenAPI description of /api/v1/: valid, complete (every route, every error tag at its status), and
generated without a warning."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from sts.api import docs, exchange, mint  # noqa: F401  (every route's errors are defined once its view is)
from sts.api.schema import FRAMEWORK_STATUSES
from sts.envelope import FRAMEWORK_ERRORS
from sts.errors import StsError
from sts.reasons import Reason

from .openapi import served_schema

# The description's own routes are not described in it.
DESCRIPTION_ROUTES = {"/api/v1/schema/", "/api/v1/docs/"}


def every_error_class(root: type[StsError] = StsError) -> list[type[StsError]]:
    found = [root]
    for subclass in root.__subclasses__():
        found += every_error_class(subclass)
    return found


def api_routes() -> set[str]:
    def walk(patterns: list[Any], prefix: str) -> set[str]:
        routes: set[str] = set()
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                routes |= walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                routes.add("/" + prefix + str(pattern.pattern))
        return routes

    return {route for route in walk(get_resolver().url_patterns, "") if route.startswith("/api/v1/")}


def tags_by_status(schema: dict[str, Any]) -> set[tuple[int, str]]:
    """Every (status, errorTag) that some route's description lists."""
    found = set()
    for path in schema["paths"].values():
        for status, response in path["post"]["responses"].items():
            answer = schema["components"]["schemas"][
                response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            ]
            for one in answer.get("oneOf", [answer]):
                envelope = schema["components"]["schemas"][one["$ref"].split("/")[-1]] if "$ref" in one else one
                for tag in envelope["properties"].get("errorTag", {}).get("enum", []):
                    found.add((int(status), tag))
    return found


@pytest.fixture
def schema(client: Any) -> dict[str, Any]:
    return served_schema(client)


def test_the_served_description_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 meta-schema


def test_it_is_served_as_yaml_by_default_and_as_json_on_request(client):
    assert client.get("/api/v1/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")
    assert client.get("/api/v1/schema/?format=json")["Content-Type"].startswith("application/vnd.oai.openapi+json")


def test_every_api_route_is_described(schema):
    assert api_routes() - DESCRIPTION_ROUTES == set(schema["paths"])
    assert {method for path in schema["paths"].values() for method in path} == {"post"}


def test_every_error_tag_is_listed_at_its_status(schema):
    listed = tags_by_status(schema)
    for error in every_error_class():
        assert (error.status, error.tag) in listed, f"{error.__name__} ({error.status} {error.tag}) is not described"


def test_every_route_lists_the_refusals_of_the_framework_at_their_status(schema):
    for path in schema["paths"].values():
        responses = path["post"]["responses"]
        for status in FRAMEWORK_STATUSES:
            envelope = responses[str(status)]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            tags = schema["components"]["schemas"][envelope]["properties"]["errorTag"]["enum"]
            assert FRAMEWORK_ERRORS[status][0] in tags


def test_the_mint_and_the_revocation_take_the_session_as_bearer_and_the_exchange_nothing(schema):
    assert schema["components"]["securitySchemes"]["ActionsSession"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A session from `POST /api/v1/auth/github-oidc` (kind `ws:gh:action`).",
    }
    assert schema["paths"]["/api/v1/sts"]["post"]["security"] == [{"ActionsSession": []}]
    assert schema["paths"]["/api/v1/sts/revoke"]["post"]["security"] == [{"ActionsSession": []}]
    assert schema["paths"]["/api/v1/auth/github-oidc"]["post"].get("security", []) in ([], [{}])


def test_every_answer_carries_the_request_id_header_and_a_throttled_one_retry_after(schema):
    for path in schema["paths"].values():
        for status, response in path["post"]["responses"].items():
            assert response["headers"]["X-Request-Id"]["required"] is True
            assert ("Retry-After" in response["headers"]) == (status == "429")


def test_the_request_bodies_carry_their_limits(schema):
    components = schema["components"]["schemas"]
    assert components["OidcExchangeInput"]["required"] == ["token", "workspaceId"]
    assert components["OidcExchangeInput"]["properties"]["token"]["maxLength"] == 8192
    assert components["OidcExchangeInput"]["properties"]["workspaceId"]["maxLength"] == 40
    sources = components["MintInput"]["properties"]["sources"]
    assert sources["maxItems"] == 100
    assert sources["items"]["maxLength"] == 300
    assert components["RevokeInput"]["properties"]["token"]["maxLength"] == 4096


def test_generating_it_passes_spectaculars_validation_without_a_warning(tmp_path: Path):
    # --fail-on-warn raises on the first warning of the generator (a field it cannot type, a name collision).
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"), stdout=io.StringIO()
    )
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0.3")


def test_it_is_generated_once_per_process_then_served_as_it_is(client, monkeypatch):
    generated = []
    original = SchemaGenerator.get_schema

    def counted(self: SchemaGenerator, *args: Any, **kwargs: Any) -> Any:
        generated.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    monkeypatch.setattr(docs._GeneratedOnce, "_schema", None)
    answers = [client.get("/api/v1/schema/?format=json").json() for _ in range(3)]
    assert len(generated) == 1
    assert answers[0] == answers[1] == answers[2]


def test_a_mints_success_links_to_the_revocation_of_its_first_token(schema):
    links = schema["paths"]["/api/v1/sts"]["post"]["responses"]["200"]["links"]
    assert links["RevokeFirstToken"]["operationId"] == schema["paths"]["/api/v1/sts/revoke"]["post"]["operationId"]
    assert links["RevokeFirstToken"]["requestBody"] == {"token": "$response.body#/data/tokens/0/token"}


def test_every_exclusion_reason_is_listed(schema):
    reasons = schema["components"]["schemas"]["ExclusionOutput"]["properties"]["reason"]["enum"]
    assert reasons == [reason.value for reason in Reason]
