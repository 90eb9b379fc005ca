"""Trust policy files as read from source repositories, cached and revalidated with ETags.

A warm read costs no GitHub call; after `STS_POLICY_CACHE_SECONDS` the file is revalidated with
`If-None-Match` (a 304 does not count against GitHub's rate limit:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
A push that touches `.atmos/pro/sts/` invalidates the entry so that a new policy applies at once.

Only the regular file at the policy's own path is a policy: GitHub answers a symlink with the
content and path of its target, which may live anywhere in the repository, outside the review that
guards the policy folder; such an answer, and a file too large for the contents API, is kept as a
refusal with a sentence saying why.
"""

from __future__ import annotations

import base64
import contextvars
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from github_app.client import FileContent, GitHubApp
from github_app.errors import GitHubError, GitHubFileTooLarge
from observability.metrics import policy_cache_observed
from sts.github_budget import GitHubBudgetExhausted
from sts.policy import MAX_POLICY_BYTES, policy_path

CACHE_PREFIX = "sts:policy-file:v2"
POLICY_READ_CONCURRENCY = 8
# The policies of a cold mint are fetched side by side, by long-lived threads (their HTTP connections
# and cache clients are reused) that touch GitHub and the cache only, never the database.
_readers = ThreadPoolExecutor(max_workers=POLICY_READ_CONCURRENCY, thread_name_prefix="policy-read")

TOO_LARGE = "GitHub refuses to serve the file through its contents API (over 1 MB); a policy holds at most 64 KiB."


@dataclass(frozen=True)
class PolicyFile:
    """What the default branch holds at the policy's path: `content` None when there is no policy
    there, with `refusal` saying why when something is there that cannot be one."""

    content: bytes | None
    refusal: str | None = None


@dataclass(frozen=True)
class PolicyRead:
    """One policy file to read: the repository by GitHub id when our records know it."""

    installation_id: int
    full_name: str
    repository_id: int | None


def policy_files_read(
    *, app: GitHubApp, reads: list[PolicyRead], policy_name: str, spend: Callable[[], None] | None = None
) -> list[PolicyFile | GitHubError | GitHubBudgetExhausted]:
    """The policy file of each repository, in order; a failure is returned in its place, so one
    repository's trouble never hides another's answer. `spend` is called before each read that costs
    GitHub's rate limit (one that cannot be answered from the cache or revalidated by ETag) and
    raises `GitHubBudgetExhausted` to stop it."""

    def read(one: PolicyRead) -> PolicyFile | GitHubError | GitHubBudgetExhausted:
        try:
            return policy_file_read(
                app=app,
                installation_id=one.installation_id,
                full_name=one.full_name,
                repository_id=one.repository_id,
                policy_name=policy_name,
                spend=spend,
            )
        except (GitHubError, GitHubBudgetExhausted) as error:
            return error

    # A warm mint finds every file fresh in the cache: two reads of it for all of them, in this thread.
    answers: list[PolicyFile | GitHubError | GitHubBudgetExhausted | None] = list(
        _fresh_in_cache(reads, policy_name=policy_name)
    )
    rest = [index for index, answer in enumerate(answers) if answer is None]
    if len(rest) <= 1:
        for index in rest:
            answers[index] = read(reads[index])
    else:
        # Each read in a copy of the request's context, so that its log lines carry the request id (a
        # context is entered by one thread at a time: one copy per read).
        contexts = [contextvars.copy_context() for _ in rest]
        found = _readers.map(lambda context, one: context.run(read, one), contexts, [reads[index] for index in rest])
        for index, answer in zip(rest, found, strict=True):
            answers[index] = answer
    done = [answer for answer in answers if answer is not None]
    assert len(done) == len(reads), "every read is answered"
    return done


def _fresh_in_cache(reads: list[PolicyRead], *, policy_name: str) -> list[PolicyFile | None]:
    """Each read's file when the cache holds it fresh, else None (`policy_file_read` then asks GitHub)."""
    generation_keys = [_generation_key(one.full_name) for one in reads]
    generations = cache.get_many(generation_keys)
    keys = {
        index: _entry_key(one.full_name, one.repository_id, generations[generation_key], policy_name)
        for index, (one, generation_key) in enumerate(zip(reads, generation_keys, strict=True))
        if generation_key in generations
    }
    entries = cache.get_many(list(keys.values()))
    now = time.time()
    found: list[PolicyFile | None] = []
    for index in range(len(reads)):
        cached = entries.get(keys[index]) if index in keys else None
        if cached is not None and now - cached["checked_at"] < settings.STS_POLICY_CACHE_SECONDS:
            policy_cache_observed(cache="file", result="hit")
            found.append(_entry(cached))
        else:
            found.append(None)
    return found


