"""The review pages of the audit log for a workspace's security staff.

An app of its own because it reads three apps: the audit log (`audit`), who may see which workspace
(`workspaces.access`) and the tokens the mint recorded (`sts`). The layers forbid `audit` to import
the other two and `workspaces` to import `sts`, so these pages sit above all three, and nothing
imports them but the URL configuration.
"""

from __future__ import annotations

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Audit review"
