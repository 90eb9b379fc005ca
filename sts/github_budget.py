"""A ration of GitHub calls per workspace and per caller repository.

Every workspace shares the App's GitHub rate limit. A request may cause GitHub calls beyond minting
its own tokens (looking up names our records lack, reading the policies of a mint without
`sources`), and made-up names or a large workspace could spend the limit for everyone. Each such
call is counted against the workspace and against the caller repository in the shared cache, per
window, so the ration holds across processes and machines; once one of them is spent, only that
workspace's (or caller's) requests go without, never another's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

CACHE_PREFIX = "sts:github-budget:v1"
WINDOW_SECONDS = 3600

EXHAUSTED_SENTENCE = (
    "This workspace has spent its hourly share of GitHub calls for lookups and policy reads; "
    "list the sources in the request or wait for the next hour."
)


class GitHubBudgetExhausted(Exception):
    """A call that would have gone to GitHub was not made: the ration of its workspace or caller is spent."""

    def __init__(self) -> None:
        super().__init__(EXHAUSTED_SENTENCE)


@dataclass(frozen=True)
class GitHubBudget:
    workspace_public_id: str
    caller_repository_id: str

    def spend(self) -> None:
        """Counts one GitHub call; raises `GitHubBudgetExhausted` (the call must not be made) when the
        workspace's or the caller's ration for this window is spent."""
        window = int(time.time()) // WINDOW_SECONDS
        ration = (
            (f"workspace:{self.workspace_public_id}", settings.STS_GITHUB_BUDGET_PER_WORKSPACE),
            (f"caller:{self.workspace_public_id}:{self.caller_repository_id}", settings.STS_GITHUB_BUDGET_PER_CALLER),
        )
        for who, limit in ration:
            key = f"{CACHE_PREFIX}:{who}:{window}"
            # add() creates the counter once for the window (atomic in every shared backend); incr()
            # is atomic on Redis and Memcached, so concurrent requests never both take the last call.
            cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
            try:
                spent = cache.incr(key)
            except ValueError:  # evicted between add and incr: start the window again
                cache.add(key, 1, timeout=WINDOW_SECONDS * 2)
                spent = 1
            if spent > limit:
                raise GitHubBudgetExhausted()
