"""The response envelope of the wire contract, on every /api/ response, errors from every layer included."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.log import log_response
from rest_framework import exceptions as drf
from rest_framework.response import Response

from observability.log_context import current_request_id, request_log_context
from sts.errors import StsError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
API_PREFIX = "/api/"

# The tag and sentence of each refusal that the framework answers before our code runs (the API's
# description lists them per status from here too).
FRAMEWORK_ERRORS = {
    400: ("MalformedRequest", "The request is malformed."),
    401: ("Unauthorized", "Authentication failed."),
    403: ("Forbidden", "This request is not allowed."),
    404: ("NotFound", "There is no such API route."),
    405: ("MethodNotAllowed", "This route does not accept that HTTP method."),
    406: ("NotAcceptable", "This API answers application/json only."),
    413: ("PayloadTooLarge", "The request body is too large."),
    415: ("UnsupportedMediaType", "Send the body as application/json."),
    429: ("Throttled", "Too many requests; slow down and retry later."),
}


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def envelope(
    *,
    request_id: str,
    status: int,
    data: dict[str, Any] | None = None,
    error_tag: str | None = None,
    error_message: str | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request": request_id,
        "status": status,
        "success": error_tag is None,
        "traceId": request_id,
    }
    if error_tag is not None:
        body["errorTag"] = error_tag
        body["errorMessage"] = error_message or ""
    if context:
        body["context"] = context
    if data is not None:
        body["data"] = data
    return body


def success_response(request: HttpRequest, data: dict[str, Any], status: int = 200) -> Response:
    return Response(envelope(request_id=request_id_of(request), status=status, data=data), status=status)


def error_body(request: HttpRequest, error: StsError) -> dict[str, Any]:
    message = error.message
    if error.status >= 500:
        message = f"{message} Quote trace id {request_id_of(request)} to support."
    return envelope(
        request_id=request_id_of(request),
        status=error.status,
        error_tag=error.tag,
        error_message=message,
        context=error.context,
    )


def request_id_of(request: HttpRequest) -> str:
    return getattr(request, "request_id", None) or current_request_id()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: every error DRF sees becomes an envelope; the rest reach the middleware."""
    request = context["request"]
    if isinstance(exc, StsError):
        return Response(error_body(request, exc), status=exc.status)
    if not isinstance(exc, drf.APIException):
        return None
    status = exc.status_code
    tag, message = FRAMEWORK_ERRORS.get(status, ("Error", "The request failed."))
    headers: dict[str, str] = {}
    if isinstance(exc, drf.ParseError):
        message = "The request body is not valid JSON."
    elif isinstance(exc, drf.MethodNotAllowed):
        message = f"This route does not accept {request.method}."
    elif isinstance(exc, drf.Throttled) and getattr(exc, "wait", None) is not None:
        retry_after = int(exc.wait) + 1  # type: ignore[attr-defined]  # set by DRF, absent from its stubs
        message = f"Too many requests; retry in {retry_after} seconds."
        headers["Retry-After"] = str(retry_after)
    body = envelope(request_id=request_id_of(request), status=status, error_tag=tag, error_message=message)
    return Response(body, status=status, headers=headers)


class RequestIdMiddleware:
    """Gives every request an id: the envelope's ``request`` and ``traceId``, the audit row's, the logs'."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        with request_log_context(request_id):
            response = self.get_response(request)
            if response.status_code >= 400:
                # What Django would log after every middleware returned, outside the request's context:
                # logged here it carries the request id, and Django sees it was logged.
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiErrorMiddleware:
    """Under /api/: an unexpected exception is a 500 envelope (never a page or a trace), and any
    response that Django itself produced (404 of an unknown route, 400 of a too-large body) is
    rewritten as an envelope with the same status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400 or _is_envelope(response):
            return response
        if response.status_code >= 500:
            return JsonResponse(error_body(request, StsError()), status=response.status_code)
        tag, message = FRAMEWORK_ERRORS.get(response.status_code, ("Error", "The request failed."))
        body = envelope(
            request_id=request_id_of(request), status=response.status_code, error_tag=tag, error_message=message
        )
        return JsonResponse(body, status=response.status_code)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX) or isinstance(exception, _DJANGO_CLIENT_ERRORS):
            # Django answers these with their 4xx; __call__ then wraps that answer in the envelope.
            return None
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        error = StsError()
        return JsonResponse(error_body(request, error), status=500)


_DJANGO_CLIENT_ERRORS = (Http404, PermissionDenied, SuspiciousOperation, BadRequest)


def _is_envelope(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    if getattr(response, "streaming", False):
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and "traceId" in body
