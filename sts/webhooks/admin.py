"""Webhook deliveries in the admin, read-only and the operator's only: a failed one is found here."""

from __future__ import annotations

from django.contrib import admin

from sts.webhooks.models import WebhookDelivery
from workspaces.admin_site import OperatorOnlyAdmin


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OperatorOnlyAdmin):
    permitted_actions = frozenset({"view"})
    list_display = (
        "guid",
        "event",
        "action",
        "installation_github_id",
        "status",
        "error_tag",
        "attempts",
        "received_at",
    )
    list_filter = ("status", "event")
    search_fields = ("guid", "event", "error_tag")
    date_hierarchy = "received_at"
    exclude = ("payload",)  # large, and nothing in it is needed to see why a delivery failed
