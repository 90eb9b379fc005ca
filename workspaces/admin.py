from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from workspaces.models import (
    FeatureOverride,
    GitHubInstallation,
    InstallationRepository,
    Membership,
    Plan,
    PlanFeature,
    Workspace,
)
from workspaces.services import Actor, override_grant, override_revoke, plan_feature_set


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("slug", "name")
    search_fields = ("slug", "name")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class InstallationInline(admin.TabularInline):
    model = GitHubInstallation
    extra = 0
    fields = ("github_id", "account_login", "account_type", "repository_selection", "suspended_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False  # installations come from GitHub (link_installation), not from typing


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "public_id", "plan", "sts_enabled", "allow_write_tokens", "created_at")
    list_filter = ("plan", "sts_enabled", "allow_write_tokens")
    search_fields = ("name", "public_id")
    readonly_fields = ("public_id", "created_at")
    inlines = (MembershipInline, InstallationInline)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "workspace__name", "workspace__public_id")
    list_select_related = ("user", "workspace")
    autocomplete_fields = ("user", "workspace")


class InstallationRepositoryInline(admin.TabularInline):
    model = InstallationRepository
    extra = 0
    fields = ("full_name", "github_id")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(GitHubInstallation)
class GitHubInstallationAdmin(admin.ModelAdmin):
    list_display = (
        "github_id",
        "account_login",
        "account_type",
        "workspace",
        "repository_selection",
        "suspended_at",
        "updated_at",
    )
    list_filter = ("account_type", "repository_selection", ("suspended_at", admin.EmptyFieldListFilter))
    search_fields = ("account_login", "github_id", "workspace__name", "workspace__public_id")
    list_select_related = ("workspace",)
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
    )
    autocomplete_fields = ("workspace",)
    inlines = (InstallationRepositoryInline,)


@admin.register(InstallationRepository)
class InstallationRepositoryAdmin(admin.ModelAdmin):
    list_display = ("full_name", "github_id", "installation")
    list_filter = ("installation__account_login",)
    search_fields = ("full_name", "github_id", "installation__account_login")
    list_select_related = ("installation",)
    readonly_fields = ("installation", "github_id", "full_name")


@admin.register(PlanFeature)
class PlanFeatureAdmin(admin.ModelAdmin):
    """A plan's feature values; every change goes through plan_feature_set, which audits it."""

    list_display = ("plan", "key", "value")
    list_filter = ("plan", "key")
    list_select_related = ("plan",)
    actions = None  # a bulk delete would skip the audit

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("plan", "key") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = plan_feature_set(plan=obj.plan, feature=obj.key, value=obj.value, actor=Actor.of_user(request.user))
        obj.pk = saved.pk if saved is not None else None

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        plan_feature_set(plan=obj.plan, feature=obj.key, value=None, actor=Actor.of_user(request.user))


@admin.register(FeatureOverride)
class FeatureOverrideAdmin(admin.ModelAdmin):
    """Features granted to one workspace until a date; every change goes through override_grant/override_revoke."""

    list_display = ("workspace", "key", "value", "expires_at", "granted_by", "note")
    list_filter = ("key",)
    search_fields = ("workspace__name", "workspace__public_id")
    list_select_related = ("workspace",)
    readonly_fields = ("granted_by", "created_at")
    autocomplete_fields = ("workspace",)
    actions = None  # a bulk delete would skip the audit

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "workspace", "key") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = override_grant(
            workspace=obj.workspace,
            feature=obj.key,
            value=obj.value,
            expires_at=obj.expires_at,
            note=obj.note,
            actor=Actor.of_user(request.user),
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        override_revoke(workspace=obj.workspace, feature=obj.key, actor=Actor.of_user(request.user))
