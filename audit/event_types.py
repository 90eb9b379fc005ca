"""The names of the audit log's request events, and the one table that reads the names stored before them.

An exchange, a mint and a revocation are stored under a `pro.atmos.<category>.<action>` type that also
says how the request ended (`…_success` / `…_failure`, `token_minted` / `mint_denied`). Rows written
before these names hold `oidc.exchange`, `sts.mint` and `sts.revoke`; they are never rewritten (the
database refuses updates, and each row's hash covers its type), so they are read through `OPERATIONS`:
a legacy row's type is the name its outcome gives it, and a search for a name finds the legacy rows
that mean the same. The model's choices, the search language, the pages, the exports and the
CloudEvents envelope all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass

OIDC_TOKEN_EXCHANGE_SUCCESS = "pro.atmos.auth.oidc_token_exchange_success"
OIDC_TOKEN_EXCHANGE_FAILURE = "pro.atmos.auth.oidc_token_exchange_failure"
TOKEN_MINTED = "pro.atmos.sts.token_minted"
MINT_DENIED = "pro.atmos.sts.mint_denied"
TOKEN_REVOKED = "pro.atmos.sts.token_revoked"

LEGACY_OIDC_EXCHANGE = "oidc.exchange"
LEGACY_STS_MINT = "sts.mint"
LEGACY_STS_REVOKE = "sts.revoke"


@dataclass(frozen=True)
class Operation:
    """A request of the API whose event type depends on how it ended: `succeeded` when its outcome is
    `allowed`, else `failed` (the same name when the type does not say). `legacy` is the one name its
    events were stored under before, whatever the outcome."""

    legacy: str
    succeeded: str
    failed: str

    def type_for(self, *, allowed: bool) -> str:
        return self.succeeded if allowed else self.failed

    @property
    def actions(self) -> tuple[str, ...]:
        """Every stored value an event of this operation may hold."""
        return tuple(dict.fromkeys((self.succeeded, self.failed, self.legacy)))


EXCHANGE = Operation(LEGACY_OIDC_EXCHANGE, OIDC_TOKEN_EXCHANGE_SUCCESS, OIDC_TOKEN_EXCHANGE_FAILURE)
# A mint that issued at least one token is allowed; every refused or failed one is `mint_denied`.
MINT = Operation(LEGACY_STS_MINT, TOKEN_MINTED, MINT_DENIED)
# A revocation request, whatever its outcome (the outcome column says which).
REVOKE = Operation(LEGACY_STS_REVOKE, TOKEN_REVOKED, TOKEN_REVOKED)
OPERATIONS = (EXCHANGE, MINT, REVOKE)
_BY_LEGACY = {operation.legacy: operation for operation in OPERATIONS}


def event_type(action: str, *, allowed: bool) -> str:
    """The `pro.atmos.*` name of a stored action: itself, or for a legacy value the name its outcome gives it."""
    operation = _BY_LEGACY.get(action)
    return operation.type_for(allowed=allowed) if operation is not None else action


def is_legacy(action: str) -> bool:
    return action in _BY_LEGACY


def stored_forms(name: str) -> tuple[tuple[str, bool | None], ...]:
    """The stored (action, allowed) pairs whose rows a search for `name` means; `None` means any outcome.

    A new name also finds the legacy rows that mean the same (`token_minted`: the allowed `sts.mint`
    rows); a legacy name finds every event of its operation, under either name."""
    legacy = _BY_LEGACY.get(name)
    if legacy is not None:
        return tuple((action, None) for action in legacy.actions)
    for operation in OPERATIONS:
        if name == operation.succeeded == operation.failed:
            return ((name, None), (operation.legacy, None))
        if name == operation.succeeded:
            return ((name, None), (operation.legacy, True))
        if name == operation.failed:
            return ((name, None), (operation.legacy, False))
    return ((name, None),)
