from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from github_app.errors import GitHubAuthenticationFailed, GitHubError, GitHubRateLimited, GitHubUnavailable
from workspaces.selectors import workspace_by_public_id
from workspaces.services import WorkspaceError, installation_link


class Command(BaseCommand):
    help = (
        "Links a GitHub App installation to a workspace, reading it and its repositories from GitHub as the App. "
        "Running it again refreshes them."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--workspace", required=True, metavar="WS_ID", help="The workspace's id (ws_…).")
        parser.add_argument("installation_id", type=int, help="GitHub's id of the App installation.")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_by_public_id(options["workspace"])
        if workspace is None:
            raise CommandError(f"There is no workspace {options['workspace']!r}.")
        installation_id: int = options["installation_id"]
        try:
            installation = installation_link(workspace=workspace, installation_github_id=installation_id)
        except WorkspaceError as error:
            raise CommandError(str(error)) from None
        except (GitHubUnavailable, GitHubRateLimited) as error:
            raise CommandError(f"GitHub is unavailable ({error}); nothing was changed, try again later.") from None
        except GitHubAuthenticationFailed as error:
            raise CommandError(f"GitHub refused the App's credentials: {error}") from None
        except GitHubError as error:
            raise CommandError(f"GitHub refused to describe installation {installation_id}: {error}") from None
        repositories = installation.repositories.order_by("full_name")
        state = (
            f"suspended since {installation.suspended_at:%Y-%m-%d %H:%M:%S}Z" if installation.is_suspended else "active"
        )
        self.stdout.write(
            f"Linked installation {installation.github_id} ({installation.account_login}, {installation.account_type}, "
            f"{state}) to workspace {workspace.public_id} with {repositories.count()} repositories:"
        )
        for repository in repositories:
            self.stdout.write(f"  {repository.full_name}")
