"""`manage.py audit_verify [--workspace WS]`: walks the audit log's hash chains; exit 1 names the first broken link."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import chain_verify, chained_workspaces


class Command(BaseCommand):
    help = "Checks that no audit event was altered, removed or inserted behind the database's back."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--workspace", help="only this workspace's chain (ws_…)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspaces = [options["workspace"]] if options["workspace"] else chained_workspaces()
        for workspace in workspaces:
            broken = chain_verify(workspace)
            if broken is not None:
                raise CommandError(f"Broken audit chain: {broken}.")
        self.stdout.write(f"{len(workspaces)} audit chain(s) verified.")
