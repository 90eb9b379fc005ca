"""``POST /api/v1/auth/github-oidc``: step 0 of the wire contract, as the Atmos CLI calls it."""

from __future__ import annotations

from django.core.cache import cache
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sts.api.parsing import BoundedJSONParser, StrictCharField
from sts.envelope import request_id_of, success_response
from sts.errors import MalformedRequest, StsError
from sts.exchange import exchange_refusal_record, oidc_exchange
from sts.oidc import MAX_TOKEN_BYTES
from sts.throttles import OidcExchangeThrottle

MAX_WORKSPACE_ID_CHARS = 40


class OidcExchangeInput(serializers.Serializer[dict[str, str]]):
    token = StrictCharField(write_only=True, max_length=MAX_TOKEN_BYTES, trim_whitespace=False)
    workspaceId = StrictCharField(max_length=MAX_WORKSPACE_ID_CHARS)  # the wire's name


class OidcExchangeView(APIView):
    """Exchanges a GitHub Actions OIDC token for a session of the workspace (see ``sts.exchange``)."""

    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [OidcExchangeThrottle]
    metadata_class = None  # OPTIONS is a 405 envelope like any other method but POST
    service_reached = False  # the service writes its own audit event; anything refused before it, we do

    def post(self, request: Request) -> Response:
        body = _validated(OidcExchangeInput(data=request.data))
        self.service_reached = True
        token = oidc_exchange(
            token=body["token"],
            workspace_id=body["workspaceId"],
            request_id=request_id_of(request),
            client_ip=OidcExchangeThrottle().client_ip(request),
        )
        return success_response(request, {"token": token})

    def handle_exception(self, exc: Exception) -> Response:
        if self.service_reached:
            return super().handle_exception(exc)
        # Refused before the service saw it (throttle, method, media type, body): recorded as answered.
        request_id = request_id_of(self.request)
        client_ip = OidcExchangeThrottle().client_ip(self.request)
        try:
            response = super().handle_exception(exc)
        except Exception:
            exchange_refusal_record(
                request_id=request_id, client_ip=client_ip, error_tag=StsError.tag, status=500, reason=StsError.message
            )
            raise
        if isinstance(exc, exceptions.Throttled) and not cache.add(f"sts:throttled-audited:{client_ip}", True, 60):
            # One audit event per throttled client per minute: a flood must not grow the audit log,
            # which nothing may ever shrink.
            return response
        body = response.data if isinstance(response.data, dict) else {}
        exchange_refusal_record(
            request_id=request_id,
            client_ip=client_ip,
            error_tag=str(body.get("errorTag", "")),
            status=response.status_code,
            reason=str(body.get("errorMessage", "")),
        )
        return response


def _validated(serializer: OidcExchangeInput) -> dict[str, str]:
    if not serializer.is_valid():
        fields = ", ".join(sorted(serializer.errors)) if isinstance(serializer.errors, dict) else "body"
        raise MalformedRequest(
            'The body must be a JSON object {"token": "<GitHub Actions OIDC JWT>", "workspaceId": "<workspace id>"}'
            f" with non-empty strings of bounded length; check: {fields}."
        )
    return dict(serializer.validated_data)
