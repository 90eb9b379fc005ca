"""``POST /api/v1/auth/github-oidc``: step 0 of the wire contract, as the Atmos CLI calls it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from audit import event_types
from sts.api.base import AuditedApiView
from sts.api.parsing import StrictCharField
from sts.api.schema import route_responses
from sts.envelope import success_response
from sts.errors import (
    CallerNotAdmitted,
    GitHubUnreachable,
    InvalidOidcToken,
    MalformedRequest,
    OidcTokenReplayed,
    RepositoryNotInWorkspace,
    WorkspaceNotFound,
)
from sts.exchange import oidc_exchange
from sts.oidc import MAX_TOKEN_BYTES, OidcIssuerUnavailable
from sts.throttles import OidcExchangeThrottle, client_address

MAX_WORKSPACE_ID_CHARS = 40


class OidcExchangeInput(serializers.Serializer[dict[str, str]]):
    token = StrictCharField(write_only=True, max_length=MAX_TOKEN_BYTES, trim_whitespace=False)
    workspaceId = StrictCharField(max_length=MAX_WORKSPACE_ID_CHARS)  # the wire's name


class OidcExchangeOutput(serializers.Serializer[dict[str, str]]):
    token = serializers.CharField(help_text="The session JWT (kind `ws:gh:action`, with `exp`): the mint's bearer.")


# What the exchange answers besides the framework's refusals (`sts.api.schema`).
EXCHANGE_ERRORS = (
    MalformedRequest,
    InvalidOidcToken,
    OidcTokenReplayed,
    RepositoryNotInWorkspace,
    CallerNotAdmitted,
    WorkspaceNotFound,
    GitHubUnreachable,
    OidcIssuerUnavailable,
)


class OidcExchangeView(AuditedApiView):
    """Exchanges a GitHub Actions OIDC token for a session of the workspace (see ``sts.exchange``)."""

    audit_action = event_types.EXCHANGE
    permission_classes = [AllowAny]
    throttle_classes = [OidcExchangeThrottle]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        self.trail.note(client_ip=client_address(request))
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="oidc_exchange",
        summary="Exchange a GitHub Actions OIDC token for a session",
        description="Step 0 of the Atmos CLI's flow. The OIDC token travels in the body (the wire contract "
        "sends no `Authorization` header here); it is verified against the configured issuers' keys and is "
        "single use. The caller's repository must be covered by a GitHub App installation of the workspace.",
        request=OidcExchangeInput,
        responses=route_responses(data=OidcExchangeOutput(), errors=EXCHANGE_ERRORS, name="OidcExchange"),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        body = _validated(OidcExchangeInput(data=request.data))
        token = oidc_exchange(token=body["token"], workspace_id=body["workspaceId"], trail=self.trail)
        return success_response(request, OidcExchangeOutput({"token": token}).data)


def _validated(serializer: OidcExchangeInput) -> dict[str, str]:
    if not serializer.is_valid():
        fields = ", ".join(sorted(serializer.errors)) if isinstance(serializer.errors, dict) else "body"
        raise MalformedRequest(
            'The body must be a JSON object {"token": "<GitHub Actions OIDC JWT>", "workspaceId": "<workspace id>"}'
            f" with non-empty strings of bounded length; check: {fields}."
        )
    return dict(serializer.validated_data)
