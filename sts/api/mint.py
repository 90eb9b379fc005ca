"""`POST /api/v1/sts` (mint) and `POST /api/v1/sts/revoke`, behind a GitHub Actions session."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.services import audit_record
from sts.api.parsing import BoundedJSONParser, StrictCharField
from sts.envelope import request_id_of, success_response
from sts.errors import InvalidMintRequest, InvalidSession, StsError
from sts.mint import mint_refusal_record, token_mint
from sts.models import StsSession
from sts.revocation import revocation_record, token_revoke
from sts.sessions import session_verify
from sts.throttles import MintThrottle


class MintInputSerializer(serializers.Serializer):
    sources = serializers.ListField(
        child=StrictCharField(max_length=300, allow_blank=True, trim_whitespace=False),
        required=False,
        allow_null=True,
    )
    policyName = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=200, trim_whitespace=False
    )


class RevokeInputSerializer(serializers.Serializer):
    token = StrictCharField(write_only=True, max_length=4096, trim_whitespace=False)


def actions_session(request: Request, *, action: str) -> StsSession:
    """The verified session of the bearer; a refusal is audited like every other."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not credentials.strip():
            raise InvalidSession("Send the session as 'Authorization: Bearer <token>'.")
        return session_verify(credentials.strip())
    except StsError as error:
        audit_record(
            action=action,
            outcome=AuditEvent.Outcome.DENIED,
            request_id=request_id_of(request),
            error_tag=error.tag,
            detail={"reason": error.message},
        )
        raise


def _validated(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The contract answers a body the caller can fix with HTTP 200 and success false, so the
    client prints the sentence; a 400 would make it say "not a GitHub Actions session"."""
    try:
        data = request.data
    except ParseError:
        raise InvalidMintRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidMintRequest("The request body must be a JSON object.")
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        raise InvalidMintRequest(f"{field}: {_first(problems)}", context={"field": field})
    return dict(serializer.validated_data)


def _first(problems: Any) -> str:
    while isinstance(problems, list | dict):
        problems = next(iter(problems.values() if isinstance(problems, dict) else problems), "invalid")
    return str(problems)


class _SessionView(APIView):
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes = [MintThrottle]


class MintView(_SessionView):
    def post(self, request: Request) -> Response:
        session = actions_session(request, action=AuditEvent.Action.STS_MINT)
        try:
            body = _validated(request, MintInputSerializer)
        except StsError as error:
            mint_refusal_record(session=session, request_id=request_id_of(request), error=error, policy_name="")
            raise
        result = token_mint(
            session=session,
            sources=body.get("sources"),
            policy_name=body.get("policyName"),
            request_id=request_id_of(request),
        )
        return success_response(request, result.as_data())


class RevokeView(_SessionView):
    def post(self, request: Request) -> Response:
        session = actions_session(request, action=AuditEvent.Action.STS_REVOKE)
        try:
            body = _validated(request, RevokeInputSerializer)
        except StsError as error:
            revocation_record(session=session, request_id=request_id_of(request), fingerprint="", error=error)
            raise
        minted = token_revoke(session=session, token=body["token"], request_id=request_id_of(request))
        return success_response(request, {"revoked": True, "fingerprint": minted.fingerprint})
