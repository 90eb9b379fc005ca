"""Layers run one way, no modules import each other in a circle, and a long module says why.

Read from the source of every module of our packages (see import_graph), so a deferred import
inside a function counts as much as one at the top.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.import_graph import (
    ImportGraph,
    Rule,
    describe_cycles,
    import_cycles,
    import_graph,
    layer_violations,
    long_modules,
)

ROOT = Path(__file__).resolve().parents[2]
APPS = frozenset({"sts", "audit", "workspaces", "review"})
PRODUCTION = frozenset({"atmospro", "observability", "github_app", *APPS})
PACKAGES = PRODUCTION | {"githubsim"}
# Configuration on top (atmospro), the apps below it, then the GitHub client and the audit trail, and
# observability (metrics, log context) below them all.
# manage.py and the WSGI entry, which load the configuration, are outside these packages.
RULES = (
    Rule(
        PACKAGES - {"atmospro"},
        frozenset({"atmospro"}),
        "configuration (atmospro) is imported by nobody but itself, manage.py and the WSGI entry",
    ),
    Rule(frozenset({"github_app"}), APPS, "the GitHub client lies below every app"),
    Rule(
        frozenset({"observability"}),
        PACKAGES - {"observability"},
        "metrics and log context lie below everything, the GitHub client included",
    ),
    Rule(frozenset({"workspaces"}), frozenset({"sts"}), "the mint (sts) uses workspaces, never the reverse"),
    Rule(
        frozenset({"sts", "audit", "workspaces"}),
        frozenset({"review"}),
        "the audit pages (review) read the apps below them; only configuration routes to them",
    ),
    Rule(
        frozenset({"audit"}),
        frozenset({"sts", "workspaces", "review"}),
        "the audit trail lies below the apps that write it",
    ),
    Rule(
        frozenset({"githubsim"}),
        APPS | {"github_app"},
        "the simulator stands in for GitHub and shares no code with what it tests",
    ),
    Rule(PRODUCTION, frozenset({"githubsim"}), "production code never imports the test simulator"),
)


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return import_graph(root=ROOT, packages=sorted(PACKAGES))


def test_the_reader_sees_every_module_of_our_packages(graph: ImportGraph) -> None:
    on_disk = {path.relative_to(ROOT) for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    assert {module.path for module in graph.modules.values()} == on_disk
    assert {module.package for module in graph.modules.values()} == PACKAGES
    assert {(found.importer, found.imported) for found in graph.internal()} >= {
        ("atmospro.settings", "atmospro.env"),
        ("atmospro.urls", "sts.health"),
    }


def test_no_modules_import_each_other_in_a_circle(graph: ImportGraph) -> None:
    cycles = [describe_cycles(circles) for circles in import_cycles(graph)]
    if cycles:
        pytest.fail("\n".join(cycles), pytrace=False)


def test_layers_import_only_downward(graph: ImportGraph) -> None:
    violations = layer_violations(graph, RULES)
    if violations:
        pytest.fail("\n".join(violations), pytrace=False)


def test_no_module_is_longer_than_500_lines_without_saying_why(graph: ImportGraph) -> None:
    too_long = long_modules(graph)
    if too_long:
        pytest.fail("\n".join(too_long), pytrace=False)
