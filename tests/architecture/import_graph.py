"""The imports of our packages, read from their source (ast), never by importing them.

Every import statement counts, wherever it stands: at the top of a module, inside a function (an
import deferred into a function is how a circle is usually dodged, and is still a circle), under
``if TYPE_CHECKING:`` (a type from a higher layer is still an upward dependency), and a literal
``importlib.import_module("...")``. Only the circle check leaves out the ``TYPE_CHECKING`` imports:
they never run, and are Python's way for two modules to name each other's types.

An import of a package's module is an edge to that module only, not to the package's ``__init__``
that Python runs first: otherwise every package whose ``__init__`` re-exports one of its modules
would be a circle with that module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LONG_MODULE_LINES = 500
# What the opening docstring of a longer module says, followed by its reason.
LONG_MODULE_REASON = f"Longer than {LONG_MODULE_LINES} lines because"


@dataclass(frozen=True)
class Module:
    name: str
    path: Path  # relative to the root that was read
    lines: int
    docstring: str

    @property
    def package(self) -> str:
        return self.name.split(".")[0]


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # the longest module of ours the name reaches, or the name itself when not ours
    path: Path
    line: int
    deferred: bool = False  # inside a function
    type_only: bool = False  # under ``if TYPE_CHECKING:``

    @property
    def where(self) -> str:
        how = ", inside a function" if self.deferred else ", only when type checking" if self.type_only else ""
        return f"{self.path}:{self.line}{how}"


@dataclass
class ImportGraph:
    modules: dict[str, Module] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    def __repr__(self) -> str:  # what a failing test shows of its argument
        return f"ImportGraph({len(self.modules)} modules, {len(self.imports)} imports)"

    def internal(self) -> Iterator[Import]:
        """The imports from one of our modules to another (not to itself)."""
        return (i for i in self.imports if i.imported in self.modules and i.imported != i.importer)


def import_graph(*, root: Path, packages: Iterable[str]) -> ImportGraph:
    graph = ImportGraph()
    trees: dict[str, tuple[Path, ast.Module]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            parts = list(relative.with_suffix("").parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(relative))
            trees[name] = (relative, tree)
            lines = len(text.splitlines())
            graph.modules[name] = Module(name, relative, lines, ast.get_docstring(tree) or "")
    for name, (relative, tree) in trees.items():
        reader = _ImportReader(module=name, is_package=relative.name == "__init__.py", known=set(graph.modules))
        reader.visit(tree)
        graph.imports.extend(
            Import(name, imported, relative, line, deferred, type_only)
            for imported, line, deferred, type_only in reader.found
        )
    return graph


class _ImportReader(ast.NodeVisitor):
    def __init__(self, *, module: str, is_package: bool, known: set[str]) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.functions = 0
        self.type_checking = 0
        self.found: list[tuple[str, int, bool, bool]] = []

    def _add(self, dotted: str, line: int) -> None:
        self.found.append((self._resolve(dotted), line, self.functions > 0, self.type_checking > 0))

    def _resolve(self, dotted: str) -> str:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in self.known:
                return ".".join(parts[:end])
        return dotted

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.type_checking += 1
        for statement in node.body:
            self.visit(statement)
        self.type_checking -= 1
        for statement in node.orelse:
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        for alias in node.names:
            # ``from pkg import module`` imports the module; ``from module import name`` the module.
            submodule = f"{base}.{alias.name}" if base else alias.name
            self._add(submodule if submodule in self.known else base, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        argument = node.args[0] if node.args else None
        if name == "import_module" and isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            self._add(argument.value, node.lineno)
        self.generic_visit(node)

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.package.split(".") if self.package else []
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, node.module] if node.module else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_cycles(graph: ImportGraph) -> list[list[list[Import]]]:
    """For each group of modules that import each other (at run time), the shortest circle through
    each of its modules, each circle once: together they show every import that closes a circle."""
    edges: dict[str, dict[str, Import]] = {name: {} for name in graph.modules}
    for found in graph.internal():
        if not found.type_only:
            edges[found.importer].setdefault(found.imported, found)
    groups = []
    for component in sorted(_strongly_connected(edges), key=min):
        if len(component) > 1:
            circles: list[list[Import]] = []
            for start in sorted(component):
                circle = _shortest_cycle(start, edges, component)
                if not any(set(circle) == set(seen) for seen in circles):
                    circles.append(circle)
            groups.append(circles)
    return groups


def describe_cycles(circles: list[list[Import]]) -> str:
    members = sorted({step.importer for circle in circles for step in circle})
    lines = [f"import circle between {', '.join(members)}:"]
    for circle in circles:
        steps = " → ".join(f"{step.imported} ({step.where})" for step in circle)
        lines.append(f"  {circle[0].importer} → {steps}")
    return "\n".join(lines)


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the groups of modules each reachable from every other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _shortest_cycle(start: str, edges: dict[str, dict[str, Import]], component: set[str]) -> list[Import]:
    """Breadth first from ``start`` back to it, inside one group (which holds a circle through it)."""
    came_from: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor, found in sorted(edges[node].items()):
                if successor == start:
                    path = [found]
                    while path[0].importer != start:
                        path.insert(0, came_from[path[0].importer])
                    return path
                if successor in component and successor not in came_from:
                    came_from[successor] = found
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in a group of modules that import each other, yet no circle returns to it")


def long_modules(graph: ImportGraph) -> list[str]:
    """Modules over the limit whose opening docstring does not say why."""
    return [
        f"{module.path} has {module.lines} lines (more than {LONG_MODULE_LINES}) and its opening docstring "
        f'does not say why ("{LONG_MODULE_REASON} ...")'
        for module in sorted(graph.modules.values(), key=lambda module: module.name)
        if module.lines > LONG_MODULE_LINES and not _gives_a_reason(module.docstring)
    ]


def _gives_a_reason(docstring: str) -> bool:
    _, found, reason = " ".join(docstring.split()).partition(LONG_MODULE_REASON)
    return bool(found) and len(reason.split()) >= 3


@dataclass(frozen=True)
class Rule:
    """Modules of ``importers`` never import from ``forbidden``; ``why`` ends the failure message."""

    importers: frozenset[str]
    forbidden: frozenset[str]
    why: str


def layer_violations(graph: ImportGraph, rules: Iterable[Rule]) -> list[str]:
    rules = list(rules)
    return [
        f"{found.where}: {found.importer} imports {found.imported}, but {rule.why}"
        for found in graph.imports
        for rule in rules
        if graph.modules[found.importer].package in rule.importers and found.imported.split(".")[0] in rule.forbidden
    ]
