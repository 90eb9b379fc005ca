from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def trust_policy_schema(request: HttpRequest) -> HttpResponse:
    """Scaffold: replaced by issue 4."""
    return HttpResponse(status=501)
