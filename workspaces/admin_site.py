"""The Django admin as the customers' product: who may log in, and the two bases every model admin
chooses between.

- `WorkspaceScopedAdmin`: rows of customers' workspaces. Every query of the admin for that model
  (list, detail, search, filters and their choices, autocomplete, popups, history, counts, actions)
  goes through `get_queryset`, which keeps only the workspaces `workspaces.access.workspace_access`
  grants; what each role may do comes from `workspaces.access.ROLE_PERMISSIONS`.
- `OperatorOnlyAdmin`: rows no customer sees (used OIDC tokens, Django users and groups).

A model admin that extends neither fails `tests/workspaces/admin/test_scoping.py`, so no model reaches the admin
without a decided scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from workspaces.access import ACTIONS, Action, WorkspaceAccess, workspace_access
from workspaces.models import Workspace
from workspaces.services import Actor

# Apps and models as the people who use this product name them. Set on the models' options when the
# admin registers them, which leaves the models, and so their migrations, untouched.
APP_NAMES: Mapping[str, str] = {"workspaces": "Workspaces", "sts": "STS", "audit": "Audit log"}
MODEL_NAMES: Mapping[str, tuple[str, str]] = {
    "workspaces.githubinstallation": ("GitHub installation", "GitHub installations"),
    "workspaces.installationrepository": ("installed repository", "installed repositories"),
    "sts.stssession": ("STS session", "STS sessions"),
    "sts.mintedtoken": ("minted token", "minted tokens"),
    "sts.oidctokenuse": ("used OIDC token", "used OIDC tokens"),
    "sts.callerrule": ("caller rule", "caller rules"),
    "audit.auditevent": ("audit event", "audit events"),
}


def access_of(request: HttpRequest) -> WorkspaceAccess:
    """The selector's answer for this request's user, asked once per request."""
    cached = getattr(request, "_workspace_access", None)
    if cached is None:
        cached = workspace_access(user=request.user)
        request._workspace_access = cached  # type: ignore[attr-defined]
    return cached


class WorkspaceLoginForm(AdminAuthenticationForm):
    """Admits whoever belongs to a workspace (or is operator staff), not whoever has `is_staff`."""

    def confirm_login_allowed(self, user: Any) -> None:
        if not user.is_active or not workspace_access(user=user).may_use_admin:
            # The same sentence as a wrong password: the form does not tell who has an account.
            raise self.get_invalid_login_error()


class AtmosAdminSite(admin.AdminSite):
    site_header = "Atmos Pro STS"
    site_title = "Atmos Pro STS"
    index_title = "Your workspaces"
    index_template = "admin/atmos_index.html"
    site_url = None  # this service has no site besides the admin and the API: no "View site" link
    login_form = WorkspaceLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        # Membership decides, not `is_staff`: a flag kept in step with memberships by hand would drift.
        return bool(request.user.is_active) and access_of(request).may_use_admin

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        models_: list[Any] = [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        for model in models_:
            names = MODEL_NAMES.get(model._meta.label_lower)
            if names is not None:
                model._meta.verbose_name, model._meta.verbose_name_plural = names
            app_name = APP_NAMES.get(model._meta.app_label)
            if app_name is not None:
                model._meta.app_config.verbose_name = app_name
        super().register(model_or_iterable, admin_class, **options)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        access = access_of(request)
        rows = Workspace.objects.select_related("plan").order_by("name")
        if not access.is_operator:
            rows = rows.filter(pk__in=list(access.roles))
        shown = [
            {
                "workspace": workspace,
                "role": "operator staff" if access.is_operator else access.role_in(workspace.pk),
                "url": reverse(f"{self.name}:workspaces_workspace_change", args=[workspace.pk]),
            }
            for workspace in rows[:50]
        ]
        return super().index(request, {"my_workspaces": shown, **(extra_context or {})})


class _PermissionsFromTable(admin.ModelAdmin):
    """Permissions from `workspaces.access`, never from Django's per-user model permissions."""

    # What this admin lets anyone do, superusers included (records of what happened are view-only).
    permitted_actions: ClassVar[frozenset[Action]] = frozenset(ACTIONS)

    def may(self, request: HttpRequest, action: Action, obj: models.Model | None = None) -> bool:
        raise NotImplementedError

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may(request, "view", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.may(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may(request, "delete", obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may(request, "view")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if "change" not in self.permitted_actions:
            return [field.name for field in self.model._meta.fields] + list(self.readonly_fields)
        return super().get_readonly_fields(request, obj)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # Django's admin redirects with "does not exist" where a row is not in the queryset; a 404
        # says the same for another workspace's row as for one that never existed.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("There is no such record.")
        return obj


class OperatorOnlyAdmin(_PermissionsFromTable):
    """Rows only the operator's staff (superusers) see."""

    def may(self, request: HttpRequest, action: Action, obj: models.Model | None = None) -> bool:
        return action in self.permitted_actions and access_of(request).is_operator

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset if access_of(request).is_operator else queryset.none()


class WorkspaceScopedAdmin(_PermissionsFromTable):
    """Rows that belong to one workspace, reached from the model by `workspace_lookup`."""

    # The ORM path from this model to its workspace ("pk" for Workspace itself), and whether it ends at
    # the workspace's primary key ("pk") or at a column holding its public id ("public_id").
    workspace_lookup: ClassVar[str]
    workspace_key: ClassVar[Literal["pk", "public_id"]] = "pk"
    # The audit action of a change by a workspace's own people (superusers' are WORKSPACE_STAFF_CHANGE).
    member_audit_action: ClassVar[str] = AuditEvent.Action.WORKSPACE_SETTING_CHANGED

    # True where save_row/delete_row call a service that writes the audit event itself.
    audited_by_service: ClassVar[bool] = False

    def member_audit_action_for(self, changed: Mapping[str, Any]) -> str:
        return self.member_audit_action

    def scoped(self, request: HttpRequest, queryset: models.QuerySet[Any], action: Action) -> models.QuerySet[Any]:
        access = access_of(request)
        label = self.model._meta.label_lower
        if self.workspace_key == "public_id":
            keys: Any = access.workspace_public_ids(model_label=label, action=action)
        else:
            keys = access.workspace_pks(model_label=label, action=action)
        if keys is None:
            return queryset
        # Through a subquery on primary keys: a path across a to-many relation yields each row once.
        inside = self.model._default_manager.filter(**{f"{self.workspace_lookup}__in": list(keys)}).values("pk")
        return queryset.filter(pk__in=inside)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return self.scoped(request, super().get_queryset(request), "view")

    def may(self, request: HttpRequest, action: Action, obj: models.Model | None = None) -> bool:
        if action not in self.permitted_actions:
            return False
        if not access_of(request).may(model_label=self.model._meta.label_lower, action=action):
            return False
        if obj is None or obj.pk is None:
            return True
        return self.scoped(request, self.model._default_manager.filter(pk=obj.pk), action).exists()

    def get_list_filter(self, request: HttpRequest) -> Any:
        # A filter on a relation lists only the related rows this user's own rows point to (their
        # workspaces, their plans), never every row of the related table.
        return [
            (entry, admin.RelatedOnlyFieldListFilter)
            if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation
            else entry
            for entry in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Workspace and "queryset" not in kwargs:
            # Only the workspaces where this user may create or change this model's rows.
            access = access_of(request)
            label = self.model._meta.label_lower
            allowed: set[int] | None = set()
            for action in ("add", "change"):
                pks = access.workspace_pks(model_label=label, action=action)
                allowed = None if pks is None or allowed is None else allowed | set(pks)
            queryset = Workspace.objects.order_by("name")
            kwargs["queryset"] = queryset if allowed is None else queryset.filter(pk__in=allowed)
        elif db_field.related_model in self.admin_site._registry and "queryset" not in kwargs:
            kwargs["queryset"] = self.admin_site._registry[db_field.related_model].get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def workspace_public_id_of(self, obj: models.Model) -> str:
        """The public id of the workspace `obj` belongs to ("" when it spans several, as a plan does)."""
        if self.workspace_key == "public_id":
            return str(getattr(obj, self.workspace_lookup))
        if self.workspace_lookup == "pk":
            return str(getattr(obj, "public_id", ""))
        target: Any = obj
        for step in self.workspace_lookup.split("__"):
            target = getattr(target, step, None)
        return str(target.public_id) if isinstance(target, Workspace) else ""

    def save_row(self, request: HttpRequest, obj: Any, changed: Sequence[str]) -> None:
        """Stores a row the admin's form changed (a model admin with a service for it calls the service)."""
        obj.save()

    def delete_row(self, request: HttpRequest, obj: Any) -> None:
        obj.delete()

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        if self.audited_by_service:
            self.save_row(request, obj, form.changed_data)
            return
        before = _values(type(obj)._default_manager.get(pk=obj.pk), form.changed_data) if change else {}
        self.save_row(request, obj, form.changed_data)
        after = _values(obj, form.changed_data)
        if before != after:
            change_record(
                request=request,
                member_action=self.member_audit_action_for(after),
                workspace_public_id=self.workspace_public_id_of(obj),
                detail={"record": _record_name(obj), "old": before, "new": after},
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        if self.audited_by_service:
            self.delete_row(request, obj)
            return
        record, workspace_public_id = _record_name(obj), self.workspace_public_id_of(obj)
        self.delete_row(request, obj)
        change_record(
            request=request,
            member_action=self.member_audit_action,
            workspace_public_id=workspace_public_id,
            detail={"record": record, "deleted": True},
        )

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        # One audit event per row, as for a single delete; each row's own permission is checked again.
        for obj in queryset:
            if not self.has_delete_permission(request, obj):
                raise Http404("There is no such record.")
            self.delete_model(request, obj)


def change_record(
    *, request: HttpRequest, member_action: str, workspace_public_id: str, detail: Mapping[str, Any]
) -> AuditEvent:
    """The audit event of a change made in the admin, with the person who made it as actor."""
    access = access_of(request)
    action: str
    if access.is_operator:
        action, kind = AuditEvent.Action.WORKSPACE_STAFF_CHANGE, "staff"
    elif access.is_billing_staff and workspace_public_id not in access.public_ids.values():
        action, kind = member_action, "staff"  # the operator's billing staff, acting outside any own workspace
    else:
        action, kind = member_action, "member"
    return audit_record(
        action=action,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id=request_id_in(request),
        workspace_public_id=workspace_public_id,
        identity={"actor": request.user.get_username(), "actor_kind": kind},
        detail=detail,
    )


def actor_of(request: HttpRequest) -> Actor:
    return Actor.of_user(request.user)


def request_id_in(request: HttpRequest) -> str:
    # Every request's id, given by sts.envelope.RequestIdMiddleware (read here, not imported: the
    # mint's layer lies above this one).
    return str(getattr(request, "request_id", ""))


def _record_name(obj: models.Model) -> str:
    return f"{obj._meta.label_lower}:{obj.pk} {obj}"[:300]


def _values(obj: models.Model, names: Sequence[str]) -> dict[str, Any]:
    """The named fields' values as the audit log can hold them (a related row by its name)."""
    values: dict[str, Any] = {}
    for name in names:
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue  # a form field that is no model field (a username typed in) is in the row it made
        value = getattr(obj, field.name, None)
        values[name] = value if isinstance(value, bool | int | float | str | type(None)) else str(value)
    return values
