"""Reading a policy file as YAML, safely: a small tree of our own built from the parser's events.

A policy file is untrusted input written by anyone with push access to a source repository, so the
reader fails fast: the size is checked on bytes before any parsing, the file must be UTF-8, and YAML
is read as a stream of events (libyaml when available). Anchors, aliases, tags, merge keys, several
documents, deep nesting and more values than a policy needs are refused while the events arrive, so a
"billion laughs" file, 10 000 nested brackets or 30 000 one-letter list items stop within a few
thousand events, never by a RecursionError, an expansion or a walk over the whole file.
"""

from __future__ import annotations

import re
from typing import Literal

import yaml

from sts.policy.errors import Problems, excerpt
from sts.policy.vocabulary import FILE_PATH, MAX_NESTING_DEPTH, MAX_POLICY_BYTES, MAX_YAML_VALUES

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
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_$#-]{1,80}")

NodeKind = Literal["mapping", "sequence", "scalar"]


class Node:
    """A YAML node of our own tree: a scalar keeps its text and whether it was plain (unquoted)."""

    __slots__ = ("items", "kind", "line", "pairs", "plain", "text")

    def __init__(self, kind: NodeKind, line: int, *, text: str = "", plain: bool = False) -> None:
        self.kind = kind
        self.line = line
        self.text = text
        self.plain = plain
        self.items: list[Node] = []
        self.pairs: list[tuple[Node, Node]] = []

    def scalar_type(self) -> str:
        """`string`, `boolean`, `number`, `null`, `timestamp`, ... as YAML 1.1 (PyYAML) reads the scalar."""
        if not self.plain:
            return "string"
        tag = _RESOLVER.resolve(yaml.ScalarNode, self.text, (True, False))
        return _YAML_TYPES.get(tag, "special value")


def join_path(path: str, key: str) -> str:
    """The place of `key` inside `path`: `spec.rules`, or `match["a key"]` for a key that needs quoting."""
    if _SIMPLE_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{excerpt(key)}]"


class _Frame:
    __slots__ = ("key", "node", "path")

    def __init__(self, node: Node, path: str) -> None:
        self.node = node
        self.path = path
        self.key: Node | None = None

    def child_path(self) -> str:
        if self.node.kind == "sequence":
            return f"{self.path}[{len(self.node.items)}]"
        if self.key is None:
            return self.path
        return join_path(self.path, self.key.text if self.key.kind == "scalar" else "?")

    def attach(self, node: Node) -> None:
        if self.node.kind == "sequence":
            self.node.items.append(node)
        elif self.key is None:
            self.key = node
        else:
            self.node.pairs.append((self.key, node))
            self.key = None


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def decode(source: bytes | str, problems: Problems) -> str | None:
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


def compose(text: str, problems: Problems) -> Node | None:
    """Build our tree from YAML events, refusing every YAML feature a policy does not need."""
    root: Node | None = None
    stack: list[_Frame] = []
    documents = 0
    values = 0

    def place() -> str:
        return stack[-1].child_path() if stack else ""

    def attach(node: Node) -> None:
        nonlocal root
        if stack:
            stack[-1].attach(node)
        else:
            root = node

    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            # Dispatch on the exact class: this loop runs once per event, so it is kept lean.
            kind = type(event)
            if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                line = event.start_mark.line + 1
                values += 1
                if values > MAX_YAML_VALUES:
                    problems.add(
                        place(),
                        f"the file holds more than {MAX_YAML_VALUES} YAML values (limit: values per policy);"
                        " a policy needs far fewer",
                        line,
                    )
                    break
                if event.anchor is not None:
                    problems.add(place(), "anchors (&name) are not allowed in a policy", line)
                if event.tag is not None:
                    problems.add(place(), "tags (!name, !!type) are not allowed in a policy", line)
                if kind is yaml.ScalarEvent:
                    node = Node("scalar", line, text=event.value, plain=bool(event.implicit[0]))
                    frame = stack[-1] if stack else None
                    in_key = frame is not None and frame.node.kind == "mapping" and frame.key is None
                    if in_key and node.plain and node.text == "<<":
                        problems.add(place(), "merge keys (<<) are not allowed in a policy", line)
                    attach(node)
                else:
                    if len(stack) >= MAX_NESTING_DEPTH:
                        problems.add(place(), f"nested more than {MAX_NESTING_DEPTH} levels deep", line)
                        break
                    node = Node("mapping" if kind is yaml.MappingStartEvent else "sequence", line)
                    path = place()
                    attach(node)
                    stack.append(_Frame(node, path))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
            elif kind is yaml.AliasEvent:
                line = event.start_mark.line + 1
                problems.add(place(), "aliases (*name) are not allowed in a policy", line)
                attach(Node("scalar", line, text="", plain=True))
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    line = event.start_mark.line + 1
                    problems.add(FILE_PATH, "a policy file holds exactly one YAML document; remove the second", line)
                    break
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
