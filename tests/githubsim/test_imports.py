"""The simulator's modules import one way: ``simulator`` -> HTTP faces -> ``state`` / ``server_base``."""

from __future__ import annotations

import ast
from pathlib import Path

import githubsim

PACKAGE = Path(githubsim.__file__).parent


def _internal_imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("githubsim"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("githubsim"))
    return found


def _modules() -> dict[str, ast.Module]:
    return {
        f"githubsim.{path.stem}" if path.stem != "__init__" else "githubsim": ast.parse(path.read_text())
        for path in PACKAGE.glob("*.py")
    }


def test_no_module_of_the_simulator_imports_inside_a_function_or_a_type_checking_block() -> None:
    late = []
    for name, tree in _modules().items():
        top_level = {id(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
        late += [
            f"{name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top_level
        ]
    assert late == []


def test_the_simulator_modules_import_each_other_without_a_circle() -> None:
    graph = {name: _internal_imports(tree) - {name} for name, tree in _modules().items()}
    # The package's __init__ re-exports the simulator; only a module importing the package itself could loop.
    assert all("githubsim" not in imports for name, imports in graph.items() if name != "githubsim")
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in visiting, f"import circle: {' -> '.join([*path, name])}"
        if name in done:
            return
        visiting.add(name)
        for target in sorted(graph.get(name, ())):
            visit(target, [*path, name])
        visiting.discard(name)
        done.add(name)

    for module in sorted(graph):
        visit(module, [])
    assert {"githubsim.api", "githubsim.git_http"} <= graph["githubsim.simulator"]
    assert "githubsim.simulator" not in graph["githubsim.api"] | graph["githubsim.control"]
