"""The mint's answer is written out for speed (`MintOutputSerializer.to_representation`); the schema
is made of the serializer's declared fields. Both must give the same JSON, for every kind of answer."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from sts.api.mint import MintOutputSerializer
from sts.mint import GrantedToken, MintResult
from sts.reasons import Reason
from sts.sources import Source

HOSTILE = "acme/\u202emodules\"'<script>\u0000"


def _excluded(requested: str, reason: Reason, full_name: str = "") -> Source:
    source = Source(requested=requested, full_name=full_name)
    source.exclude(reason)
    return source


def _token(owner: str, *repositories: str, **permissions: str) -> GrantedToken:
    return GrantedToken(
        host="github.com",
        owner=owner,
        token="ghs_" + owner,
        expires_at="2026-11-29T12:00:00Z",
        repositories=list(repositories),
        permissions=permissions or {"contents": "read"},
    )


RESULTS = {
    "nothing": MintResult(tokens=[], excluded=[]),
    "one token": MintResult(tokens=[_token("acme", "acme/modules")], excluded=[]),
    "tokens and exclusions": MintResult(
        tokens=[
            _token("acme", "acme/modules", "acme/legacy", contents="read", metadata="read"),
            _token("initech", "initech/modules"),
        ],
        excluded=[
            _excluded("Acme/Private", Reason.NO_POLICY, full_name="acme/private"),
            _excluded(HOSTILE, Reason.INVALID_NAME),
            *[_excluded(f"globex/r{index}", reason) for index, reason in enumerate(Reason)],
        ],
    ),
    "hostile names": MintResult(tokens=[_token(HOSTILE, HOSTILE)], excluded=[_excluded(HOSTILE, Reason.POLICY_DENIED)]),
}


@pytest.mark.parametrize("result", RESULTS.values(), ids=RESULTS.keys())
def test_the_written_out_answer_is_what_the_declared_fields_give(result: MintResult) -> None:
    declared: Any = serializers.Serializer.to_representation(MintOutputSerializer(), result)

    assert MintOutputSerializer(result).data == declared
    assert list(MintOutputSerializer(result).data) == list(declared)  # the same keys, in the same order
