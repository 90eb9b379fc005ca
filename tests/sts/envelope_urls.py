"""A test-only urlconf: the real routes plus views that fail the ways the envelope must cover."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from atmospro.urls import urlpatterns as real_urlpatterns

# Built at run time, so that no token-shaped literal sits in the repository.
SECRET_IN_EXCEPTION = "ghs_" + "exceptiontexthiddenfromcallers0123456789"


def explodes(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"an unexpected bug that mentions {SECRET_IN_EXCEPTION}")


def reads_body(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"length": len(request.body)})


urlpatterns = [
    path("api/v1/test/explodes", explodes),
    path("api/v1/test/reads-body", reads_body),
    path("test/explodes", explodes),
    *real_urlpatterns,
]
