"""The registry of features: one place that knows every key, its kind, its bounds and its default."""

from __future__ import annotations

from typing import Any

import pytest

from workspaces.entitlements import DEFAULT_PLANS, FEATURES, feature_named


def test_it_knows_the_features_the_product_sells() -> None:
    assert set(FEATURES) == {"sts", "write_tokens", "audit_retention_days", "audit_streaming", "max_sources_per_mint"}


def test_its_defaults_are_the_least_a_plan_gives() -> None:
    assert {key: feature.default for key, feature in FEATURES.items()} == {
        "sts": False,
        "write_tokens": False,
        "audit_retention_days": 7,
        "audit_streaming": False,
        "max_sources_per_mint": 100,
    }


def test_every_default_is_a_valid_value_of_its_feature() -> None:
    for feature in FEATURES.values():
        assert feature.problem(feature.default) is None, feature.key


def test_the_default_plans_hold_only_valid_values_of_known_features() -> None:
    for _, _, features in DEFAULT_PLANS:
        for key, value in features.items():
            assert feature_named(key).problem(value) is None, key


@pytest.mark.parametrize("value", [1, 0, "true", "yes", None, [], {}, 1.0])
def test_a_switch_takes_true_or_false_only(value: Any) -> None:
    assert feature_named("sts").problem(value) == "STS is a switch: its value is true or false."


@pytest.mark.parametrize("value", [True, False, "365", 365.0, None, [365], {"days": 365}])
def test_a_number_refuses_what_is_not_a_whole_number(value: Any) -> None:
    assert feature_named("audit_retention_days").problem(value) == "audit retention is a whole number from 1 to 3650."


@pytest.mark.parametrize("value", [0, -1, 3651, 10**100])
def test_a_number_refuses_values_outside_its_bounds(value: int) -> None:
    problem = feature_named("audit_retention_days").problem(value)
    assert problem == f"audit retention is a whole number from 1 to 3650, not {value}."


@pytest.mark.parametrize("value", [1, 365, 3650])
def test_a_number_takes_values_within_its_bounds(value: int) -> None:
    assert feature_named("audit_retention_days").problem(value) is None


def test_an_unknown_feature_is_a_bug_in_the_caller_not_a_refusal() -> None:
    with pytest.raises(ValueError, match=r"There is no feature 'gold'; known features: sts, write_tokens"):
        feature_named("gold")
