"""The security headers of the review pages.

The pages carry no inline script or style (one stylesheet from our static files, the chart as SVG
elements with presentation attributes), so the policy needs no `unsafe-inline`; they are never framed,
and the audit data they show is not cached by the browser or anything between.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase

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

View = Callable[..., HttpResponseBase]


def review_headers(view: View) -> View:
    @wraps(view)
    def with_headers(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response["X-Frame-Options"] = "DENY"
        response["Referrer-Policy"] = "same-origin"
        response["Cache-Control"] = "no-store, private"
        return response

    return with_headers
