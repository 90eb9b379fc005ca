"""`POST /webhooks/github`: checks and records a delivery, then answers; a Celery task does the work.

Refused with a 4xx and nothing recorded: a body over MAX_BODY_BYTES (read no further), a missing
or wrong `X-Hub-Signature-256`, a delivery without GUID or event name, a body that is not JSON, or
an event we act on whose payload lacks GitHub's shape.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from github_app.webhooks import WebhookPayloadInvalid, signature_matches
from observability.metrics import webhook_delivery_observed
from sts.webhooks.services import webhook_delivery_receive
from sts.webhooks.tasks import webhook_delivery_process

# GitHub sends at most 25 MB (https://docs.github.com/en/webhooks/webhook-events-and-payloads#payload-cap);
# the events we act on are far smaller, and a larger body is not read.
MAX_BODY_BYTES = 5 * 1024 * 1024
_GUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_EVENT = re.compile(r"^[a-z_]{1,64}$")


class WebhookRefused(Exception):
    def __init__(self, tag: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.tag, self.status = tag, status


@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> JsonResponse:
    response, result = _receive(request)
    webhook_delivery_observed(event=request.headers.get("X-GitHub-Event", ""), result=result)
    return response


def _receive(request: HttpRequest) -> tuple[JsonResponse, str]:
    """The answer, and its result in a word: the delivery's status, `duplicate`, or the refusal's tag."""
    try:
        guid, event, payload = _checked(request)
        with transaction.atomic():
            received = webhook_delivery_receive(guid=guid, event=event, payload=payload)
            if received.enqueue:
                pk = received.delivery.pk
                transaction.on_commit(lambda: webhook_delivery_process.delay(pk))
    except WebhookRefused as refused:
        return JsonResponse({"error": refused.tag, "message": str(refused)}, status=refused.status), refused.tag
    except WebhookPayloadInvalid as invalid:
        return JsonResponse({"error": invalid.tag, "message": str(invalid)}, status=400), invalid.tag
    status = "duplicate" if received.duplicate else received.delivery.status
    return JsonResponse({"delivery": guid, "status": status}, status=202 if received.enqueue else 200), str(status)


def _checked(request: HttpRequest) -> tuple[str, str, object]:
    body = _body(request)
    if not signature_matches(
        body=body, header=request.headers.get("X-Hub-Signature-256"), secrets=settings.GITHUB_WEBHOOK_SECRETS
    ):
        raise WebhookRefused("WebhookSignatureInvalid", "X-Hub-Signature-256 is missing or wrong.", status=401)
    guid = request.headers.get("X-GitHub-Delivery", "")
    event = request.headers.get("X-GitHub-Event", "")
    if not _GUID.match(guid) or not _EVENT.match(event):
        raise WebhookRefused("WebhookHeadersInvalid", "X-GitHub-Delivery and X-GitHub-Event are required.", status=400)
    if request.content_type != "application/json":
        raise WebhookRefused("WebhookNotJson", "Configure the webhook's content type as application/json.", status=415)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookRefused("WebhookNotJson", "The body is not JSON.", status=400) from None
    return guid, event, payload


def _body(request: HttpRequest) -> bytes:
    """The raw body, read no further than MAX_BODY_BYTES: the signature covers these exact bytes."""
    too_large = WebhookRefused("WebhookTooLarge", f"A delivery holds at most {MAX_BODY_BYTES} bytes.", status=413)
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise WebhookRefused("WebhookHeadersInvalid", "Content-Length is not a number.", status=400) from None
    if declared > MAX_BODY_BYTES:
        raise too_large
    # request.body would refuse anything over DATA_UPLOAD_MAX_MEMORY_SIZE (the API's small cap).
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise too_large
    return body
