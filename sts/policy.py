"""The trust-policy language `atmos-pro.com/v1alpha1`: parse, validate, evaluate, describe as a JSON Schema.

One home for the language (STYLE.md, "one home per concept"): the mint, the JSON Schema view, the
`sts_lint` command and the checks on pushes all call this module, so what an editor accepts, what
lint accepts and what the mint enforces cannot drift apart. The spec is
/work/shared/spec/trust-policy.md.

A policy file is untrusted input written by anyone with push access to a source repository, so the
parser is built to fail fast and safely: the size is checked on bytes before any parsing, the file
must be UTF-8, and YAML is read as a stream of events (libyaml when available) into a small tree
of our own. Anchors, aliases, tags, merge keys, several documents and deep nesting are refused
while the events arrive, so a "billion laughs" file or 10 000 nested brackets stop within a few
events, never by a RecursionError or an expansion. Every problem is reported with its place
(`spec.rules[1].match.reff`, line 12), all of them at once.

Matching is linear-time: globs become RE2 programs (or a plain string comparison when they hold
no wildcard) and regexes are compiled by RE2 (google-re2), which has no backtracking.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import re2
import yaml

POLICY_DIRECTORY = ".atmos/pro/sts"
POLICY_SUFFIX = ".yaml"
API_VERSION = "atmos-pro.com/v1alpha1"
KIND = "TrustPolicy"

MAX_POLICY_BYTES = 64 * 1024
# The deepest legitimate place is spec > rules > [i] > match > claim > [j] > regex: 7 levels.
MAX_NESTING_DEPTH = 10
MAX_RULES = 100
MAX_ALTERNATIVES = 50
MAX_GLOB_LENGTH = 1024
MAX_REGEX_LENGTH = 1024
# Reported problems are capped so that a hostile file cannot flood an audit record or a log.
MAX_PROBLEMS = 50
# Lines of a Decision's explanation (one per rule tried) are capped for the same reason.
MAX_EXPLANATION_LINES = 20
# Per-regex memory budget for RE2 (program and DFA cache); RE2's default is 8 MiB.
_RE2_MAX_MEMORY = 1 << 20

POLICY_NAME_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_POLICY_NAME = re.compile(POLICY_NAME_PATTERN)

# Claims of the GitHub Actions OIDC token, as issued by GitHub (`claims_supported` of
# https://token.actions.githubusercontent.com/.well-known/openid-configuration, and
# https://docs.github.com/en/actions/reference/security/oidc#oidc-token-claims).
# `subject` is our alias of `sub`. Left out on purpose: `jti`, `iat`, `nbf` and `exp` change with
# every token, so a rule on them is always a mistake and is better caught as an unknown name; `aud` is
# always one of this server's own audiences. The session carries exactly these claims (sts.oidc).
KNOWN_CLAIMS: frozenset[str] = frozenset(
    {
        "sub",
        "subject",
        "iss",
        "actor",
        "actor_id",
        "base_ref",
        "check_run_id",
        "enterprise",
        "enterprise_id",
        "environment",
        "environment_node_id",
        "event_name",
        "head_ref",
        "issuer_scope",
        "job_workflow_ref",
        "job_workflow_sha",
        "ref",
        "ref_protected",
        "ref_type",
        "repository",
        "repository_id",
        "repository_owner",
        "repository_owner_id",
        "repository_visibility",
        "run_attempt",
        "run_id",
        "run_number",
        "runner_environment",
        "sha",
        "workflow",
        "workflow_ref",
        "workflow_sha",
    }
)
SUBJECT_ALIAS = "subject"
# Custom repository properties reach the token as `repo_property_<name>`:
# https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#including-repository-custom-properties-in-oidc-tokens
REPO_PROPERTY_CLAIM_PATTERN = r"repo_property_[A-Za-z0-9_$#-]{1,75}"
_REPO_PROPERTY_CLAIM = re.compile(REPO_PROPERTY_CLAIM_PATTERN)
# Claims whose value is a boolean: a policy may write them as YAML `true` / `false`, and they
# compare as the strings "true" / "false" (a custom property of type true_false is one too).
BOOLEAN_CLAIMS: frozenset[str] = frozenset({"ref_protected"})

# Repository permissions an installation access token can carry ("Create an installation access
# token", body parameter `permissions`): https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
# Organization and user permissions are left out on purpose: a policy in one repository admits
# callers to that repository, it must not hand out organization-wide powers.
KNOWN_PERMISSIONS: frozenset[str] = frozenset(
    {
        "actions",
        "administration",
        "attestations",
        "checks",
        "codespaces",
        "contents",
        "dependabot_secrets",
        "deployments",
        "discussions",
        "environments",
        "issues",
        "merge_queues",
        "metadata",
        "packages",
        "pages",
        "pull_requests",
        "repository_custom_properties",
        "repository_hooks",
        "repository_projects",
        "secret_scanning_alerts",
        "secrets",
        "security_events",
        "single_file",
        "statuses",
        "vulnerability_alerts",
        "workflows",
    }
)
PERMISSION_LEVELS = ("read", "write")
DEFAULT_PERMISSIONS: Mapping[str, str] = {"contents": "read"}

FILE_PATH = "(file)"


def is_valid_policy_name(name: str) -> bool:
    """One path segment of ASCII letters, digits, `-` and `_`, 1 to 64 characters."""
    return isinstance(name, str) and _POLICY_NAME.fullmatch(name) is not None


def policy_path(name: str) -> str:
    """The path of a policy file inside the source repository; refuses a name before any file is read."""
    if not is_valid_policy_name(name):
        raise InvalidPolicyName(name)
    return f"{POLICY_DIRECTORY}/{name}{POLICY_SUFFIX}"


def is_known_claim(claim: str) -> bool:
    return claim in KNOWN_CLAIMS or _REPO_PROPERTY_CLAIM.fullmatch(claim) is not None


def _excerpt(text: str, limit: int = 40) -> str:
    """A short, quoted and escaped excerpt: never more than `limit` characters of a value."""
    if len(text) > limit:
        return json.dumps(text[:limit], ensure_ascii=False) + "…"
    return json.dumps(text, ensure_ascii=False)


# --- problems -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file, with its place: a path like `spec.rules[1].match.reff` and a line."""

    path: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "line": self.line}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}"


