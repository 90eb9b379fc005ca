"""`/api/v1/docs/`: Swagger UI over the API's description, its files from our static files (the
drf-spectacular sidecar), under a Content-Security-Policy without `unsafe-inline`.

drf-spectacular's split view serves the page's start-up script as a file of its own (`?script`), so
no inline script is needed; its template's one inline style is replaced by a stylesheet of ours.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from drf_spectacular.views import SpectacularSwaggerSplitView

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


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "sts/api_docs.html"
    title = "Atmos Pro STS API"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response["Referrer-Policy"] = "same-origin"
        return response
