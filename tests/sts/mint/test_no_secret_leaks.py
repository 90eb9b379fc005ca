"""After a run of mints, exchanges and revocations, no token value is in the database or the logs."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.core import serializers

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db


def test_no_token_is_stored_or_logged(client, world, session_for, caplog):
    caplog.set_level(logging.DEBUG)
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/b", acme, ADMITS_ACME_APP.replace("acme/app", "acme/nobody"))
    sessions = [session_for() for _ in range(3)]
    tokens = []
    for session in sessions:
        body = mint(client, session, {"sources": ["acme/a", "acme/b", "globex/z"]}).json()
        tokens += [token["token"] for token in body["data"]["tokens"]]
    world.sim.fault("access_tokens", kind="status", status=500, times=1)
    mint(client, sessions[0], {"sources": ["acme/a"]})
    client.post(
        "/api/v1/sts/revoke",
        data={"token": tokens[0]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {sessions[0]}",
    )
    assert len(tokens) == 3

    everything = serializers.serialize("json", [row for model in apps.get_models() for row in model.objects.all()])
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    for secret in tokens + sessions:
        assert secret not in everything
        assert secret not in logged
    assert world.sim.app_private_key_pem.splitlines()[1] not in everything + logged
