"""A workspace whose caller (acme/app) may mint acme/modules, and the metrics as numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.factories import POLICY_PATH, SAMPLE_POLICY, Acme, acme_create, repository_create


@pytest.fixture
def acme(github_sim: Any, db: None) -> Acme:
    found = acme_create(github_sim)
    repository_create(
        sim=github_sim, installation=found.installation, full_name="acme/modules", files={POLICY_PATH: SAMPLE_POLICY}
    )
    repository_create(sim=github_sim, installation=found.installation, full_name="acme/no-policy", files={})
    return found


def metric(name: str, **labels: str) -> float:
    """The value of one sample of this process's registry (0 when it was never counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def delta() -> Callable[..., float]:
    """How much a sample grew since the test started."""
    start = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
    }

    def grew(name: str, **labels: str) -> float:
        return metric(name, **labels) - start.get((name, tuple(sorted(labels.items()))), 0.0)

    return grew


def label_values(name: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and label in sample.labels
    }
