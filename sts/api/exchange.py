"""``POST /api/v1/auth/github-oidc``: step 0 of the wire contract, as the Atmos CLI calls it."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from audit import event_types
from sts.api.base import AuditedApiView
from sts.api.parsing import StrictCharField
from sts.envelope import success_response
from sts.errors import MalformedRequest
from sts.exchange import oidc_exchange
from sts.oidc import MAX_TOKEN_BYTES
from sts.throttles import OidcExchangeThrottle, client_address

MAX_WORKSPACE_ID_CHARS = 40


class OidcExchangeInput(serializers.Serializer[dict[str, str]]):
    token = StrictCharField(write_only=True, max_length=MAX_TOKEN_BYTES, trim_whitespace=False)
    workspaceId = StrictCharField(max_length=MAX_WORKSPACE_ID_CHARS)  # the wire's name


class OidcExchangeView(AuditedApiView):
    """Exchanges a GitHub Actions OIDC token for a session of the workspace (see ``sts.exchange``)."""

    audit_action = event_types.EXCHANGE
    permission_classes = [AllowAny]
    throttle_classes = [OidcExchangeThrottle]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        self.trail.note(client_ip=client_address(request))
        super().initial(request, *args, **kwargs)

    def post(self, request: Request) -> Response:
        body = _validated(OidcExchangeInput(data=request.data))
        token = oidc_exchange(token=body["token"], workspace_id=body["workspaceId"], trail=self.trail)
        return success_response(request, {"token": token})


def _validated(serializer: OidcExchangeInput) -> dict[str, str]:
    if not serializer.is_valid():
        fields = ", ".join(sorted(serializer.errors)) if isinstance(serializer.errors, dict) else "body"
        raise MalformedRequest(
            'The body must be a JSON object {"token": "<GitHub Actions OIDC JWT>", "workspaceId": "<workspace id>"}'
            f" with non-empty strings of bounded length; check: {fields}."
        )
    return dict(serializer.validated_data)