class PolicyInvalid(Exception):
    """The policy file does not parse or validate; `.problems` lists every problem with its place."""

    tag = "trust_policy_invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(self.summary())

    def summary(self) -> str:
        count = len(self.problems)
        if not count:
            return "The trust policy is invalid."
        plural = "" if count == 1 else "s"
        return f"The trust policy is invalid ({count} problem{plural}); first: {self.problems[0]}"

    def as_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "problems": [problem.as_dict() for problem in self.problems]}


class InvalidPolicyName(PolicyInvalid):
    """A policy name that is not one safe path segment; raised before any file is read."""

    tag = "invalid_policy_name"

    def __init__(self, name: object) -> None:
        shown = _excerpt(name) if isinstance(name, str) else type(name).__name__
        super().__init__(
            [
                Problem(
                    "policyName",
                    f"{shown} is not a policy name: use 1 to 64 letters, digits, '-' or '_'",
                )
            ]
        )


class _Problems:
    """Collects problems up to MAX_PROBLEMS, then one last line saying that more were left out."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.left_out = 0

    def add(self, path: str, message: str, line: int | None) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(path or FILE_PATH, message, line))
        else:
            self.left_out += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        problems = list(self.items)
        if self.left_out:
            problems.append(Problem(FILE_PATH, f"{self.left_out} more problems were not listed", None))
        raise PolicyInvalid(problems)


# --- reading YAML safely --------------------------------------------------------------------

_EventLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_YAML_TYPES = {
    "tag:yaml.org,2002:str": "string",
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:int": "number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "timestamp",
}


@dataclass(eq=False)
class _Node:
    """A YAML node of our own tree: a scalar keeps its text and whether it was plain (unquoted)."""

    kind: Literal["mapping", "sequence", "scalar"]
    line: int
    text: str = ""
    plain: bool = False
    items: list[_Node] = field(default_factory=list)
    pairs: list[tuple[_Node, _Node]] = field(default_factory=list)

    def scalar_type(self) -> str:
        """`string`, `boolean`, `number`, `null`, `timestamp`, ... as YAML 1.1 (PyYAML) reads the scalar."""
        if not self.plain:
            return "string"
        tag = _RESOLVER.resolve(yaml.ScalarNode, self.text, (True, False))
        return _YAML_TYPES.get(tag, "special value")


def _join(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_$#-]{1,80}", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_excerpt(key)}]"


class _Frame:
    __slots__ = ("key", "node", "path")

    def __init__(self, node: _Node, path: str) -> None:
        self.node = node
        self.path = path
        self.key: _Node | None = None

    def child_path(self) -> str:
        if self.node.kind == "sequence":
            return f"{self.path}[{len(self.node.items)}]"
        if self.key is None:
            return self.path
        return _join(self.path, self.key.text if self.key.kind == "scalar" else "?")

    def attach(self, node: _Node) -> None:
        if self.node.kind == "sequence":
            self.node.items.append(node)
        elif self.key is None:
            self.key = node
        else:
            self.node.pairs.append((self.key, node))
            self.key = None


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _decode(source: bytes | str, problems: _Problems) -> str | None:
    """Check size and encoding on bytes, before any YAML parsing."""
    if isinstance(source, str):
        if len(source) > MAX_POLICY_BYTES:
            problems.add(FILE_PATH, f"the file is larger than {MAX_POLICY_BYTES} bytes", None)
            return None
        try:
            source = source.encode("utf-8")
        except UnicodeEncodeError:
            problems.add(FILE_PATH, "the file is not valid UTF-8 text", None)
            return None
    if len(source) > MAX_POLICY_BYTES:
        problems.add(FILE_PATH, f"the file is {len(source)} bytes; a policy may be at most {MAX_POLICY_BYTES}", None)
        return None
    if source.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.add(FILE_PATH, "the file is UTF-16 (it starts with a byte order mark); save it as UTF-8", 1)
        return None
    nul = source.find(b"\x00")
    if nul >= 0:
        problems.add(
            FILE_PATH, "the file contains a NUL byte: it is binary, not YAML text", source.count(b"\n", 0, nul) + 1
        )
        return None
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.add(FILE_PATH, "the file is not valid UTF-8 text", source.count(b"\n", 0, error.start) + 1)
        return None
    # A UTF-8 byte order mark is still UTF-8 (some Windows editors write one): tolerated.
    return text.removeprefix("\ufeff")


def _yaml_error_message(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or getattr(error, "reason", None) or "syntax error"
    context = getattr(error, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    if "alias" in message:
        message += " (a value that starts with '*' must be quoted, like \"*\")"
    return f"not valid YAML: {message[:200]}"


def _compose(text: str, problems: _Problems) -> _Node | None:
    """Build our tree from YAML events, refusing every YAML feature a policy does not need."""
    root: _Node | None = None
    stack: list[_Frame] = []
    documents = 0

    def place() -> str:
        return stack[-1].child_path() if stack else ""

    def attach(node: _Node) -> None:
        nonlocal root
        if stack:
            stack[-1].attach(node)
        else:
            root = node

    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    problems.add(FILE_PATH, "a policy file holds exactly one YAML document; remove the second", line)
                    break
            elif isinstance(event, yaml.AliasEvent):
                problems.add(place(), "aliases (*name) are not allowed in a policy", line)
                attach(_Node("scalar", line, text="", plain=True))
            elif isinstance(event, yaml.NodeEvent):
                if event.anchor is not None:
                    problems.add(place(), "anchors (&name) are not allowed in a policy", line)
                if getattr(event, "tag", None) is not None:
                    problems.add(place(), "tags (!name, !!type) are not allowed in a policy", line)
                if isinstance(event, yaml.ScalarEvent):
                    node = _Node("scalar", line, text=event.value, plain=bool(event.implicit[0]))
                    frame = stack[-1] if stack else None
                    if (
                        frame
                        and frame.node.kind == "mapping"
                        and frame.key is None
                        and node.plain
                        and node.text == "<<"
                    ):
                        problems.add(place(), "merge keys (<<) are not allowed in a policy", line)
                    attach(node)
                else:
                    if len(stack) >= MAX_NESTING_DEPTH:
                        problems.add(place(), f"nested more than {MAX_NESTING_DEPTH} levels deep", line)
                        break
                    kind: Literal["mapping", "sequence"] = (
                        "mapping" if isinstance(event, yaml.MappingStartEvent) else "sequence"
                    )
                    node = _Node(kind, line)
                    path = place()
                    attach(node)
                    stack.append(_Frame(node, path))
            elif isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problems.add(place(), _yaml_error_message(error), mark.line + 1 if mark else None)
    except yaml.YAMLError as error:
        # A ReaderError (a control character) has a position but no mark.
        position = getattr(error, "position", None)
        problems.add(place(), _yaml_error_message(error), _line_of(text, position) if position is not None else None)
    if documents == 0 and not problems:
        problems.add(FILE_PATH, "the file is empty: it holds no YAML document", None)
    return root


# --- the policy model -----------------------------------------------------------------------


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors become Problems; RE2 must not write them to stderr itself
    options.max_mem = _RE2_MAX_MEMORY
    options.never_capture = True  # only "does it match" is asked: no submatch bookkeeping
    return options


_OPTIONS = _re2_options()


def _glob_to_re2(glob: str) -> str:
    """`*` is any run of characters (including `/`, `:` and newlines), `?` exactly one; the rest is literal."""
    parts: list[str] = ["(?s)"]
    previous = ""
    for character in glob:
        if character == "*":
            if previous != "*":
                parts.append(".*")
        elif character == "?":
            parts.append(".")
        else:
            parts.append(re2.escape(character))
        previous = character
    return "".join(parts)


class Glob:
    """A glob condition, matched against the whole claim value, case-sensitive."""

    kind = "glob"

    def __init__(self, source: str) -> None:
        self.source = source
        self._description = _excerpt(source)
        # The common shapes (`main`, `refs/heads/*`, `*/app`, `repo:acme/*:ref:*`...) with no `?`
        # and one run of `*` are string comparisons; RE2 only runs for the others.
        pieces = re.split(r"\*+", source)
        self._prefix = pieces[0]
        self._suffix = pieces[-1] if len(pieces) == 2 else ""
        self._shape = "literal" if len(pieces) == 1 else "star" if len(pieces) == 2 else "program"
        if "?" in source:
            self._shape = "program"
        self.needs_program = self._shape == "program"
        self._program = (
            re2.compile(_glob_to_re2(source).encode("utf-8"), options=_OPTIONS) if self.needs_program else None
        )

    def matches(self, value: str, encoded: bytes) -> bool:
        """`encoded` is `value` in UTF-8: RE2's Python wrapper is several times faster on bytes than on str."""
        if self._shape == "literal":
            return value == self.source
        if self._shape == "star":
            return (
                len(value) >= len(self._prefix) + len(self._suffix)
                and value.startswith(self._prefix)
                and value.endswith(self._suffix)
            )
        assert self._program is not None
        return self._program.fullmatch(encoded) is not None

    def describe(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"Glob({self.source!r})"


class Regex:
    """A `{regex: ...}` condition in RE2 syntax, matched against the whole value.

    The pattern is compiled on its own and run with RE2's full-match anchoring, rather than
    pasted into `^(?:...)$`: so an unbalanced `a)|(b` is a syntax error instead of a way out of
    the anchors, and `main|develop` never matches `main-attacker`.
    """

    kind = "regex"
    needs_program = True

    def __init__(self, source: str) -> None:
        self.source = source
        self._description = f"regex {_excerpt(source)}"
        # A bytes pattern still runs in UTF-8 mode (the Options default): `.` is one code point.
        self._program = re2.compile(source.encode("utf-8"), options=_OPTIONS)

    def matches(self, value: str, encoded: bytes) -> bool:
        return self._program.fullmatch(encoded) is not None

    def describe(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"Regex({self.source!r})"


Matcher = Glob | Regex


def glob_matches(glob: str, value: str) -> bool:
    """Whether `value` matches the glob as a policy condition would (for tests and tools)."""
    return Glob(glob).matches(value, value.encode("utf-8"))


@dataclass(frozen=True)
class Failure:
    """Why a condition does not hold: `missing` claim, claim `not_text`, or `no_match`; formatted only when read."""

    claim: str
    reason: Literal["missing", "not_text", "no_match"]
    condition: Condition
    value: str = ""

    def __str__(self) -> str:
        token_claim = self.condition.token_claim
        if self.reason == "missing":
            return f"{self.claim}: the token has no {token_claim!r} claim"
        if self.reason == "not_text":
            return f"{self.claim}: the claim value is not a string"
        return f"{self.claim}: {_excerpt(self.value, 64)} does not match {self.condition.describe()}"


@dataclass(frozen=True)
class Condition:
    """`claim` must match at least one of `alternatives`."""

    claim: str
    alternatives: tuple[Matcher, ...]
    line: int | None = None

    @property
    def token_claim(self) -> str:
        return "sub" if self.claim == SUBJECT_ALIAS else self.claim

    @functools.cached_property
    def _needs_bytes(self) -> bool:
        return any(matcher.needs_program for matcher in self.alternatives)

    def describe(self) -> str:
        if len(self.alternatives) == 1:
            return self.alternatives[0].describe()
        return f"any of {len(self.alternatives)} conditions"

    def failure(self, claims: Mapping[str, object]) -> Failure | None:
        """None when the condition holds, else why not."""
        claim = "sub" if self.claim == SUBJECT_ALIAS else self.claim
        if claim not in claims:
            return Failure(self.claim, "missing", self)
        value = _claim_text(claims[claim])
        if value is None:
            return Failure(self.claim, "not_text", self)
        encoded = b""
        if self._needs_bytes:
            try:
                encoded = value.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate (possible in JSON) is not text RE2 can read: it matches nothing.
                return Failure(self.claim, "not_text", self)
        for matcher in self.alternatives:
            if matcher.matches(value, encoded):
                return None
        return Failure(self.claim, "no_match", self, value)


def _claim_text(value: object) -> str | None:
    # Booleans compare as "true" / "false" (spec); GitHub sends every claim but the times as a string.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None


@dataclass(frozen=True)
class Rule:
    index: int
    conditions: tuple[Condition, ...]
    permissions: Mapping[str, str]
    line: int | None = None

    def failure(self, claims: Mapping[str, object]) -> Failure | None:
        """None when every condition holds, else why the first one that fails does not."""
        for condition in self.conditions:
            failure = condition.failure(claims)
            if failure is not None:
                return failure
        return None


@dataclass(frozen=True)
class Decision:
    """The outcome of a policy for one caller; `as_dict()` is what the audit log records.

    `trace` holds, for each rule tried, its index and why it failed (None for the rule that
    matched); `explanation` renders it as short sentences, capped at MAX_EXPLANATION_LINES, only
    when someone reads it, so that evaluation stays cheap.
    """

    allowed: bool
    rule_index: int | None
    permissions: dict[str, str]
    trace: tuple[tuple[int, Failure | None], ...] = field(default=(), repr=False, compare=False)

    @property
    def reason(self) -> str | None:
        """The mint's `excluded[].reason` when denied."""
        return None if self.allowed else "trust_policy_denied"

    @functools.cached_property
    def explanation(self) -> list[str]:
        lines = []
        for index, failure in self.trace[:MAX_EXPLANATION_LINES]:
            lines.append(f"rules[{index}] matched" if failure is None else f"rules[{index}] did not match: {failure}")
        if len(self.trace) > MAX_EXPLANATION_LINES:
            lines.append(f"… {len(self.trace) - MAX_EXPLANATION_LINES} more rules were tried")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "rule_index": self.rule_index,
            "permissions": dict(self.permissions),
            "explanation": list(self.explanation),
        }


@dataclass(frozen=True)
class TrustPolicy:
    name: str
    rules: tuple[Rule, ...]

    def evaluate(self, claims: Mapping[str, object]) -> Decision:
        """The first rule whose conditions all hold decides; no rule holds: denied."""
        trace: list[tuple[int, Failure | None]] = []
        for rule in self.rules:
            failure = rule.failure(claims)
            trace.append((rule.index, failure))
            if failure is None:
                return Decision(True, rule.index, dict(rule.permissions), tuple(trace))
        return Decision(False, None, {}, tuple(trace))


# --- validation -----------------------------------------------------------------------------


class _Validator:
    def __init__(self, problems: _Problems, *, name: str, allow_write: bool) -> None:
        self.problems = problems
        self.name = name
        self.allow_write = allow_write

    def report(self, path: str, message: str, line: int | None) -> None:
        self.problems.add(path, message, line)

    def fields(
        self, node: _Node, path: str, *, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, _Node] | None:
        """The values of a mapping with a fixed set of keys; unknown, duplicate and missing keys are problems."""
        if node.kind != "mapping":
            self.report(path, "must be a mapping", node.line)
            return None
        allowed = (*required, *optional)
        found: dict[str, _Node] = {}
        for key, key_node, value in self.keys(node, path):
            if key not in allowed:
                self.report(_join(path, key), _unknown("key", key, allowed), key_node.line)
            else:
                found[key] = value
        for key in required:
            if key not in found:
                self.report(_join(path, key), "is required", node.line)
        return found

    def keys(self, node: _Node, path: str) -> Iterator[tuple[str, _Node, _Node]]:
        """The string keys of a mapping, once each, with key and value nodes; bad and duplicate keys are reported."""
        seen: set[str] = set()
        for key, value in node.pairs:
            if key.kind != "scalar" or key.scalar_type() not in {"string", "boolean", "number", "null"}:
                self.report(path, "mapping keys must be plain strings", key.line)
                continue
            if key.text in seen:
                self.report(_join(path, key.text), "duplicate key: a key may appear only once", key.line)
                continue
            seen.add(key.text)
            yield key.text, key, value

    def string(self, node: _Node, path: str) -> str | None:
        if node.kind != "scalar":
            self.report(path, "must be a string", node.line)
            return None
        kind = node.scalar_type()
        if kind == "null":
            self.report(path, "must be a string, not empty (null)", node.line)
            return None
        if kind == "boolean":
            self.report(path, f"must be a string; YAML reads {_excerpt(node.text)} as a boolean: quote it", node.line)
            return None
        if kind != "string":
            self.report(path, f"must be a string; YAML reads {_excerpt(node.text)} as a {kind}: quote it", node.line)
            return None
        try:
            node.text.encode("utf-8")
        except UnicodeEncodeError:
            self.report(path, "must be valid text (a lone surrogate escape is not)", node.line)
            return None
        return node.text

    def policy(self, root: _Node | None) -> TrustPolicy | None:
        if root is None:
            return None
        top = self.fields(root, "", required=("apiVersion", "kind", "metadata", "spec"))
        if top is None:
            return None
        if "apiVersion" in top:
            self.constant(top["apiVersion"], "apiVersion", API_VERSION)
        if "kind" in top:
            self.constant(top["kind"], "kind", KIND)
        if "metadata" in top:
            self.metadata(top["metadata"])
        rules: tuple[Rule, ...] = ()
        if "spec" in top:
            spec = self.fields(top["spec"], "spec", required=("rules",))
            if spec and "rules" in spec:
                rules = self.rules(spec["rules"], "spec.rules")
        return TrustPolicy(self.name, rules)

    def constant(self, node: _Node, path: str, expected: str) -> None:
        value = self.string(node, path)
        if value is not None and value != expected:
            self.report(path, f"must be {expected!r}, not {_excerpt(value)}", node.line)

    def metadata(self, node: _Node) -> None:
        metadata = self.fields(node, "metadata", required=("name",))
        if not metadata or "name" not in metadata:
            return
        value = self.string(metadata["name"], "metadata.name")
        if value is None:
            return
        if not is_valid_policy_name(value):
            self.report("metadata.name", "must be 1 to 64 letters, digits, '-' or '_'", metadata["name"].line)
        elif value != self.name:
            self.report(
                "metadata.name",
                f"is {value!r} but the file is {self.name}{POLICY_SUFFIX}: they must be equal",
                metadata["name"].line,
            )

    def rules(self, node: _Node, path: str) -> tuple[Rule, ...]:
        if node.kind != "sequence":
            self.report(path, "must be a list of rules", node.line)
            return ()
        if not node.items:
            self.report(path, "must hold at least one rule", node.line)
            return ()
        if len(node.items) > MAX_RULES:
            self.report(path, f"holds {len(node.items)} rules; at most {MAX_RULES} are allowed", node.line)
            return ()
        rules = []
        for index, item in enumerate(node.items):
            rule = self.rule(item, f"{path}[{index}]", index)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def rule(self, node: _Node, path: str, index: int) -> Rule | None:
        rule = self.fields(node, path, required=("match",), optional=("permissions",))
        if rule is None:
            return None
        conditions = self.match(rule["match"], f"{path}.match") if "match" in rule else None
        permissions = (
            self.permissions(rule["permissions"], f"{path}.permissions")
            if "permissions" in rule
            else dict(DEFAULT_PERMISSIONS)
        )
        if conditions is None or permissions is None:
            return None
        return Rule(index, conditions, permissions, node.line)

    def match(self, node: _Node, path: str) -> tuple[Condition, ...] | None:
        if node.kind != "mapping" or not node.pairs:
            self.report(
                path,
                "must be a non-empty mapping of claim names to conditions;"
                ' to admit every caller write match: { subject: "*" }',
                node.line,
            )
            return None
        conditions = []
        valid = True
        claims = {key.text for key, _ in node.pairs if key.kind == "scalar"}
        if "sub" in claims and SUBJECT_ALIAS in claims:
            self.report(path, "sub and subject are the same claim: use one of them", node.line)
            valid = False
        for claim, key_node, value in self.keys(node, path):
            claim_path = _join(path, claim)
            if not is_known_claim(claim):
                self.report(
                    claim_path,
                    _unknown("claim name", claim, sorted(KNOWN_CLAIMS))
                    + " (GitHub does not issue it, so the condition could never hold;"
                    + " custom properties are repo_property_<name>)",
                    key_node.line,
                )
                valid = False
                continue
            alternatives = self.condition(value, claim_path, boolean=_is_boolean_claim(claim))
            if alternatives is None:
                valid = False
            else:
                conditions.append(Condition(claim, alternatives, value.line))
        return tuple(conditions) if valid and len(conditions) == len(node.pairs) else None

    def condition(self, node: _Node, path: str, *, boolean: bool) -> tuple[Matcher, ...] | None:
        if node.kind == "sequence":
            if not node.items:
                self.report(path, "a list of conditions must not be empty", node.line)
                return None
            if len(node.items) > MAX_ALTERNATIVES:
                self.report(path, f"at most {MAX_ALTERNATIVES} alternatives are allowed", node.line)
                return None
            alternatives: list[Matcher] = []
            for index, item in enumerate(node.items):
                item_path = f"{path}[{index}]"
                if item.kind == "sequence":
                    self.report(item_path, "must be a glob or { regex: ... }, not a list", item.line)
                    continue
                matcher = self.alternative(item, item_path, boolean=boolean)
                if matcher is not None:
                    alternatives.append(matcher)
            return tuple(alternatives) if len(alternatives) == len(node.items) else None
        matcher = self.alternative(node, path, boolean=boolean)
        return None if matcher is None else (matcher,)

    def alternative(self, node: _Node, path: str, *, boolean: bool) -> Matcher | None:
        if node.kind == "mapping":
            fields = self.fields(node, path, required=("regex",))
            if not fields or "regex" not in fields:
                return None
            return self.regex(fields["regex"], f"{path}.regex")
        if boolean and node.kind == "scalar" and node.scalar_type() == "boolean":
            if node.text.lower() not in {"true", "false"}:
                self.report(path, f"write true or false, not {_excerpt(node.text)}", node.line)
                return None
            return Glob(node.text.lower())
        glob = self.string(node, path)
        if glob is None:
            return None
        if len(glob) > MAX_GLOB_LENGTH:
            self.report(path, f"a glob may be at most {MAX_GLOB_LENGTH} characters", node.line)
            return None
        return Glob(glob)

    def regex(self, node: _Node, path: str) -> Regex | None:
        source = self.string(node, path)
        if source is None:
            return None
        if not source:
            self.report(path, "must not be empty", node.line)
            return None
        if len(source) > MAX_REGEX_LENGTH:
            self.report(path, f"a regex may be at most {MAX_REGEX_LENGTH} characters", node.line)
            return None
        try:
            return Regex(source)
        except re2.error as error:
            reason = error.args[0] if error.args else "invalid"
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            self.report(path, f"is not a valid RE2 regular expression: {str(reason)[:120]}", node.line)
            return None

    def permissions(self, node: _Node, path: str) -> dict[str, str] | None:
        if node.kind != "mapping" or not node.pairs:
            self.report(path, "must be a non-empty mapping of permission names to read or write", node.line)
            return None
        permissions: dict[str, str] = {}
        valid = True
        for permission, key_node, value in self.keys(node, path):
            permission_path = _join(path, permission)
            if permission not in KNOWN_PERMISSIONS:
                self.report(
                    permission_path,
                    _unknown("repository permission", permission, sorted(KNOWN_PERMISSIONS)),
                    key_node.line,
                )
                valid = False
                continue
            level = self.string(value, permission_path)
            if level is None:
                valid = False
            elif level not in PERMISSION_LEVELS:
                self.report(permission_path, f"must be read or write, not {_excerpt(level)}", value.line)
                valid = False
            elif level == "write" and not self.allow_write:
                self.report(
                    permission_path,
                    "write is refused: this workspace allows read-only tokens"
                    " (an administrator can allow write tokens)",
                    value.line,
                )
                valid = False
            else:
                permissions[permission] = level
        return permissions if valid and len(permissions) == len(node.pairs) else None


def _is_boolean_claim(claim: str) -> bool:
    return claim in BOOLEAN_CLAIMS or claim.startswith("repo_property_")


def _unknown(what: str, name: str, choices: Sequence[str]) -> str:
    message = f"unknown {what} {_excerpt(name)}"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.75) if len(name) <= 80 else []
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


