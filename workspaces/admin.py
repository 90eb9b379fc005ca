"""Workspaces in the admin: each customer's people see and change only their own (see `admin_site`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html_join

from audit.event_types import event_type, is_legacy
from audit.models import AuditEvent
from audit.query import event_type_filter
from workspaces import landing
from workspaces.access import ROLE_PERMISSIONS
from workspaces.admin_site import (
    OperatorOnlyAdmin,
    WorkspaceScopedAdmin,
    access_of,
    actor_of,
    change_record,
    request_id_in,
)
from workspaces.installation_setup import installation_setup_configured, may_install
from workspaces.members import last_admin_refusal, membership_remove, membership_save
from workspaces.models import (
    FeatureOverride,
    GitHubInstallation,
    InstallationRepository,
    Membership,
    Plan,
    PlanFeature,
    Workspace,
)
from workspaces.services import (
    SWITCHES,
    WorkspaceError,
    override_grant,
    override_revoke,
    plan_feature_set,
    workspace_plan_change,
    workspace_switch_set,
)

User = get_user_model()


@admin.register(Plan)
class PlanAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "workspaces"
    member_audit_action = AuditEvent.Action.ENTITLEMENT_FEATURE_CHANGED
    list_display = ("slug", "name")
    search_fields = ("slug", "name")


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    """A workspace's page is its landing page: plan, switches, installations, opted-in repositories and
    the last day's outcomes, each part shown to the roles that may see it."""

    workspace_lookup = "pk"
    ordering = ("name", "pk")
    list_display = ("name", "public_id", "plan", "sts_enabled", "allow_write_tokens", "created_at")
    list_filter = ("plan", "sts_enabled", "allow_write_tokens")
    search_fields = ("name", "public_id")
    fields = ("name", "public_id", "plan", "sts_enabled", "allow_write_tokens", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        access = access_of(request)
        if access.is_operator:
            return ("public_id", "created_at")
        editable: set[str] = set()
        if obj is not None and access.role_in(obj.pk) == Membership.Role.ADMIN:
            editable.update(SWITCHES)
        if access.is_billing_staff:
            editable.add("plan")
        return [name for name in self.fields if name not in editable]

    audited_by_service = True

    def save_row(self, request: HttpRequest, obj: Any, changed: Sequence[str]) -> None:
        # The plan and the switches change through their services, which audit each change.
        actor, request_id = actor_of(request), request_id_in(request)
        if obj.pk is None:
            obj.save()
            change_record(
                request=request,
                member_action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED,
                workspace_public_id=obj.public_id,
                detail={"record": f"workspace {obj.public_id}", "created": True},
            )
            return
        if "name" in changed:
            old = Workspace.objects.values_list("name", flat=True).get(pk=obj.pk)
            Workspace.objects.filter(pk=obj.pk).update(name=obj.name)
            change_record(
                request=request,
                member_action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED,
                workspace_public_id=obj.public_id,
                detail={"setting": "name", "old": old, "new": obj.name},
            )
        if "plan" in changed:
            workspace_plan_change(workspace=obj, plan=obj.plan, actor=actor, request_id=request_id)
        for switch in SWITCHES:
            if switch in changed:
                workspace_switch_set(
                    workspace=obj, switch=switch, on=bool(getattr(obj, switch)), actor=actor, request_id=request_id
                )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        workspace = self.get_object(request, object_id)
        return super().change_view(
            request, object_id, form_url, {**self._landing(request, workspace), **(extra_context or {})}
        )

    def _landing(self, request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
        access = access_of(request)
        role = "operator staff" if access.is_operator else access.role_in(workspace.pk)
        sees = {
            part: access.is_operator or (role is not None and role in ROLE_PERMISSIONS[label])
            for part, label in (
                ("installations", "workspaces.githubinstallation"),
                ("audit", "audit.auditevent"),
            )
        }
        usage = (
            access.is_operator or access.is_billing_staff or role in (Membership.Role.ADMIN, Membership.Role.BILLING)
        )
        context: dict[str, Any] = {
            "landing_role": role or "billing staff",
            "landing_usage": None,
            "landing_installations": None,
            "landing_opted_in": None,
            "landing_recent": None,
            "landing_refusal_detail": False,
            "landing_install_url": None,
        }
        if installation_setup_configured() and may_install(user=request.user, workspace=workspace):  # type: ignore[arg-type]
            context["landing_install_url"] = reverse("workspaces:installation-setup-start", args=[workspace.public_id])
        if usage:
            context["landing_usage"] = landing.mints_per_month(workspace=workspace)
        if sees["installations"]:
            context["landing_installations"] = workspace.installations.annotate(
                repository_count=Count("repositories")
            ).order_by("account_login")
            context["landing_opted_in"] = landing.opted_in_repositories(workspace=workspace)
        if role is not None:
            context["landing_recent"] = landing.recent_outcomes(workspace=workspace)
            context["landing_refusal_detail"] = sees["audit"]
        return context


class MembershipAddForm(forms.ModelForm):
    """A member is added by their exact username: no list of the operator's users is ever shown."""

    username = forms.CharField(max_length=150, help_text="The exact username of an existing account.")

    class Meta:
        model = Membership
        fields = ("workspace", "role")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        username, workspace = cleaned.get("username"), cleaned.get("workspace")
        if username:
            user = User._default_manager.filter(username=username, is_active=True).first()
            taken = workspace is not None and Membership.objects.filter(user=user, workspace=workspace).exists()
            if user is None or taken:
                # One sentence for both: which usernames exist across the operator is not a workspace's to learn.
                self.add_error("username", "This username cannot be added to this workspace.")
            else:
                self.instance.user = user
        return cleaned


class MembershipRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("role",)

    def clean_role(self) -> str:
        role = str(self.cleaned_data["role"])
        refusal = last_admin_refusal(membership=self.instance, new_role=role)
        if refusal is not None:
            raise forms.ValidationError(refusal)
        return role


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "workspace"
    member_audit_action = AuditEvent.Action.WORKSPACE_MEMBERSHIP_CHANGED
    list_display = ("user", "workspace", "role")
    list_filter = ("role", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name", "workspace__public_id")
    list_select_related = ("user", "workspace")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("workspace", "username", "role") if obj is None else ("user", "workspace", "role")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("user", "workspace")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = MembershipAddForm if obj is None else MembershipRoleForm
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and last_admin_refusal(membership=obj, new_role=None) is not None:
            return False
        return super().has_delete_permission(request, obj)

    def save_row(self, request: HttpRequest, obj: Any, changed: Sequence[str]) -> None:
        try:
            membership_save(membership=obj)
        except WorkspaceError as refused:  # another admin's change won the race for the last admin
            raise PermissionDenied(str(refused)) from None

    def delete_row(self, request: HttpRequest, obj: Any) -> None:
        try:
            membership_remove(membership=obj)
        except WorkspaceError as refused:
            raise PermissionDenied(str(refused)) from None


@admin.register(GitHubInstallation)
class GitHubInstallationAdmin(WorkspaceScopedAdmin):
    """Installations come from GitHub: a workspace admin links one with "Install on GitHub" on the
    workspace's page (`workspaces.installation_setup`), the operator with `manage.py link_installation`;
    a workspace admin unlinks one by deleting it here. Linking needs proof that the installation is the
    customer's, which only GitHub's installation flow gives, so this admin adds none."""

    workspace_lookup = "workspace"
    member_audit_action = AuditEvent.Action.WORKSPACE_INSTALLATION_CHANGED
    permitted_actions = frozenset({"view", "change", "delete"})
    list_display = (
        "github_id",
        "account_login",
        "account_type",
        "workspace",
        "repository_selection",
        "suspended_at",
        "updated_at",
    )
    list_filter = ("workspace", "account_type", "repository_selection", ("suspended_at", admin.EmptyFieldListFilter))
    search_fields = ("account_login", "github_id", "workspace__name", "workspace__public_id")
    list_select_related = ("workspace",)
    fields = (
        "github_id",
        "workspace",
        "account_login",
        "account_id",
        "account_type",
        "repository_selection",
        "permissions",
        "suspended_at",
        "updated_at",
        "repository_names",
    )
    # What GitHub says is read from GitHub (link_installation); only the workspace is ours to change.
    readonly_fields = (
        "github_id",
        "account_login",
        "account_id",
        "account_type",
        "repository_selection",
        "permissions",
        "suspended_at",
        "updated_at",
        "repository_names",
    )
    autocomplete_fields = ("workspace",)

    @admin.display(description="repositories recorded")
    def repository_names(self, obj: GitHubInstallation) -> str:
        rows = obj.repositories.order_by("full_name_key").values_list("full_name", flat=True)
        return format_html_join(", ", "{}", ((name,) for name in rows)) or "none"

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # What is recorded of an installation (its repositories, their policy index, the checks it ran)
        # goes with it; nobody deletes those records one by one.
        for relation in GitHubInstallation._meta.related_objects:
            related = relation.related_model
            if relation.on_delete is models.CASCADE and isinstance(related, type):
                perms_needed.discard(str(related._meta.verbose_name))
        return deleted, counts, perms_needed, protected


@admin.register(InstallationRepository)
class InstallationRepositoryAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "installation__workspace"
    permitted_actions = frozenset({"view"})
    list_display = ("full_name", "github_id", "installation")
    list_filter = ("installation",)
    search_fields = ("full_name", "github_id", "installation__account_login")
    list_select_related = ("installation",)


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


class EventTypeFilter(admin.SimpleListFilter):
    """By `pro.atmos.*` type; the legacy rows that mean the same are listed with their type."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in AuditEvent.Action.choices if not is_legacy(value)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        value = self.value()
        if value not in AuditEvent.Action.values:
            return queryset
        return queryset.filter(event_type_filter(value))


@admin.register(AuditEvent)
class AuditEventAdmin(WorkspaceScopedAdmin):
    """The audit log, read-only: rows are written by `audit.services.audit_record` and never changed
    (database triggers). Its admin is here, not in `audit/admin.py`: the audit trail lies below the apps
    and knows no workspace, and this admin shows each workspace's people their workspace's events."""

    workspace_lookup = "workspace_public_id"
    workspace_key = "public_id"
    permitted_actions = frozenset({"view"})
    list_display = (
        "created_at",
        "event_type",
        "outcome",
        "error_tag",
        "workspace_public_id",
        "repository",
        "ref",
        "actor",
        "request_id",
    )
    list_filter = (EventTypeFilter, "outcome", "error_tag", "workspace_public_id", "created_at")
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
        action, outcome = EXPORT_COLUMNS.index("action"), EXPORT_COLUMNS.index("outcome")
        for row in queryset.order_by("-created_at", "-id").values_list(*EXPORT_COLUMNS).iterator():
            cells = list(row)
            cells[action] = event_type(cells[action], allowed=cells[outcome] == AuditEvent.Outcome.ALLOWED)
            writer.writerow([_spreadsheet_safe(value) for value in cells])
        return response


def _spreadsheet_safe(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make it a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin.register(PlanFeature)
class PlanFeatureAdmin(WorkspaceScopedAdmin):
    """A plan's feature values; every change goes through plan_feature_set, which audits it."""

    workspace_lookup = "plan__workspaces"
    audited_by_service = True
    list_display = ("plan", "key", "value")
    list_filter = ("plan", "key")
    list_select_related = ("plan",)
    actions = None  # a bulk delete would skip the audit

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("plan", "key") if obj is not None else ()

    def save_row(self, request: HttpRequest, obj: Any, changed: Sequence[str]) -> None:
        saved = plan_feature_set(
            plan=obj.plan, feature=obj.key, value=obj.value, actor=actor_of(request), request_id=request_id_in(request)
        )
        obj.pk = saved.pk if saved is not None else None

    def delete_row(self, request: HttpRequest, obj: Any) -> None:
        plan_feature_set(
            plan=obj.plan, feature=obj.key, value=None, actor=actor_of(request), request_id=request_id_in(request)
        )


@admin.register(FeatureOverride)
class FeatureOverrideAdmin(WorkspaceScopedAdmin):
    """Features granted to one workspace until a date; every change goes through override_grant/override_revoke."""

    workspace_lookup = "workspace"
    audited_by_service = True
    list_display = ("workspace", "key", "value", "expires_at", "granted_by", "note")
    list_filter = ("workspace", "key")
    search_fields = ("workspace__name", "workspace__public_id")
    list_select_related = ("workspace",)
    readonly_fields = ("granted_by", "created_at")
    autocomplete_fields = ("workspace",)
    actions = None  # a bulk delete would skip the audit

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.readonly_fields, "workspace", "key") if obj is not None else self.readonly_fields

    def save_row(self, request: HttpRequest, obj: Any, changed: Sequence[str]) -> None:
        saved = override_grant(
            workspace=obj.workspace,
            feature=obj.key,
            value=obj.value,
            expires_at=obj.expires_at,
            note=obj.note,
            actor=actor_of(request),
            request_id=request_id_in(request),
        )
        obj.pk = saved.pk

    def delete_row(self, request: HttpRequest, obj: Any) -> None:
        override_revoke(
            workspace=obj.workspace, feature=obj.key, actor=actor_of(request), request_id=request_id_in(request)
        )


# The operator's own records: Django's accounts and groups (billing staff are the group `billing-admins`).
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class OperatorUserAdmin(OperatorOnlyAdmin, auth_admin.UserAdmin):  # type: ignore[type-arg]
    pass


@admin.register(Group)
class OperatorGroupAdmin(OperatorOnlyAdmin, auth_admin.GroupAdmin):
    pass
