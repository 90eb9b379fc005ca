"""Validation of a policy file into a TrustPolicy: every problem reported with its place, all at once.

`parse_policy` is the one entry point (the mint through the parse cache, `sts_lint`, the tests):
bytes or text in, a TrustPolicy or a PolicyInvalid listing up to MAX_PROBLEMS problems out. The keys
of each object and every limit come from `vocabulary`, which the JSON Schema is generated from too.
What only this module checks: RE2 syntax, metadata.name against the file name, the workspace's write
switch, duplicate keys, YAML 1.1 readings of plain scalars, and the budget of work a file may cause.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator, Sequence

import re2

from sts.claims import KNOWN_CLAIMS, SUBJECT_ALIAS, is_boolean_claim, is_known_claim
from sts.policy.budget import Budget, OverBudget, ProgramTooLarge
from sts.policy.errors import InvalidPolicyName, Problems, excerpt
from sts.policy.matchers import Glob, Matcher, Regex, glob_needs_program
from sts.policy.model import Condition, Rule, TrustPolicy
from sts.policy.names import is_valid_policy_name
from sts.policy.safe_yaml import Node, compose, decode, join_path
from sts.policy.vocabulary import (
    API_VERSION,
    DEFAULT_PERMISSIONS,
    KIND,
    KNOWN_PERMISSIONS,
    MAX_ALTERNATIVES,
    MAX_GLOB_LENGTH,
    MAX_REGEX_LENGTH,
    MAX_RULES,
    METADATA_KEYS,
    MIN_RULES,
    PERMISSION_LEVELS,
    POLICY_KEYS,
    POLICY_SUFFIX,
    REGEX_KEYS,
    RULE_KEYS,
    SPEC_KEYS,
    Keys,
)

# What a parsed policy holds, as the parse cache charges it: the RE2 grants of its programs (an upper
# bound of what RE2 allocates for them, DFA caches included), a share per condition (its matcher,
# condition and strings) and a share per byte of the file (rules, permissions, long texts).
# bench/bench_policy.py prints this estimate beside the memory measured on the worst files.
POLICY_OVERHEAD_BYTES = 4 * 1024
CONDITION_BYTES = 256
SOURCE_BYTES_FACTOR = 4


class _Validator:
    def __init__(self, problems: Problems, *, name: str, allow_write: bool) -> None:
        self.problems = problems
        self.name = name
        self.allow_write = allow_write
        self.budget = Budget()
        # The same pattern written twice in a file is compiled once.
        self.matchers: dict[tuple[str, str], Matcher] = {}
        self.over_budget = False

    def report(self, path: str, message: str, line: int | None) -> None:
        self.problems.add(path, message, line)

    def report_unknown(
        self, path: str, what: str, name: str, choices: Sequence[str], line: int | None, *, hint: str = ""
    ) -> None:
        # The suggestion costs a fuzzy search: skipped once no further problem would be listed.
        self.report(path, "" if self.problems.full else _unknown(what, name, choices) + hint, line)

    def fields(self, node: Node, path: str, keys: Keys) -> dict[str, Node] | None:
        """The values of a mapping with a fixed set of keys; unknown, duplicate and missing keys are problems."""
        if node.kind != "mapping":
            self.report(path, "must be a mapping", node.line)
            return None
        allowed = keys.allowed
        found: dict[str, Node] = {}
        for key, key_node, value in self.keys(node, path):
            if key not in allowed:
                self.report_unknown(join_path(path, key), "key", key, allowed, key_node.line)
            else:
                found[key] = value
        for key in keys.required:
            if key not in found:
                self.report(join_path(path, key), "is required", node.line)
        return found

    def keys(self, node: Node, path: str) -> Iterator[tuple[str, Node, Node]]:
        """The string keys of a mapping, once each, with key and value nodes; bad and duplicate keys are reported."""
        seen: set[str] = set()
        for key, value in node.pairs:
            if key.kind != "scalar" or key.scalar_type() not in {"string", "boolean", "number", "null"}:
                self.report(path, "mapping keys must be plain strings", key.line)
                continue
            if key.text in seen:
                self.report(join_path(path, key.text), "duplicate key: a key may appear only once", key.line)
                continue
            seen.add(key.text)
            yield key.text, key, value

    def string(self, node: Node, path: str) -> str | None:
        if node.kind != "scalar":
            self.report(path, "must be a string", node.line)
            return None
        kind = node.scalar_type()
        if kind == "null":
            self.report(path, "must be a string, not empty (null)", node.line)
            return None
        if kind == "boolean":
            self.report(path, f"must be a string; YAML reads {excerpt(node.text)} as a boolean: quote it", node.line)
            return None
        if kind != "string":
            self.report(path, f"must be a string; YAML reads {excerpt(node.text)} as a {kind}: quote it", node.line)
            return None
        try:
            node.text.encode("utf-8")
        except UnicodeEncodeError:
            self.report(path, "must be valid text (a lone surrogate escape is not)", node.line)
            return None
        return node.text

    def policy(self, root: Node | None) -> tuple[Rule, ...] | None:
        if root is None:
            return None
        top = self.fields(root, "", POLICY_KEYS)
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
            spec = self.fields(top["spec"], "spec", SPEC_KEYS)
            if spec and "rules" in spec:
                rules = self.rules(spec["rules"], "spec.rules")
        return rules

    def constant(self, node: Node, path: str, expected: str) -> None:
        value = self.string(node, path)
        if value is not None and value != expected:
            self.report(path, f"must be {expected!r}, not {excerpt(value)}", node.line)

    def metadata(self, node: Node) -> None:
        metadata = self.fields(node, "metadata", METADATA_KEYS)
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

    def rules(self, node: Node, path: str) -> tuple[Rule, ...]:
        if node.kind != "sequence":
            self.report(path, "must be a list of rules", node.line)
            return ()
        if len(node.items) < MIN_RULES:
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

    def rule(self, node: Node, path: str, index: int) -> Rule | None:
        rule = self.fields(node, path, RULE_KEYS)
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

    def match(self, node: Node, path: str) -> tuple[Condition, ...] | None:
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
            claim_path = join_path(path, claim)
            if not is_known_claim(claim):
                self.report_unknown(
                    claim_path,
                    "claim name",
                    claim,
                    sorted(KNOWN_CLAIMS),
                    key_node.line,
                    hint=" (GitHub does not issue it, so the condition could never hold;"
                    " custom properties are repo_property_<name>)",
                )
                valid = False
                continue
            alternatives = self.condition(value, claim_path, boolean=is_boolean_claim(claim))
            if alternatives is None:
                valid = False
            else:
                # Interned: a claim name written in every rule is kept once by the cached policy.
                conditions.append(Condition(sys.intern(claim), alternatives, value.line))
        return tuple(conditions) if valid and len(conditions) == len(node.pairs) else None

    def condition(self, node: Node, path: str, *, boolean: bool) -> tuple[Matcher, ...] | None:
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

    def alternative(self, node: Node, path: str, *, boolean: bool) -> Matcher | None:
        if node.kind == "mapping":
            fields = self.fields(node, path, REGEX_KEYS)
            if not fields or "regex" not in fields:
                return None
            return self.regex(fields["regex"], f"{path}.regex")
        if boolean and node.kind == "scalar" and node.scalar_type() == "boolean":
            if node.text.lower() not in {"true", "false"}:
                self.report(path, f"write true or false, not {excerpt(node.text)}", node.line)
                return None
            return self.matcher("glob", node.text.lower(), node, path)
        glob = self.string(node, path)
        if glob is None:
            return None
        if len(glob) > MAX_GLOB_LENGTH:
            self.report(path, f"a glob may be at most {MAX_GLOB_LENGTH} characters", node.line)
            return None
        return self.matcher("glob", glob, node, path)

    def regex(self, node: Node, path: str) -> Matcher | None:
        source = self.string(node, path)
        if source is None:
            return None
        if not source:
            self.report(path, "must not be empty", node.line)
            return None
        if len(source) > MAX_REGEX_LENGTH:
            self.report(path, f"a regex may be at most {MAX_REGEX_LENGTH} characters", node.line)
            return None
        return self.matcher("regex", source, node, path)

    def matcher(self, kind: str, source: str, node: Node, path: str) -> Matcher | None:
        """The matcher of one condition, within the file's budget; once a limit is crossed nothing more compiles."""
        if self.over_budget:
            return None
        try:
            self.budget.count_condition()
            known = self.matchers.get((kind, source))
            if known is not None:
                return known
            if kind == "regex" or glob_needs_program(source):
                self.budget.count_program(source)
            matcher: Matcher = (
                Regex(source, budget=self.budget) if kind == "regex" else Glob(source, budget=self.budget)
            )
        except OverBudget as error:
            self.over_budget = True
            self.report(path, str(error), node.line)
            return None
        except ProgramTooLarge as error:
            self.report(path, str(error), node.line)
            return None
        except re2.error as error:
            reason = error.args[0] if error.args else "invalid"
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            self.report(path, f"is not a valid RE2 regular expression: {str(reason)[:120]}", node.line)
            return None
        self.matchers[(kind, source)] = matcher
        return matcher

    def permissions(self, node: Node, path: str) -> dict[str, str] | None:
        if node.kind != "mapping" or not node.pairs:
            self.report(path, "must be a non-empty mapping of permission names to read or write", node.line)
            return None
        permissions: dict[str, str] = {}
        valid = True
        for permission, key_node, value in self.keys(node, path):
            permission_path = join_path(path, permission)
            if permission not in KNOWN_PERMISSIONS:
                self.report_unknown(
                    permission_path, "repository permission", permission, sorted(KNOWN_PERMISSIONS), key_node.line
                )
                valid = False
                continue
            level = self.string(value, permission_path)
            if level is None:
                valid = False
            elif level not in PERMISSION_LEVELS:
                self.report(permission_path, f"must be read or write, not {excerpt(level)}", value.line)
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
                permissions[sys.intern(permission)] = sys.intern(level)
        return permissions if valid and len(permissions) == len(node.pairs) else None

    def retained_bytes(self, source_length: int) -> int:
        return (
            POLICY_OVERHEAD_BYTES
            + self.budget.memory_held
            + CONDITION_BYTES * self.budget.conditions
            + SOURCE_BYTES_FACTOR * source_length
        )


def _unknown(what: str, name: str, choices: Sequence[str]) -> str:
    message = f"unknown {what} {excerpt(name)}"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.75) if len(name) <= 80 else []
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


def parse_policy(source: bytes | str, *, name: str, allow_write: bool) -> TrustPolicy:
    """Parse and validate a policy file named `<name>.yaml`; raises PolicyInvalid with every problem found."""
    if not is_valid_policy_name(name):
        raise InvalidPolicyName(name)
    problems = Problems()
    text = decode(source, problems)
    problems.raise_if_any()
    assert text is not None
    root = compose(text, problems)
    problems.raise_if_any()
    validator = _Validator(problems, name=name, allow_write=allow_write)
    rules = validator.policy(root)
    problems.raise_if_any()
    assert rules is not None
    return TrustPolicy(name, rules, validator.retained_bytes(len(text)))
