from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from workspaces.services import WorkspaceError, workspace_create


class Command(BaseCommand):
    help = "Creates a workspace on a plan and prints its id (what users set as ATMOS_PRO_WORKSPACE_ID) last."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="The workspace's display name.")
        parser.add_argument("--plan", required=True, help="The plan's slug, e.g. free or pro.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = workspace_create(name=options["name"], plan_slug=options["plan"])
        except WorkspaceError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(f"Created workspace {workspace.name!r} on plan {workspace.plan.slug}.")
        # Scripts read the last line: nothing may be printed after it.
        self.stdout.write(workspace.public_id)
