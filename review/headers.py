"""The security headers of the review pages (`/audit/`, `/policies/`), on every answer under their URL
prefixes (the refusals and "not found" pages included).

The pages carry no inline script or style (one stylesheet from our static files, the chart as SVG
elements with presentation attributes), so the policy needs no `unsafe-inline`; they are never framed,
and the audit data they show is not cached by the browser or anything between.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


class ReviewHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    @cached_property
    def prefixes(self) -> tuple[str, ...]:
        return reverse("audit:list"), reverse("policies:simulate")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path_info.startswith(self.prefixes):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response["X-Frame-Options"] = "DENY"
            response["Referrer-Policy"] = "same-origin"
            response["Cache-Control"] = "no-store, private"
        return response
