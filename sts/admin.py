"""STS records in the admin: all read-only, scoped to the viewer's workspaces, a minted token only ever by its
fingerprint."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from sts.caller_rules import caller_rule_delete, caller_rule_save
from sts.models import (
    CallerRule,
    MintedToken,
    OidcTokenUse,
    PolicyCheck,
    PolicyIndexEntry,
    StsSession,
    token_fingerprint,
)
from workspaces.admin_site import OperatorOnlyAdmin, WorkspaceScopedAdmin, actor_of, request_id_in

# GitHub's token prefixes: https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
_TOKEN_SHAPE = re.compile(r"^(gh[pousr]_|github_pat_)\S+$")


@admin.register(OidcTokenUse)
class OidcTokenUseAdmin(OperatorOnlyAdmin):
    """Single-use bookkeeping across all workspaces (no workspace column): the operator's only."""

    permitted_actions = frozenset({"view"})
    list_display = ("jti", "issuer", "used_at", "expires_at")
    list_filter = ("issuer",)
    search_fields = ("jti",)
    date_hierarchy = "used_at"


@admin.register(StsSession)
class StsSessionAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "workspace"
    permitted_actions = frozenset({"view"})
    list_display = ("jti", "workspace", "repository", "ref", "request_id", "created_at", "expires_at")
    list_filter = ("workspace", "created_at")
    search_fields = ("jti", "request_id", "workspace__public_id", "workspace__name")
    list_select_related = ("workspace",)
    date_hierarchy = "created_at"

    @admin.display(description="repository")
    def repository(self, obj: StsSession) -> str:
        return str(obj.identity.get("repository", ""))

    @admin.display(description="ref")
    def ref(self, obj: StsSession) -> str:
        return str(obj.identity.get("ref", ""))


@admin.register(MintedToken)
class MintedTokenAdmin(WorkspaceScopedAdmin):
    """The token itself is never stored; the fingerprint is what GitHub's audit log shows as `hashed_token`."""

    workspace_lookup = "workspace"
    permitted_actions = frozenset({"view"})

    list_display = (
        "fingerprint",
        "workspace",
        "installation_github_id",
        "repository_list",
        "created_at",
        "expires_at",
        "revocation_state",
        "revocation_attempts",
        "revoked_at",
    )
    list_filter = ("workspace", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("fingerprint", "request_id", "workspace__public_id", "workspace__name")
    list_select_related = ("workspace",)
    date_hierarchy = "created_at"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        query = request.GET.get(SEARCH_VAR, "").strip()
        if _TOKEN_SHAPE.match(query):
            # An operator who pastes a leaked token finds its row by fingerprint; the page, which repeats
            # the search in its search box, then never shows the token.
            params = request.GET.copy()
            params[SEARCH_VAR] = token_fingerprint(query)
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")
        return super().changelist_view(request, extra_context)

    @admin.display(description="repositories")
    def repository_list(self, obj: MintedToken) -> str:
        return ", ".join(obj.repositories)


@admin.register(CallerRule)
class CallerRuleAdmin(WorkspaceScopedAdmin):
    """A workspace's caller rules; every change goes through sts.caller_rules, which audits it."""

    workspace_lookup = "workspace"
    audited_by_service = True
    list_display = ("workspace", "position", "match", "note")
    list_filter = ("workspace",)
    search_fields = ("workspace__name", "workspace__public_id", "note")
    list_select_related = ("workspace",)
    autocomplete_fields = ("workspace",)
    actions = None  # a bulk delete would skip the audit

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A rule never moves between workspaces: the one it left would lose it without an event.
        return ("workspace",) if obj is not None else ()

    def save_row(self, request: HttpRequest, obj: Any, changed: Sequence[str]) -> None:
        caller_rule_save(rule=obj, actor=actor_of(request), request_id=request_id_in(request))

    def delete_row(self, request: HttpRequest, obj: Any) -> None:
        caller_rule_delete(rule=obj, actor=actor_of(request), request_id=request_id_in(request))


@admin.register(PolicyIndexEntry)
class PolicyIndexEntryAdmin(WorkspaceScopedAdmin):
    """Each workspace's opted-in source repositories, one row per policy file on a default branch: what
    it admits in words, its last validation and when it last changed. Kept by webhooks and the hourly
    reconciliation (`sts.policy_index`); nobody edits it here."""

    workspace_lookup = "installation__workspace"
    permitted_actions = frozenset({"view"})
    list_display = ("full_name", "policy_name", "validation", "rules_in_words", "changed_at", "validated_at")
    list_filter = ("installation__workspace", "valid", "policy_name")
    search_fields = ("full_name", "policy_name")
    list_select_related = ("installation",)
    ordering = ("full_name", "policy_name")
    fields = (
        "full_name",
        "policy_name",
        "workspace",
        "validation",
        "rules_in_words",
        "first_problems",
        "blob_sha",
        "changed_at",
        "validated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("installation__workspace")

    @admin.display(description="workspace")
    def workspace(self, obj: PolicyIndexEntry) -> str:
        return str(obj.installation.workspace)

    @admin.display(description="last validation", ordering="valid")
    def validation(self, obj: PolicyIndexEntry) -> str:
        if obj.valid is None:
            return "not validated yet"
        if obj.valid:
            return "valid"
        return f"invalid ({obj.problem_count} problem{'' if obj.problem_count == 1 else 's'})"

    @admin.display(description="rules in words")
    def rules_in_words(self, obj: PolicyIndexEntry) -> str:
        rules = [str(line) for line in obj.rules or []]
        if not rules:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in rules)))

    @admin.display(description="first problems")
    def first_problems(self, obj: PolicyIndexEntry) -> str:
        problems = [problem for problem in obj.problems or [] if isinstance(problem, dict)]
        if not problems:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>line {}: {}: {}</li>",
                ((p.get("line") or "?", p.get("path", ""), p.get("message", "")) for p in problems),
            ),
        )


@admin.register(PolicyCheck)
class PolicyCheckAdmin(OperatorOnlyAdmin):
    """The check runs webhook deliveries asked for, read-only: a check that could not be reported is found here."""

    permitted_actions = frozenset({"view"})
    list_display = ("full_name", "head_sha", "pull_request_number", "status", "conclusion", "error_tag", "created_at")
    list_filter = ("status", "conclusion")
    search_fields = ("full_name", "head_sha", "delivery_guid")
    date_hierarchy = "created_at"
