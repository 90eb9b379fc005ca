"""Installation tokens for the admitted sources of a mint: as few as GitHub allows, none broader.

One token per (installation, permission set), scoped to exactly its repositories, in chunks of
GitHub's limit of repositories per token. A chunk GitHub refuses because one repository is no longer
reachable is halved until the refused repository stands alone, so it never denies the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from github_app.client import MAX_REPOSITORIES_PER_TOKEN, GitHubApp, InstallationToken
from github_app.errors import (
    GitHubError,
    GitHubInstallationSuspended,
    GitHubPermissionsNotGranted,
    GitHubUnprocessable,
)
from sts.models import token_fingerprint
from sts.reasons import Reason
from sts.revocation import revocation_attempt, revocation_retries
from sts.sources import Source, reason_for
from workspaces.services import installation_mark_suspended


@dataclass(frozen=True)
class MintedBatch:
    """A token GitHub handed out and the sources it covers."""

    token: InstallationToken
    members: list[Source]
    issued_at: datetime


def tokens_mint(*, app: GitHubApp, sources: list[Source], minted: list[MintedBatch]) -> None:
    """Mints the tokens of the open sources; each token goes into `minted` as soon as GitHub hands
    it out, so the caller can revoke it whatever follows. Sources GitHub refuses are excluded."""
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], list[Source]] = defaultdict(list)
    for source in sources:
        if source.open:
            assert source.installation is not None
            groups[(source.installation.github_id, tuple(sorted(source.permissions.items())))].append(source)
    for (installation_id, permissions), members in groups.items():
        for chunk in _chunks(members, MAX_REPOSITORIES_PER_TOKEN):
            _mint_chunk(
                app=app, installation_id=installation_id, permissions=dict(permissions), chunk=chunk, minted=minted
            )


def tokens_revoke_after_failure(*, app: GitHubApp, minted: list[MintedBatch]) -> list[dict[str, Any]]:
    """Revokes every token of a request that failed after GitHub issued them: nothing handed out may
    outlive a request we could not finish and record. Returns, per token, its fingerprint and whether
    GitHub confirmed; an unconfirmed one is retried in the background."""
    outcomes: list[dict[str, Any]] = []
    for batch in minted:
        confirmed = revocation_attempt(app=app, token=batch.token.token, issued_at=batch.issued_at)
        if not confirmed:
            revocation_retries.submit(
                token=batch.token.token, issued_at=batch.issued_at, expires_at=batch.token.expires_at_datetime
            )
        outcomes.append({"fingerprint": token_fingerprint(batch.token.token), "confirmed": confirmed})
    return outcomes


def _mint_chunk(
    *, app: GitHubApp, installation_id: int, permissions: dict[str, str], chunk: list[Source], minted: list[MintedBatch]
) -> None:
    issued_at = datetime.now(tz=UTC)
    try:
        token = _create_token(app=app, installation_id=installation_id, permissions=permissions, chunk=chunk)
    except GitHubInstallationSuspended:
        installation_mark_suspended(installation_github_id=installation_id)
        _exclude_all(chunk, Reason.SUSPENDED)
    except GitHubPermissionsNotGranted:
        _exclude_all(chunk, Reason.PERMISSIONS_NOT_INSTALLED)
    except GitHubUnprocessable:
        if len(chunk) > 1:
            half = len(chunk) // 2
            for part in (chunk[:half], chunk[half:]):
                _mint_chunk(
                    app=app, installation_id=installation_id, permissions=permissions, chunk=part, minted=minted
                )
        else:
            _exclude_all(chunk, Reason.NOT_INSTALLED)
    except GitHubError as error:
        _exclude_all(chunk, reason_for(error))
    else:
        minted.append(MintedBatch(token=token, members=chunk, issued_at=issued_at))


def _create_token(
    *, app: GitHubApp, installation_id: int, permissions: dict[str, str], chunk: list[Source]
) -> InstallationToken:
    return app.create_installation_token(
        installation_id,
        # By id where our records know it: a name can change hands after a rename, an id cannot.
        repository_ids=[member.github_id for member in chunk if member.github_id is not None] or None,
        repositories=[member.full_name.split("/", 1)[1] for member in chunk if member.github_id is None] or None,
        permissions=permissions,
    )


def _exclude_all(chunk: list[Source], reason: Reason) -> None:
    for member in chunk:
        member.exclude(reason)


def _chunks(items: list[Source], size: int) -> Iterable[list[Source]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
