"""The exchange's and the mint's fixtures, for answers of every route checked against the description."""

from __future__ import annotations

from tests.sts.exchange.conftest import _private_cache, acme  # noqa: F401
from tests.sts.mint.conftest import minted, session_for, world  # noqa: F401
