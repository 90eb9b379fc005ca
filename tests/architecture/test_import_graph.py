"""The import reader behind test_layers, on small trees written for each case: it must see what a
module really imports, wherever the import stands, or the layer tests would pass by not looking."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.import_graph import (
    ImportGraph,
    Rule,
    describe_cycles,
    import_cycles,
    import_graph,
    layer_violations,
    long_modules,
)


def _tree(root: Path, files: dict[str, str]) -> ImportGraph:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(root=root, packages=sorted({name.split("/")[0] for name in files}))


def _edges(graph: ImportGraph) -> set[tuple[str, str]]:
    return {(found.importer, found.imported) for found in graph.internal()}


def test_a_circle_closed_inside_a_function_is_reported_with_where_it_closes(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/server.py": "from pkg.control import handle\n",
            "pkg/control.py": "def handle():\n    from pkg.server import Reply\n    return Reply\n",
        },
    )
    [circles] = import_cycles(graph)
    assert describe_cycles(circles) == (
        "import circle between pkg.control, pkg.server:\n"
        "  pkg.control → pkg.server (pkg/control.py:2, inside a function) → pkg.control (pkg/server.py:1)"
    )


def test_a_circle_through_an_async_function_and_a_method_is_reported(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "async def go():\n    import pkg.b\n",
            "pkg/b.py": "class B:\n    def run(self):\n        from pkg import a\n",
        },
    )
    assert [sorted({step.importer for circle in group for step in circle}) for group in import_cycles(graph)] == [
        ["pkg.a", "pkg.b"]
    ]


def test_every_circle_of_a_group_is_shown(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\nimport pkg.c\n",
            "pkg/b.py": "import pkg.a\n",
            "pkg/c.py": "def f():\n    import pkg.a\n",
        },
    )
    [circles] = import_cycles(graph)
    assert sorted([(step.importer, step.imported) for step in circle] for circle in circles) == [
        [("pkg.a", "pkg.b"), ("pkg.b", "pkg.a")],
        [("pkg.c", "pkg.a"), ("pkg.a", "pkg.c")],
    ]


def test_modules_that_import_one_way_make_no_circle(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "from pkg.b import B\nA = B\n",
            "pkg/b.py": "import os\nB = os.sep\n",
        },
    )
    assert _edges(graph) == {("pkg", "pkg.a"), ("pkg.a", "pkg.b")}
    assert import_cycles(graph) == []


def test_names_that_refer_to_each_other_only_when_type_checking_make_no_circle(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/client.py": "from pkg.memory import remember\n",
            "pkg/memory.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.client import Client\n",
        },
    )
    assert import_cycles(graph) == []
    [type_only] = [found for found in graph.internal() if found.type_only]
    assert (type_only.importer, type_only.imported, type_only.line) == ("pkg.memory", "pkg.client", 3)


def test_relative_imports_resolve_to_the_modules_they_name(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from . import a\n",
            "pkg/a.py": "from .b import thing\n",
            "pkg/b.py": "thing = 1\n",
            "pkg/sub/__init__.py": "from .. import b\n",
            "pkg/sub/c.py": "from ..a import x\nfrom . import d\nfrom .d import y\n",
            "pkg/sub/d.py": "y = 1\n",
        },
    )
    assert _edges(graph) == {
        ("pkg", "pkg.a"),
        ("pkg.a", "pkg.b"),
        ("pkg.sub", "pkg.b"),
        ("pkg.sub.c", "pkg.a"),
        ("pkg.sub.c", "pkg.sub.d"),
    }


def test_from_a_package_a_module_is_an_edge_to_it_and_a_name_an_edge_to_the_package(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "NAME = 1\n",
            "pkg/a.py": "",
            "other/__init__.py": "",
            "other/x.py": "from pkg import a, NAME\nimport pkg.a.missing\n",
        },
    )
    assert sorted(found.imported for found in graph.imports if found.importer == "other.x") == ["pkg", "pkg.a", "pkg.a"]


def test_a_literal_import_module_call_counts_as_an_import(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/loader.py": "import importlib\n\ndef load():\n    return importlib.import_module('high.config')\n",
            "high/__init__.py": "",
            "high/config.py": "",
        },
    )
    rule = Rule(frozenset({"low"}), frozenset({"high"}), "low lies below high")
    assert layer_violations(graph, [rule]) == [
        "low/loader.py:4, inside a function: low.loader imports high.config, but low lies below high"
    ]


def test_an_upward_import_is_found_wherever_it_stands(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/models.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from config.settings import X\n"
                "def f():\n"
                "    import config\n"
                "from config.missing import Y\n"
            ),
            "config/__init__.py": "",
            "config/settings.py": "import app.models\n",
        },
    )
    rule = Rule(frozenset({"app"}), frozenset({"config"}), "configuration is imported by nobody")
    assert layer_violations(graph, [rule]) == [
        "app/models.py:3, only when type checking: app.models imports config.settings, "
        "but configuration is imported by nobody",
        "app/models.py:5, inside a function: app.models imports config, but configuration is imported by nobody",
        "app/models.py:6: app.models imports config, but configuration is imported by nobody",
    ]


def test_a_downward_import_breaks_no_rule(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {"app/__init__.py": "import config\n", "config/__init__.py": ""})
    rule = Rule(frozenset({"config"}), frozenset({"app"}), "configuration lies above the apps")
    assert _edges(graph) == {("app", "config")}
    assert layer_violations(graph, [rule]) == []


def test_a_long_module_must_say_why_in_its_opening_docstring(tmp_path: Path) -> None:
    body = "x = 1\n" * 600
    graph = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/silent.py": body,
            "pkg/other_comment.py": '"""One idea, told at length."""\n' + body,
            "pkg/no_reason.py": '"""Longer than 500 lines because."""\n' + body,
            "pkg/later_string.py": 'import os\n"""Longer than 500 lines because the table is one idea."""\n' + body,
            "pkg/explained.py": '"""The table.\n\nLonger than 500 lines\nbecause the table is one idea."""\n' + body,
            "pkg/short.py": "x = 1\n" * 500,
        },
    )
    assert [line.split(" has ")[0] for line in long_modules(graph)] == [
        "pkg/later_string.py",
        "pkg/no_reason.py",
        "pkg/other_comment.py",
        "pkg/silent.py",
    ]
    assert long_modules(graph)[0] == (
        "pkg/later_string.py has 602 lines (more than 500) and its opening docstring does not say why "
        '("Longer than 500 lines because ...")'
    )
