"""Who may read the audit review pages: the `admin` and `security` roles of a workspace (for that
workspace only) and the operator's superusers (for all), as the one table in `workspaces.access` says."""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from workspaces.access import workspace_access

AUDIT_EVENTS = "audit.auditevent"


def audit_workspaces_for(request: HttpRequest) -> Collection[str] | None:
    """The public ids of the workspaces whose audit log the signed-in user may read; None means every
    workspace. Raises PermissionDenied for a user who may read none."""
    readable = workspace_access(user=request.user).workspace_public_ids(model_label=AUDIT_EVENTS, action="view")
    if readable is not None and not readable:
        raise PermissionDenied
    return readable
