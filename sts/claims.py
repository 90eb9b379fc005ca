"""The claims of a GitHub Actions OIDC token that this service knows by name: one list, read by both
the OIDC verifier (what a session carries) and the trust-policy language (what a rule may match on).

Claims as GitHub issues them (`claims_supported` of
https://token.actions.githubusercontent.com/.well-known/openid-configuration, and
https://docs.github.com/en/actions/reference/security/oidc#oidc-token-claims).
"""

from __future__ import annotations

import re

# `subject` is the policy language's alias of `sub`. Left out on purpose: `jti`, `iat`, `nbf` and
# `exp` change with every token, so a rule on them is always a mistake and is better caught as an
# unknown name; `aud` is always one of this server's own audiences.
KNOWN_CLAIMS: frozenset[str] = frozenset(
    {
        "sub",
        "subject",
        "iss",
        "actor",
        "actor_id",
        "base_ref",
        "check_run_id",
        "enterprise",
        "enterprise_id",
        "environment",
        "environment_node_id",
        "event_name",
        "head_ref",
        "issuer_scope",
        "job_workflow_ref",
        "job_workflow_sha",
        "ref",
        "ref_protected",
        "ref_type",
        "repository",
        "repository_id",
        "repository_owner",
        "repository_owner_id",
        "repository_visibility",
        "run_attempt",
        "run_id",
        "run_number",
        "runner_environment",
        "sha",
        "workflow",
        "workflow_ref",
        "workflow_sha",
    }
)
SUBJECT_ALIAS = "subject"

# Custom repository properties reach the token as `repo_property_<name>`:
# https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#including-repository-custom-properties-in-oidc-tokens
REPO_PROPERTY_PREFIX = "repo_property_"
REPO_PROPERTY_CLAIM_PATTERN = r"repo_property_[A-Za-z0-9_$#-]{1,75}"
_REPO_PROPERTY_CLAIM = re.compile(REPO_PROPERTY_CLAIM_PATTERN)

# Claims whose value is a boolean: a policy may write them as YAML `true` / `false`, and they
# compare as the strings "true" / "false" (a custom property of type true_false is one too).
BOOLEAN_CLAIMS: frozenset[str] = frozenset({"ref_protected"})


def is_known_claim(claim: str) -> bool:
    """A claim GitHub issues (or our `subject` alias), or a custom repository property."""
    return claim in KNOWN_CLAIMS or _REPO_PROPERTY_CLAIM.fullmatch(claim) is not None


def is_boolean_claim(claim: str) -> bool:
    return claim in BOOLEAN_CLAIMS or claim.startswith(REPO_PROPERTY_PREFIX)


def token_claim(claim: str) -> str:
    """The name the token itself uses: `subject` is written `sub` there."""
    return "sub" if claim == SUBJECT_ALIAS else claim
