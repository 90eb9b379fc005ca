"""Installation tokens for the admitted sources of a mint: as few as GitHub allows, none broader.

One token per (installation, permission set), scoped to exactly its repositories, in chunks of
GitHub's limit of repositories per token. A chunk GitHub refuses because one repository is no longer
reachable is halved until the refused repository stands alone, so it never denies the others.

The tokens of one mint are created side by side (a mint whose sources span 5 organizations waits
about one GitHub round trip, not 5), by at most `STS_TOKEN_CREATE_CONCURRENCY` threads of the process
that touch GitHub only, never the database (`_no_database` enforces it): what GitHub's answers mean
for our records (`TokensMinted.suspended_installations`) is recorded by the caller afterwards. Every
token GitHub handed out is in `minted` once `tokens_mint` returns or raises, in the order a one-by-one
creation would have given, so a failure anywhere revokes them all.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections

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

T = TypeVar("T")


@dataclass(frozen=True)
class MintedBatch:
    """A token GitHub handed out and the sources it covers."""

    token: InstallationToken
    members: list[Source]
    issued_at: datetime


@dataclass
class TokensMinted:
    """What GitHub's answers to token creation mean for our records, for the caller to write down."""

    suspended_installations: set[int] = field(default_factory=set)


def tokens_mint(*, app: GitHubApp, sources: list[Source], minted: list[MintedBatch]) -> TokensMinted:
    """Mints the tokens of the open sources, side by side; every token GitHub handed out is in
    `minted` when this returns or raises (whatever failed), so the caller can revoke them all.
    Sources GitHub refuses are excluded."""
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], list[Source]] = defaultdict(list)
    for source in sources:
        if source.open:
            assert source.installation is not None
            groups[(source.installation.github_id, tuple(sorted(source.permissions.items())))].append(source)
    outcome = TokensMinted()
    tasks = [
        functools.partial(
            _mint_chunk,
            app=app,
            installation_id=installation_id,
            permissions=dict(permissions),
            chunk=chunk,
            minted=[],
            outcome=outcome,
        )
        for (installation_id, permissions), members in groups.items()
        for chunk in _chunks(members, MAX_REPOSITORIES_PER_TOKEN)
    ]
    try:
        _side_by_side(tasks)
    finally:
        # In the order of the tasks (each task's own list in the order GitHub answered it), whatever raised.
        for task in tasks:
            minted.extend(task.keywords["minted"])
    return outcome


def tokens_revoke_after_failure(*, app: GitHubApp, minted: list[MintedBatch]) -> list[dict[str, Any]]:
    """Revokes every token of a request that failed after GitHub issued them, side by side: nothing
    handed out may outlive a request we could not finish and record. Returns, per token in order, its
    fingerprint and whether GitHub confirmed; an unconfirmed one is retried in the background."""
    return _side_by_side([functools.partial(_revoke_after_failure, app=app, batch=batch) for batch in minted])


def _revoke_after_failure(*, app: GitHubApp, batch: MintedBatch) -> dict[str, Any]:
    confirmed = revocation_attempt(app=app, token=batch.token.token, issued_at=batch.issued_at)
    if not confirmed:
        revocation_retries.submit(
            token=batch.token.token, issued_at=batch.issued_at, expires_at=batch.token.expires_at_datetime
        )
    return {"fingerprint": token_fingerprint(batch.token.token), "confirmed": confirmed}


def _side_by_side(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Runs the tasks in the process's bounded pool (one alone runs here, without a thread hop) and
    returns their results in order. Waits for every task whatever happens, then raises the first
    task's exception, if any: no task is still running when the caller looks at what they did."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    pool = _pool(settings.STS_TOKEN_CREATE_CONCURRENCY)
    # Each task in a copy of the request's context, so that its log lines carry the request id (a context
    # is entered by one thread at a time: one copy per task).
    futures: list[Future[T]] = [pool.submit(contextvars.copy_context().run, _without_database, task) for task in tasks]
    try:
        return [future.result() for future in futures]
    finally:
        wait(futures)


@functools.cache
def _pool(size: int) -> ThreadPoolExecutor:
    # Long-lived threads: their HTTP sessions (one per thread, github_app.http) keep their connections.
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="token-create")


def _without_database(task: Callable[[], T]) -> T:
    try:
        with connections["default"].execute_wrapper(_no_database):
            return task()
    finally:
        connections.close_all()  # this thread's own: a refused statement has opened one (a no-op otherwise)


def _no_database(*args: Any) -> None:
    raise RuntimeError(
        f"No database access from {threading.current_thread().name}: tokens are created side by side, "
        "their records are written by the request afterwards."
    )


def _mint_chunk(
    *,
    app: GitHubApp,
    installation_id: int,
    permissions: dict[str, str],
    chunk: list[Source],
    minted: list[MintedBatch],
    outcome: TokensMinted,
) -> None:
    issued_at = datetime.now(tz=UTC)
    try:
        token = _create_token(app=app, installation_id=installation_id, permissions=permissions, chunk=chunk)
    except GitHubInstallationSuspended:
        outcome.suspended_installations.add(installation_id)
        _exclude_all(chunk, Reason.SUSPENDED)
    except GitHubPermissionsNotGranted:
        _exclude_all(chunk, Reason.PERMISSIONS_NOT_INSTALLED)
    except GitHubUnprocessable:
        if len(chunk) > 1:
            half = len(chunk) // 2
            for part in (chunk[:half], chunk[half:]):
                _mint_chunk(
                    app=app,
                    installation_id=installation_id,
                    permissions=permissions,
                    chunk=part,
                    minted=minted,
                    outcome=outcome,
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
