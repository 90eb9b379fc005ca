"""Why a requested source was not minted: the one vocabulary of `excluded[].reason`.

The first five are the wire contract's; the others are ours, for cases none of those fits (the
Atmos CLI logs any reason as it is). Every layer that can exclude a source speaks this enumeration.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    NOT_INSTALLED = "not_installed_in_workspace"
    SUSPENDED = "installation_suspended"
    NO_POLICY = "no_trust_policy"
    POLICY_INVALID = "trust_policy_invalid"
    POLICY_DENIED = "trust_policy_denied"
    INVALID_NAME = "invalid_source_name"
    PERMISSIONS_NOT_INSTALLED = "permissions_not_granted_to_installation"
    GITHUB_UNAVAILABLE = "github_unavailable"
    GITHUB_RATE_LIMITED = "github_rate_limited"
