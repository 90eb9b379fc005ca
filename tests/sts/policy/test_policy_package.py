"""The policy language as a package: one idea per module, imports that run one way, one claim list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sts.policy
from sts.policy.schema import _object
from sts.policy.vocabulary import RULE_KEYS

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "sts" / "policy"


def imported_modules(path: Path) -> set[str]:
    """The `sts...` modules a file imports (`from sts.policy import x` counts as `sts.policy`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sts"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("sts"))
    return found


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    graph = {
        f"sts.policy.{path.stem}": {name for name in imported_modules(path) if name.startswith("sts.policy.")}
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for following in graph.get(start, set()):
            if following == goal or (following not in seen and reaches(following, goal, seen | {following})):
                return True
        return False

    assert [module for module in graph if reaches(module, module, set())] == []


def test_no_module_of_the_package_imports_the_package_itself() -> None:
    # Importing the package's public surface from inside it would make its order of imports matter.
    for path in PACKAGE.glob("*.py"):
        if path.stem != "__init__":
            assert "sts.policy" not in imported_modules(path), path.name


@pytest.mark.parametrize(
    "path", sorted([*PACKAGE.glob("*.py"), ROOT / "sts" / "claims.py"]), ids=lambda path: path.name
)
def test_each_module_is_one_idea_of_a_readable_size(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 500


def test_the_oidc_verifier_takes_the_claim_list_from_its_own_module() -> None:
    imports = imported_modules(ROOT / "sts" / "oidc.py")

    assert "sts.claims" in imports
    assert not any(name == "sts.policy" or name.startswith("sts.policy.") for name in imports)


def test_the_package_offers_what_the_mint_and_the_policy_store_call() -> None:
    for name in ("PolicyInvalid", "is_valid_policy_name", "parse_policy_bytes", "MAX_POLICY_BYTES", "policy_path"):
        assert name in sts.policy.__all__
        assert hasattr(sts.policy, name)


def test_the_schema_refuses_to_describe_an_object_whose_keys_differ_from_the_language() -> None:
    with pytest.raises(ValueError, match="permissions"):
        _object(RULE_KEYS, {"match": {}})


LAYERS = [
    "vocabulary",
    "errors",
    "names",
    "safe_yaml",
    "budget",
    "matchers",
    "model",
    "validator",
    "parse_cache",
    "schema",
]


def test_the_package_has_exactly_the_modules_its_layers_name() -> None:
    assert sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__") == sorted(LAYERS)


@pytest.mark.parametrize("module", LAYERS)
def test_each_module_imports_only_modules_of_lower_layers(module: str) -> None:
    lower = {f"sts.policy.{name}" for name in LAYERS[: LAYERS.index(module)]}
    imports = {name for name in imported_modules(PACKAGE / f"{module}.py") if name.startswith("sts.policy.")}

    assert imports <= lower