def parse_policy(source: bytes | str, *, name: str, allow_write: bool) -> TrustPolicy:
    """Parse and validate a policy file named `<name>.yaml`; raises PolicyInvalid with every problem found."""
    if not is_valid_policy_name(name):
        raise InvalidPolicyName(name)
    problems = _Problems()
    text = _decode(source, problems)
    problems.raise_if_any()
    assert text is not None
    root = _compose(text, problems)
    problems.raise_if_any()
    policy = _Validator(problems, name=name, allow_write=allow_write).policy(root)
    problems.raise_if_any()
    assert policy is not None
    return policy


@functools.lru_cache(maxsize=512)
def parse_policy_bytes(source: bytes, *, name: str, allow_write: bool) -> TrustPolicy:
    """`parse_policy` remembered by content: the mint sees the same few files again and again, and a
    policy is immutable once parsed. Invalid files are not remembered (an exception is not cached)."""
    return parse_policy(source, name=name, allow_write=allow_write)


# --- the JSON Schema ------------------------------------------------------------------------


def trust_policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy, built from the validator's own tables.

    What it cannot express is checked by the validator only: RE2 syntax of a regex, metadata.name
    against the file name, the workspace's write switch, duplicate keys, YAML features (anchors,
    tags, several documents), size and nesting limits, and YAML 1.1 readings of plain scalars
    (`yes`, `on` are booleans to PyYAML but strings to a YAML 1.2 editor).
    """
    glob = {
        "type": "string",
        "maxLength": MAX_GLOB_LENGTH,
        "description": "A glob against the whole claim value: * is any run of characters (including / and :), "
        "? is exactly one character, everything else is literal. Case-sensitive.",
    }
    regex = {
        "type": "object",
        "additionalProperties": False,
        "required": ["regex"],
        "properties": {
            "regex": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_REGEX_LENGTH,
                "description": "An RE2 regular expression matched against the whole value, as ^(?:pattern)$.",
            }
        },
    }
    alternative = {"anyOf": [{"$ref": "#/$defs/glob"}, {"$ref": "#/$defs/regex"}]}
    boolean_alternative = {"anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/glob"}, {"$ref": "#/$defs/regex"}]}
    condition = {
        "anyOf": [
            {"$ref": "#/$defs/alternative"},
            {"type": "array", "minItems": 1, "maxItems": MAX_ALTERNATIVES, "items": {"$ref": "#/$defs/alternative"}},
        ]
    }
    boolean_condition = {
        "anyOf": [
            {"$ref": "#/$defs/booleanAlternative"},
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ALTERNATIVES,
                "items": {"$ref": "#/$defs/booleanAlternative"},
            },
        ]
    }
    claim_properties = {
        claim: {"$ref": "#/$defs/booleanCondition" if claim in BOOLEAN_CLAIMS else "#/$defs/condition"}
        for claim in sorted(KNOWN_CLAIMS)
    }
    match = {
        "type": "object",
        "minProperties": 1,
        "description": "Claim names of the caller's GitHub Actions OIDC token to conditions; all must hold."
        ' Match every caller explicitly with { subject: "*" }.',
        "properties": claim_properties,
        "patternProperties": {f"^{REPO_PROPERTY_CLAIM_PATTERN}$": {"$ref": "#/$defs/booleanCondition"}},
        "additionalProperties": False,
        # `sub` and `subject` are one claim: a rule names it once.
        "not": {"required": ["sub", SUBJECT_ALIAS]},
    }
    permissions = {
        "type": "object",
        "minProperties": 1,
        "description": "GitHub App repository permissions; without this key a rule grants contents: read.",
        "properties": {permission: {"enum": list(PERMISSION_LEVELS)} for permission in sorted(KNOWN_PERMISSIONS)},
        "additionalProperties": False,
    }
    rule = {
        "type": "object",
        "additionalProperties": False,
        "required": ["match"],
        "properties": {"match": {"$ref": "#/$defs/match"}, "permissions": {"$ref": "#/$defs/permissions"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Atmos Pro STS trust policy (atmos-pro.com/v1alpha1)",
        "description": f"A file {POLICY_DIRECTORY}/<name>{POLICY_SUFFIX} on the default branch of a source repository.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": f"^{POLICY_NAME_PATTERN}$",
                        "description": "Must equal the file name without .yaml.",
                    }
                },
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rules"],
                "properties": {
                    "rules": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_RULES,
                        "description": "Tried in order; the first rule whose match holds decides.",
                        "items": {"$ref": "#/$defs/rule"},
                    }
                },
            },
        },
        "$defs": {
            "rule": rule,
            "match": match,
            "permissions": permissions,
            "condition": condition,
            "booleanCondition": boolean_condition,
            "alternative": alternative,
            "booleanAlternative": boolean_alternative,
            "glob": glob,
            "regex": regex,
        },
    }
