"""The base of every `/api/v1/` route: JSON in and out, the wire contract's envelope for every
answer, and exactly one audit event per request, written by this class once the answer is final."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase
from rest_framework.authentication import BaseAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.event_types import Operation
from audit.models import AuditEvent
from audit.trail import AuditTrail, outcome_of
from observability.metrics import api_request_observed
from sts.api.parsing import BoundedJSONParser
from sts.envelope import request_id_of
from sts.errors import InvalidSession, StsError
from sts.models import StsSession
from sts.sessions import session_verify
from sts.throttles import client_address

# A throttled caller leaves at most one event a minute: a flood must not grow the audit log, which
# nothing may ever shrink.
THROTTLED_AUDIT_SECONDS = 60


class ActionsSessionAuthentication(BaseAuthentication):
    """The bearer is one of our GitHub Actions sessions: `request.auth` is its `StsSession`."""

    def authenticate(self, request: Request) -> tuple[None, StsSession]:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise InvalidSession("Send the session as 'Authorization: Bearer <token>'.")
        return None, session_verify(credentials.strip())

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class AuditedApiView(APIView):
    audit_action: ClassVar[Operation]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes = []
    permission_classes = []
    metadata_class = None  # OPTIONS is a 405 envelope like every method the route does not take
    trail: AuditTrail

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.trail = AuditTrail(action=self.audit_action, request_id=request_id_of(request))
        try:
            return super().dispatch(request, *args, **kwargs)
        except BaseException:
            # Not handled by DRF: the middleware answers a 500 envelope; the event says so first.
            self.trail.write(status=500, error_tag=StsError.tag, message=StsError.message)
            self.observe(status=500, error_tag=StsError.tag)
            raise

    @property
    def allowed_methods(self) -> list[str]:
        """The `Allow` header of a 405: OPTIONS is refused like any method the route does not take."""
        return [method for method in super().allowed_methods if method != "OPTIONS"]

    def session(self, request: Request) -> StsSession:
        """The verified session of a route whose authentication is `ActionsSessionAuthentication`."""
        if not isinstance(request.auth, StsSession):  # a route wired without the session authentication
            raise InvalidSession()
        return request.auth

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        session = request.auth
        if isinstance(session, StsSession):
            self.trail.identify(workspace_public_id=session.workspace.public_id, identity=session.identity)
            self.trail.note(session=session.jti)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        body = response.data if isinstance(response.data, dict) else {}
        error_tag = "" if body.get("success", False) else str(body.get("errorTag", "Error"))
        message = str(body.get("errorMessage", ""))
        if response.status_code != 429 or cache.add(self.throttled_audit_key(request), True, THROTTLED_AUDIT_SECONDS):
            self.trail.write(status=response.status_code, error_tag=error_tag, message=message)
        self.observe(status=response.status_code, error_tag=error_tag)
        return response

    def observe(self, *, status: int, error_tag: str) -> None:
        """Every request counted, a throttled one included (whose event may have been left out)."""
        outcome = outcome_of(status=status, error_tag=error_tag, decided=self.trail.outcome)
        event_type = self.audit_action.type_for(allowed=outcome == AuditEvent.Outcome.ALLOWED)
        api_request_observed(action=event_type, outcome=outcome, error_tag=error_tag)

    def throttled_audit_key(self, request: Request) -> str:
        """Who was throttled: the verified caller when there is one, else the client address."""
        session = request.auth
        if isinstance(session, StsSession):
            who = f"{session.workspace.public_id}:{session.identity.get('repository_id', '')}"
        else:
            who = client_address(request)
        return f"sts:throttled-audited:{self.audit_action.legacy}:{who}"
