"""GET /schemas/v1alpha1/trust-policy.json: the JSON Schema editors use, public and cacheable."""

from __future__ import annotations

import json

import jsonschema
import yaml
from django.test import Client

from sts.policy.schema import trust_policy_json_schema
from tests.factories import SPEC_EXAMPLE_POLICY

URL = "/schemas/v1alpha1/trust-policy.json"


def test_it_serves_the_schema_as_schema_json(client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    assert json.loads(response.content) == trust_policy_json_schema()


def test_it_is_cacheable_by_anyone(client: Client) -> None:
    response = client.get(URL)

    directives = {directive.strip() for directive in response["Cache-Control"].split(",")}
    assert directives == {"public", "max-age=3600"}
    assert response["ETag"].startswith('"')
    assert response["Access-Control-Allow-Origin"] == "*"


def test_it_answers_not_modified_to_a_matching_etag(client: Client) -> None:
    etag = client.get(URL)["ETag"]

    response = client.get(URL, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_it_answers_in_full_to_a_stale_etag(client: Client) -> None:
    response = client.get(URL, headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200


def test_the_schema_is_a_valid_draft_2020_12_schema(client: Client) -> None:
    schema = json.loads(client.get(URL).content)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schema_accepts_the_spec_example(client: Client) -> None:
    schema = json.loads(client.get(URL).content)

    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(SPEC_EXAMPLE_POLICY))


def test_it_refuses_other_methods(client: Client) -> None:
    response = client.post(URL)

    assert response.status_code == 405


def test_head_answers_without_a_body(client: Client) -> None:
    response = client.head(URL)

    assert response.status_code == 200
    assert response.content == b""
