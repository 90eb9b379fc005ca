"""`/api/v1/schema/`, the API's description, and `/api/v1/docs/`, Swagger UI over it, its files from our
static files (the drf-spectacular sidecar), under a Content-Security-Policy without `unsafe-inline`.

drf-spectacular's split view serves the page's start-up script as a file of its own (`?script`), so
no inline script is needed; its template's one inline style is replaced by a stylesheet of ours.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: SVG images.
        "img-src 'self' data:",
        # The description, and "Try it out" against this same API.
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


class _GeneratedOnce(SchemaGenerator):
    """The description depends on the code only: generated once per process (tens of milliseconds of CPU
    that an anonymous caller could otherwise ask for again and again), then served as it is."""

    _schema: dict[str, Any] | None = None
    _lock = threading.Lock()

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        with _GeneratedOnce._lock:
            if _GeneratedOnce._schema is None:
                _GeneratedOnce._schema = super().get_schema(request=request, public=public)
            return _GeneratedOnce._schema


class ApiSchemaView(SpectacularAPIView):
    generator_class = _GeneratedOnce


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "sts/api_docs.html"
    title = "Atmos Pro STS API"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response["Referrer-Policy"] = "same-origin"
        return response
