"""Trust policy files as read from source repositories, cached and revalidated with ETags.

A warm read costs no GitHub call; after `STS_POLICY_CACHE_SECONDS` the file is revalidated with
`If-None-Match` (a 304 does not count against GitHub's rate limit:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
A push that touches `.atmos/pro/sts/` invalidates the entry so that a new policy applies at once.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from github_app.client import GitHubApp
from sts.policy import MAX_POLICY_BYTES, policy_path

CACHE_PREFIX = "sts:policy-file:v1"


@dataclass(frozen=True)
class PolicyFile:
    """What the default branch holds at the policy's path: `content` None when there is no file."""

    content: bytes | None


def _cache_key(full_name: str, repository_id: int | None, policy_name: str) -> str:
    # Every entry of a repository carries its generation, so one increment forgets them all; the id
    # keeps a file read by id apart from one read by a name that may since belong to someone else.
    generation = cache.get_or_set(f"{CACHE_PREFIX}:generation:{full_name.lower()}", 0, timeout=None)
    return f"{CACHE_PREFIX}:{full_name.lower()}:{repository_id or '-'}:{generation}:{policy_name}"


def policy_file_read(
    *, app: GitHubApp, installation_id: int, full_name: str, repository_id: int | None, policy_name: str
) -> PolicyFile:
    """The policy file of a repository, by GitHub id when known. Raises the `GitHubError` family when
    GitHub cannot be read; the caller decides what that means."""
    key = _cache_key(full_name, repository_id, policy_name)
    cached = cache.get(key)
    if cached is not None and time.time() - cached["checked_at"] < settings.STS_POLICY_CACHE_SECONDS:
        return PolicyFile(_decode(cached["content"]))
    etag = cached["etag"] if cached is not None else None
    found = app.read_file(
        installation_id=installation_id,
        full_name=full_name,
        repository_id=repository_id,
        path=policy_path(policy_name),
        etag=etag,
    )
    if found.not_modified and cached is not None:
        content = cached["content"]
    else:
        # Anything beyond the parser's cap is invalid whatever follows: keep one byte more than the cap.
        content = None if found.content is None else base64.b64encode(found.content[: MAX_POLICY_BYTES + 1]).decode()
        etag = found.etag
    cache.set(key, {"content": content, "etag": etag, "checked_at": time.time()}, timeout=24 * 3600)
    return PolicyFile(_decode(content))


def policy_files_invalidate(*, full_name: str) -> None:
    """Forget every cached policy of a repository: the next mint reads them from GitHub again."""
    key = f"{CACHE_PREFIX}:generation:{full_name.lower()}"
    try:
        cache.incr(key)
    except ValueError:  # no generation yet: nothing is cached under it either
        cache.set(key, 1, timeout=None)


def _decode(content: str | None) -> bytes | None:
    return None if content is None else base64.b64decode(content)
