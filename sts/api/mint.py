"""`POST /api/v1/sts` (mint) and `POST /api/v1/sts/revoke`, behind a GitHub Actions session."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from audit import event_types
from sts.api.base import ActionsSessionAuthentication, AuditedApiView
from sts.api.parsing import StrictCharField
from sts.envelope import success_response
from sts.errors import InvalidMintRequest
from sts.mint import token_mint
from sts.revocation import token_revoke
from sts.throttles import CallerRepositoryThrottle, WorkspaceThrottle


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


class TokenOutputSerializer(serializers.Serializer):
    """One `data.tokens[]` entry of the wire contract: the only place a token value leaves us."""

    host = serializers.CharField()
    owner = serializers.CharField()
    token = serializers.CharField()
    expiresAt = serializers.CharField(source="expires_at")
    repositories = serializers.ListField(child=serializers.CharField())
    permissions = serializers.DictField(child=serializers.CharField())


class ExclusionOutputSerializer(serializers.Serializer):
    repo = serializers.CharField(source="name")
    reason = serializers.CharField()


class MintOutputSerializer(serializers.Serializer):
    tokens = TokenOutputSerializer(many=True)
    excluded = ExclusionOutputSerializer(many=True)


class RevokeOutputSerializer(serializers.Serializer):
    """`revoked`: the revocation is ours to finish; `confirmed`: GitHub already confirmed it (when
    false, we retry in the background until it does or the token expires)."""

    revoked = serializers.BooleanField()
    confirmed = serializers.BooleanField()
    fingerprint = serializers.CharField(source="minted.fingerprint")


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


class _SessionView(AuditedApiView):
    authentication_classes = [ActionsSessionAuthentication]
    throttle_classes = [WorkspaceThrottle, CallerRepositoryThrottle]


class MintView(_SessionView):
    audit_action = event_types.MINT

    def post(self, request: Request) -> Response:
        body = _validated(request, MintInputSerializer)
        result = token_mint(
            session=self.session(request),
            sources=body.get("sources"),
            policy_name=body.get("policyName"),
            trail=self.trail,
        )
        return success_response(request, MintOutputSerializer(result).data)


class RevokeView(_SessionView):
    audit_action = event_types.REVOKE

    def post(self, request: Request) -> Response:
        body = _validated(request, RevokeInputSerializer)
        revocation = token_revoke(session=self.session(request), token=body["token"], trail=self.trail)
        return success_response(request, RevokeOutputSerializer(revocation).data)
