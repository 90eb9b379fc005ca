"""The served OpenAPI description, and JSON Schema validators for what it says of a route."""

from __future__ import annotations

from typing import Any

import jsonschema


def served_schema(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return dict(response.json())


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema objects as JSON Schema: `nullable` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key not in {"nullable", "writeOnly"}}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def validator(schema: dict[str, Any], target: dict[str, Any]) -> jsonschema.Draft7Validator:
    document = {**_json_schema(target), "components": _json_schema(schema["components"])}
    return jsonschema.Draft7Validator(document)


def request_validator(schema: dict[str, Any], path: str) -> jsonschema.Draft7Validator:
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return validator(schema, body)


def answer_validator(schema: dict[str, Any], path: str, status: int) -> jsonschema.Draft7Validator:
    responses = schema["paths"][path]["post"]["responses"]
    assert str(status) in responses, f"{path} answered {status}, which its description does not list"
    return validator(schema, responses[str(status)]["content"]["application/json"]["schema"])


def assert_conforms(schema: dict[str, Any], path: str, response: Any) -> None:
    """The answer is one the description lists, with a body and headers it describes."""
    assert response["Content-Type"] == "application/json"
    documented = schema["paths"][path]["post"]["responses"][str(response.status_code)]
    for name, header in documented.get("headers", {}).items():
        assert not header.get("required") or response.has_header(name), f"{path} answered without {name}"
    errors = list(answer_validator(schema, path, response.status_code).iter_errors(response.json()))
    assert errors == [], [error.message for error in errors]
