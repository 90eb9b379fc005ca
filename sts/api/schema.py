"""The API's OpenAPI description (drf-spectacular, served at `/api/v1/schema/`): the wire contract's
envelope around each route's data, and for each status a route answers, the error tags it answers with.

The tags come from the error classes themselves (`StsError.tag` and `.status`) and from the envelope's
table of the framework's own refusals, so the description names no tag the code lacks; each route lists
the error classes it can raise next to its view.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema_field, inline_serializer
from rest_framework import serializers

from sts.envelope import FRAMEWORK_ERRORS, REQUEST_ID_HEADER
from sts.errors import StsError

# Refusals any route may answer before its own code runs: a malformed request (a body that is not
# JSON, a bad Host header), another method on the path, an Accept without JSON, a body over the
# parser's limit, a body that is not JSON by its Content-Type, the throttle.
FRAMEWORK_STATUSES = (400, 405, 406, 413, 415, 429)

_HEADERS: dict[str, Any] = {
    REQUEST_ID_HEADER: {
        "description": "This request's id: the envelope's `request` and `traceId`, and the audit event's.",
        "schema": {"type": "string"},
        "required": True,
    },
}
_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds until the throttle lets this caller in.", "schema": {"type": "integer"}}
}


def only_api_routes(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """drf-spectacular's preprocessing hook: the description covers the `/api/v1/` routes only."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


class ActionsSessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """`sts.api.base.ActionsSessionAuthentication` in the description: a bearer session JWT."""

    target_class = "sts.api.base.ActionsSessionAuthentication"
    name = "ActionsSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A session from `POST /api/v1/auth/github-oidc` (kind `ws:gh:action`).",
        }


# What DRF's CharField refuses: a NUL anywhere, and (when it trims) a string of whitespace only, as
# Python's str.strip() sees it; both as JSON Schema patterns.
_NOT_NUL = "[^\\u0000]"
_WHITESPACE = "".join(f"\\u{code:04x}" for code in range(0x3001) if chr(code).isspace())


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """`sts.api.parsing.StrictCharField` as exactly what it accepts: a JSON string (never a number), of
    its lengths, without NUL, and, when it trims and must not be blank, not whitespace only."""

    target_class = "sts.api.parsing.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        field = self.target
        schema: dict[str, Any] = {"type": "string", "pattern": f"^{_NOT_NUL}*$"}
        if not field.allow_blank:
            schema["minLength"] = 1
            if field.trim_whitespace:
                schema["pattern"] = f"^{_NOT_NUL}*[^\\u0000{_WHITESPACE}]{_NOT_NUL}*$"
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        if field.allow_null:
            schema["nullable"] = True
        return schema


def route_responses(
    *, data: serializers.Serializer, errors: Iterable[type[StsError]], name: str
) -> dict[int, OpenApiResponse]:
    """Every answer of one route: 200 with `data` (or, for the errors of status 200, `success: false`),
    and one envelope per other status with the tags the route answers it with."""
    tags: dict[int, set[str]] = {status: {FRAMEWORK_ERRORS[status][0]} for status in FRAMEWORK_STATUSES}
    tags[500] = {StsError.tag}
    for error in errors:
        tags.setdefault(error.status, set()).add(error.tag)
    success = _success_envelope(name, data)
    responses = {200: _response("Success: `data` holds the answer.", success)}
    if 200 in tags:
        failure = _failure_envelope(200, tuple(sorted(tags.pop(200))))
        answer = PolymorphicProxySerializer(
            component_name=f"{name}Answer", serializers=[success, failure], resource_type_field_name=None
        )
        responses[200] = _response(
            "Success (`success: true`, with `data`), or a request the caller can fix (`success: false`, "
            "with `errorTag` and `errorMessage`): the wire contract answers those with HTTP 200.",
            answer,
        )
    for status in sorted(tags):
        envelope = _failure_envelope(status, tuple(sorted(tags[status])))
        responses[status] = _response(_STATUS_MEANING.get(status, "Refused."), envelope)
    return responses


_STATUS_MEANING = {
    400: "Malformed request.",
    401: "Not authenticated.",
    403: "Authenticated, not allowed.",
    404: "Not found.",
    405: "Another method than this route takes.",
    406: "An `Accept` header without `application/json`.",
    413: "The body is larger than the API reads.",
    415: "A body that is not `application/json`.",
    429: "Throttled: retry after `Retry-After` seconds.",
    500: "Our fault: the message carries the trace id for support.",
    503: "A service we depend on (GitHub, its OIDC issuer) did not answer: retry in a moment.",
}


def _response(description: str, body: Any) -> OpenApiResponse:
    return OpenApiResponse(response=body, description=description)


def _one_of(schema_type: str, values: Iterable[object], help_text: str) -> serializers.Field:
    """A field whose description is exactly these values (an enum in the schema, no separate component)."""

    @extend_schema_field({"type": schema_type, "enum": list(values)})
    class OneOf(serializers.Field):  # type: ignore[type-arg]
        pass

    return OneOf(help_text=help_text)


def _envelope_fields(status: int, success: bool) -> dict[str, serializers.Field]:
    return {
        "request": serializers.CharField(help_text="An id for this request (also the `X-Request-Id` header)."),
        "status": _one_of("integer", [status], "The HTTP status, repeated."),
        "success": _one_of("boolean", [success], "Whether the request succeeded."),
        "traceId": serializers.CharField(help_text="The id support finds the audit event and the logs by."),
    }


@functools.cache
def _failure_envelope(status: int, tags: tuple[str, ...]) -> serializers.Serializer:
    return inline_serializer(
        name="Error" + "".join(tags) if status != 200 else "Failure" + "".join(tags),
        fields={
            **_envelope_fields(status, success=False),
            "errorTag": _one_of("string", tags, "A stable machine tag of what went wrong."),
            "errorMessage": serializers.CharField(help_text="One sentence: what is wrong and what to do."),
            "context": serializers.DictField(required=False, help_text="Extra facts (never a secret)."),
        },
    )


def _success_envelope(name: str, data: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(name=f"{name}Success", fields={**_envelope_fields(200, success=True), "data": data})


# A minted token is what the revocation takes: the link lets a client (and schemathesis's stateful
# phase) follow a mint with the revocation of its first token.
_MINT_LINKS = {
    "RevokeFirstToken": {
        "operationId": "sts_revoke",
        "requestBody": {"token": "$response.body#/data/tokens/0/token"},
        "description": "Revoke the first token this mint returned.",
    }
}


def describe_response_headers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: the headers every answer carries (and 429's `Retry-After`),
    and the link from a mint's success to the revocation of its token."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                response["headers"] = {**_HEADERS, **(_RETRY_AFTER if str(status) == "429" else {})}
                if operation.get("operationId") == "sts_mint" and str(status) == "200":
                    response["links"] = _MINT_LINKS
    return result
