from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from observability.exposition import metrics
from sts import health
from sts.api.docs import ApiDocsView, ApiSchemaView
from sts.api.exchange import OidcExchangeView
from sts.api.mint import MintView, RevokeView
from sts.views import trust_policy_schema
from sts.webhooks.receiver import github_webhook

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/auth/github-oidc", OidcExchangeView.as_view(), name="oidc-exchange"),
    path("api/v1/sts", MintView.as_view(), name="sts-mint"),
    path("api/v1/sts/revoke", RevokeView.as_view(), name="sts-revoke"),
    path("api/v1/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("api/v1/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("schemas/v1alpha1/trust-policy.json", trust_policy_schema, name="trust-policy-schema"),
    path("webhooks/github", github_webhook, name="github-webhook"),
    path("admin/", admin.site.urls),
    path("audit/", include("review.urls")),
    path("policies/", include("review.policy_urls")),
    path("", include("workspaces.urls")),
]
