from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, read-only: rows are written by `audit.services.audit_record` and never changed."""

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
    list_filter = ("action", "outcome", "error_tag", "created_at")
    search_fields = ("request_id", "workspace_public_id", "repository", "actor", "ref", "workflow", "run_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
