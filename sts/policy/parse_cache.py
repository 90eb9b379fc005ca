"""Parsed policies remembered by content, valid and invalid alike, within a memory budget per process.

The mint sees the same few files again and again, and a policy is immutable once parsed, so a parse
is remembered by the SHA-256 of the file's bytes (with the name and the write switch, which the
validation depends on). A refusal is remembered the same way: an invalid file costs one parse, not
one per mint that touches it. The cache is bounded by the memory its entries hold, estimated per
entry (a policy: its RE2 grants and the objects built from its source; a refusal: its problems),
not by how many there are: a few large policies cannot hold hundreds of megabytes, and thousands of
small ones do not evict each other. The least recently used entries go first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from observability.metrics import policy_cache_observed
from sts.policy.errors import InvalidPolicyName, PolicyInvalid, Problem
from sts.policy.model import TrustPolicy
from sts.policy.names import is_valid_policy_name
from sts.policy.validator import parse_policy
from sts.policy.vocabulary import MAX_POLICY_BYTES

PARSE_CACHE_MAX_BYTES = 64 * 1024 * 1024
# What a refusal holds beside its messages: the tuple, one Problem object each, the key.
_REFUSAL_OVERHEAD_BYTES = 1024
_PROBLEM_OVERHEAD_BYTES = 512


@dataclass(frozen=True)
class Refusal:
    """A file found invalid: its problems, raised again as a new PolicyInvalid on each hit."""

    problems: tuple[Problem, ...]

    @property
    def retained_bytes(self) -> int:
        return _REFUSAL_OVERHEAD_BYTES + sum(
            _PROBLEM_OVERHEAD_BYTES + len(problem.path) + len(problem.message) for problem in self.problems
        )


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int


CacheKey = tuple[bytes, str, bool]
Entry = TrustPolicy | Refusal


class ParseCache:
    """A least-recently-used map whose bound is the sum of its entries' estimated sizes."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, tuple[Entry, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Entry | None:
        with self._lock:
            found = self._entries.get(key)
            policy_cache_observed(cache="parse", result="miss" if found is None else "hit")
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: CacheKey, entry: Entry, *, size: int) -> None:
        with self._lock:
            if size > self.max_bytes:
                return  # it would evict everything and still not fit
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (entry, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = self._hits = self._misses = 0

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._entries), self._bytes, self.max_bytes)


_cache = ParseCache(max_bytes=PARSE_CACHE_MAX_BYTES)


def parse_policy_bytes(source: bytes, *, name: str, allow_write: bool) -> TrustPolicy:
    """`parse_policy` remembered by content; an invalid file raises a fresh PolicyInvalid with the same problems."""
    if not is_valid_policy_name(name):
        raise InvalidPolicyName(name)
    if len(source) > MAX_POLICY_BYTES:
        # Refused on its length at once; hashing it first would cost more than the refusal.
        return parse_policy(source, name=name, allow_write=allow_write)
    key = (hashlib.sha256(source).digest(), name, allow_write)
    entry = _cache.get(key)
    if entry is None:
        try:
            entry = parse_policy(source, name=name, allow_write=allow_write)
        except PolicyInvalid as invalid:
            entry = Refusal(tuple(invalid.problems))
        _cache.put(key, entry, size=entry.retained_bytes)
    if isinstance(entry, Refusal):
        # A new exception each time: raising a stored one would grow its traceback on every hit.
        raise PolicyInvalid(entry.problems)
    return entry


def parse_cache_info() -> CacheInfo:
    """Hits, misses and the memory held by this process's parse cache."""
    return _cache.info()


def parse_cache_clear() -> None:
    _cache.clear()
