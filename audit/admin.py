from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that record what happened: an operator reads them and never edits or forges one."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
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
