"""The audit log in the admin: read-only, each workspace's people see only their workspace's events."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from audit.models import AuditEvent
from workspaces.admin_site import WorkspaceScopedAdmin

EXPORT_COLUMNS = (
    "created_at",
    "request_id",
    "action",
    "outcome",
    "error_tag",
    "workspace_public_id",
    "repository",
    "ref",
    "actor",
    "workflow",
    "run_id",
)


@admin.register(AuditEvent)
class AuditEventAdmin(WorkspaceScopedAdmin):
    """Rows are written by `audit.services.audit_record` and never changed (database triggers)."""

    workspace_lookup = "workspace_public_id"
    workspace_key = "public_id"
    permitted_actions = frozenset({"view"})
    list_display = (
        "created_at",
        "action",
        "outcome",
        "error_tag",
        "workspace_public_id",
        "repository",
        "ref",
        "actor",
        "request_id",
    )
    list_filter = ("action", "outcome", "error_tag", "workspace_public_id", "created_at")
    search_fields = ("request_id", "workspace_public_id", "repository", "actor", "ref", "workflow", "run_id")
    date_hierarchy = "created_at"
    actions = ("export_csv",)

    @admin.action(description="Export selected audit events as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> HttpResponse:
        # The queryset is the changelist's, so it holds only this user's workspaces' events.
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        for row in queryset.order_by("-created_at", "-id").values_list(*EXPORT_COLUMNS).iterator():
            writer.writerow([_spreadsheet_safe(value) for value in row])
        return response


def _spreadsheet_safe(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make it a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
