from __future__ import annotations

import pytest

from tests.workspaces.admin.tenants import Tenants, make_tenants


@pytest.fixture
def tenants(db: None) -> Tenants:
    return make_tenants()