def _cache_key(full_name: str, repository_id: int | None, policy_name: str) -> str:
    generation = cache.get_or_set(_generation_key(full_name), 0, timeout=None)
    return _entry_key(full_name, repository_id, generation, policy_name)


def _generation_key(full_name: str) -> str:
    return f"{CACHE_PREFIX}:generation:{full_name.lower()}"


def _entry_key(full_name: str, repository_id: int | None, generation: object, policy_name: str) -> str:
    # Every entry of a repository carries its generation, so one increment forgets them all; the id
    # keeps a file read by id apart from one read by a name that may since belong to someone else.
    return f"{CACHE_PREFIX}:{full_name.lower()}:{repository_id or '-'}:{generation}:{policy_name}"


def policy_file_read(
    *,
    app: GitHubApp,
    installation_id: int,
    full_name: str,
    repository_id: int | None,
    policy_name: str,
    spend: Callable[[], None] | None = None,
) -> PolicyFile:
    """The policy file of a repository, by GitHub id when known. Raises the `GitHubError` family when
    GitHub cannot be read, and `GitHubBudgetExhausted` from `spend`; the caller decides what that means."""
    key = _cache_key(full_name, repository_id, policy_name)
    cached = cache.get(key)
    if cached is not None and time.time() - cached["checked_at"] < settings.STS_POLICY_CACHE_SECONDS:
        policy_cache_observed(cache="file", result="hit")
        return _entry(cached)
    etag = cached["etag"] if cached is not None else None
    if etag is None and spend is not None:
        spend()
    path = policy_path(policy_name)
    try:
        found = app.read_file(
            installation_id=installation_id, full_name=full_name, repository_id=repository_id, path=path, etag=etag
        )
    except GitHubFileTooLarge:
        entry: dict[str, object] = {"content": None, "refusal": TOO_LARGE, "etag": None}
    else:
        entry = cached if found.not_modified and cached is not None else _answer(found, path=path)
    policy_cache_observed(cache="file", result="revalidated" if entry is cached else "miss")
    entry = {**entry, "checked_at": time.time()}
    cache.set(key, entry, timeout=24 * 3600)
    return _entry(entry)


def _answer(found: FileContent, *, path: str) -> dict[str, object]:
    if found.content is None:
        return {"content": None, "refusal": None, "etag": found.etag}
    # GitHub answers a symlink with its target's content and path
    # (https://docs.github.com/en/rest/repos/contents#if-the-content-is-a-symlink): only the regular
    # file at the path asked for is the policy, the one the policy folder's review guards.
    if found.kind != "file" or found.path != path:
        refusal = (
            f"GitHub answered {path} with the content of {str(found.path)[:200]}: the policy is a link to a file "
            "elsewhere in the repository. Commit the policy itself at its path."
            if found.kind == "file"
            else f"{path} is a {str(found.kind)[:20]}, not a file. Commit the policy itself at its path."
        )
        return {"content": None, "refusal": refusal, "etag": found.etag}
    # Anything beyond the parser's cap is invalid whatever follows: keep one byte more than the cap.
    content = base64.b64encode(found.content[: MAX_POLICY_BYTES + 1]).decode()
    return {"content": content, "refusal": None, "etag": found.etag}


def policy_file_of(found: FileContent, *, path: str) -> PolicyFile:
    """What GitHub answered for a policy's path, judged as the mint judges it (a link is refused)."""
    return _entry(_answer(found, path=path))


def _entry(cached: dict[str, object]) -> PolicyFile:
    content = cached["content"]
    refusal = cached.get("refusal")
    return PolicyFile(
        content=None if content is None else base64.b64decode(str(content)),
        refusal=None if refusal is None else str(refusal),
    )


def policy_files_invalidate(*, full_name: str) -> None:
    """Forget every cached policy of a repository: the next mint reads them from GitHub again."""
    key = _generation_key(full_name)
    try:
        cache.incr(key)
    except ValueError:  # no generation yet: nothing is cached under it either
        cache.set(key, 1, timeout=None)
