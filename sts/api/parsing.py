"""Reading API request bodies: bounded JSON, and strings that are strings."""

from __future__ import annotations

import io
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser

MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class BoundedJSONParser(JSONParser):
    """JSON, read at most ``MAX_BODY_BYTES`` of (DRF reads the stream whole, whatever its length), and
    nesting too deep for Python's json module refused as malformed instead of escaping as a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            # json raises it, not a ValueError, for deeply nested arrays: a 500 without this.
            raise exceptions.ParseError() from None


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField would turn ``123`` into ``"123"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
