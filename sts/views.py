from __future__ import annotations

import functools
import hashlib
import json

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags
from django.views.decorators.http import require_safe

from sts.policy.schema import trust_policy_json_schema

SCHEMA_CONTENT_TYPE = "application/schema+json"
SCHEMA_MAX_AGE = 3600


@functools.cache
def _trust_policy_schema_document() -> tuple[bytes, str]:
    """The schema's bytes and strong ETag, computed once per process: the schema changes only with the code."""
    body = json.dumps(trust_policy_json_schema(), indent=2).encode("utf-8")
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@require_safe
def trust_policy_schema(request: HttpRequest) -> HttpResponse:
    """The trust policy's JSON Schema, for editors (`# yaml-language-server: $schema=...`): public and cacheable."""
    body, etag = _trust_policy_schema_document()
    if_none_match = request.headers.get("If-None-Match", "")
    if if_none_match and (if_none_match.strip() == "*" or etag in parse_etags(if_none_match)):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type=SCHEMA_CONTENT_TYPE)
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=SCHEMA_MAX_AGE)
    # Browser-based editors fetch the schema from their own origin; it is public, so any origin may read it.
    response["Access-Control-Allow-Origin"] = "*"
    return response
