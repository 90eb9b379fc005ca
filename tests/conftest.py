from __future__ import annotations

import pytest
from django.core.cache import cache

pytest_plugins = ["githubsim.pytest_plugin"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()
