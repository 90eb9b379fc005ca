"""An unconfirmed revocation is visible in the admin as unconfirmed, never as done."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from sts.models import MintedToken

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db


def test_the_token_list_shows_each_revocation_state(client, world, session_for):
    acme = world.installation("acme")
    for name in ("acme/a", "acme/b", "acme/c"):
        world.source(name, acme, ADMITS_ACME_APP)
        mint(client, session_for(), {"sources": [name]})
    unconfirmed, confirmed, _active = MintedToken.objects.order_by("created_at", "pk")
    unconfirmed.revocation_attempted(confirmed=False)
    confirmed.revocation_attempted(confirmed=True)
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", password=None))

    page = client.get(reverse("admin:sts_mintedtoken_changelist")).content.decode()

    assert page.count(">unconfirmed<") == 1
    assert page.count(">revoked<") == 1
    assert page.count(">active<") == 1
