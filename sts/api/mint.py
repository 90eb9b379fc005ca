"""`POST /api/v1/sts` (mint) and `POST /api/v1/sts/revoke`, behind a GitHub Actions session."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from audit import event_types
from sts.api.base import ActionsSessionAuthentication, AuditedApiView
from sts.api.parsing import StrictCharField
from sts.api.schema import route_responses
from sts.envelope import success_response
from sts.errors import (
    CallerNoLongerInstalled,
    CallerNotAdmitted,
    InvalidMintRequest,
    InvalidSession,
    NotAnActionsSession,
    StsNotEntitled,
)
from sts.mint import MintResult, token_mint
from sts.policy.names import POLICY_NAME_PATTERN
from sts.reasons import Reason
from sts.revocation import TokenNotFound, token_revoke
from sts.throttles import SessionThrottle

MAX_SOURCE_CHARS = 300


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "maxLength": MAX_SOURCE_CHARS},
        "maxItems": settings.STS_MAX_SOURCES,
        "nullable": True,
        "description": "`owner/repo` names of the source repositories to read; absent, null or empty: every "
        "repository of the workspace whose policy admits the caller. A name that breaks GitHub's naming rules "
        "is excluded (`invalid_source_name`), not refused. More names than the workspace's plan allows (at most "
        f"{settings.STS_MAX_SOURCES}) is an `InvalidMintRequest`.",
    }
)
class SourcesField(serializers.ListField):
    """Checked for more names than allowed by the mint itself (the plan's limit), with a sentence of its own."""


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        # An empty name is described beside this pattern by drf-spectacular (the field allows blank).
        "pattern": f"^{POLICY_NAME_PATTERN}$",
        "description": "The trust policy file to read in each source, `.atmos/pro/sts/<policyName>.yaml`; "
        "absent, null or empty: `default`.",
    }
)
class PolicyNameField(StrictCharField):
    """Checked against the pattern by the mint itself, with a sentence of its own."""


class MintInputSerializer(serializers.Serializer):
    sources = SourcesField(
        child=StrictCharField(max_length=MAX_SOURCE_CHARS, allow_blank=True, trim_whitespace=False),
        required=False,
        allow_null=True,
    )
    policyName = PolicyNameField(
        required=False, allow_null=True, allow_blank=True, max_length=200, trim_whitespace=False
    )


class RevokeInputSerializer(serializers.Serializer):
    token = StrictCharField(write_only=True, max_length=4096, trim_whitespace=False)


@extend_schema_field(OpenApiTypes.DATETIME)
class GitHubTimeField(serializers.CharField):
    """RFC 3339 in UTC, exactly as GitHub returned it."""


class TokenOutputSerializer(serializers.Serializer):
    """One `data.tokens[]` entry of the wire contract: the only place a token value leaves us."""

    host = serializers.CharField()
    owner = serializers.CharField()
    token = serializers.CharField(help_text="The installation token (`ghs_…`), read-only, short-lived.")
    expiresAt = GitHubTimeField(source="expires_at")
    repositories = serializers.ListField(child=serializers.CharField())
    permissions = serializers.DictField(child=serializers.CharField())


class ExclusionOutputSerializer(serializers.Serializer):
    repo = serializers.CharField(source="name")
    reason = serializers.ChoiceField(choices=[reason.value for reason in Reason])


class MintOutputSerializer(serializers.Serializer):
    tokens = TokenOutputSerializer(many=True)
    excluded = ExclusionOutputSerializer(many=True)

    def to_representation(self, instance: MintResult) -> dict[str, Any]:
        """What the declared fields give (the schema is made of them, and a test holds the two equal),
        written out: DRF copies every declared field of every nested serializer for each answer, which
        cost a warm mint more than its audit event's SQL."""
        return {
            "tokens": [
                {
                    "host": str(token.host),
                    "owner": str(token.owner),
                    "token": str(token.token),
                    "expiresAt": str(token.expires_at),
                    "repositories": [str(name) for name in token.repositories],
                    "permissions": {str(name): str(level) for name, level in token.permissions.items()},
                }
                for token in instance.tokens
            ],
            "excluded": [{"repo": str(source.name), "reason": str(source.reason)} for source in instance.excluded],
        }


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
    throttle_classes = [SessionThrottle]


# What each route answers besides the framework's refusals (`sts.api.schema`).
SESSION_ERRORS = (NotAnActionsSession, InvalidSession, InvalidMintRequest)
MINT_ERRORS = (*SESSION_ERRORS, StsNotEntitled, CallerNotAdmitted, CallerNoLongerInstalled)
REVOKE_ERRORS = (*SESSION_ERRORS, TokenNotFound)


class MintView(_SessionView):
    audit_action = event_types.MINT

    @extend_schema(
        operation_id="sts_mint",
        summary="Mint installation tokens for the source repositories whose trust policy admits the caller",
        description="One token per (installation, permission set); each requested source ends either in one "
        "token's `repositories` or in `excluded` with one reason. Everything excluded is still a success.",
        request=MintInputSerializer,
        responses=route_responses(data=MintOutputSerializer(), errors=MINT_ERRORS, name="Mint"),
        examples=[
            OpenApiExample(
                "Two sources",
                value={"sources": ["acme/terraform-modules", "acme/legacy-modules"], "policyName": "default"},
                request_only=True,
            ),
            OpenApiExample("Every admitted repository of the workspace", value={}, request_only=True),
        ],
    )
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

    @extend_schema(
        operation_id="sts_revoke",
        summary="Revoke a token this workspace minted",
        description="`confirmed` says whether GitHub already confirmed the revocation; when it did not, it is "
        "retried in the background until GitHub does or the token expires.",
        request=RevokeInputSerializer,
        responses=route_responses(data=RevokeOutputSerializer(), errors=REVOKE_ERRORS, name="Revoke"),
    )
    def post(self, request: Request) -> Response:
        body = _validated(request, RevokeInputSerializer)
        revocation = token_revoke(session=self.session(request), token=body["token"], trail=self.trail)
        return success_response(request, RevokeOutputSerializer(revocation).data)
