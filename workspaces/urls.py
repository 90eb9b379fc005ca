from __future__ import annotations

from django.urls import path

from workspaces import views

app_name = "workspaces"
urlpatterns = [
    path(
        "workspaces/<str:public_id>/install-on-github",
        views.installation_setup_start,
        name="installation-setup-start",
    ),
    # The GitHub App's "Callback URL" (user authorization during installation sends people here).
    path("github/setup", views.installation_setup_callback, name="installation-setup-callback"),
]
