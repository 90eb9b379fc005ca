"""The admin app with this product's site (`workspaces.admin_site.AtmosAdminSite`) as `admin.site`.

Its own module: INSTALLED_APPS imports it before any model may load, and the site's module loads models.
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class AtmosAdminConfig(AdminConfig):
    default_site = "workspaces.admin_site.AtmosAdminSite"
