"""The trust-policy language `atmos-pro.com/v1alpha1`: parse, validate, evaluate, describe as a JSON Schema.

One home for the language (STYLE.md, "one home per concept"): the mint, the JSON Schema view and the
`sts_lint` command all use this package, so what an editor accepts, what lint accepts and what the
mint enforces cannot drift apart. The language itself is written down in the spec (trust-policy.md
in the project's shared specification).

One idea per module, each importing only those listed before it:
`vocabulary` (words and limits) · `errors` (Problem, PolicyInvalid) · `names` (policy names and
paths) · `safe_yaml` (the YAML reader) · `budget` (what a file may cost) · `matchers` (Glob, Regex)
· `model` (TrustPolicy and its Decision) · `validator` (parse_policy) · `parse_cache`
(parse_policy_bytes) · `schema` (the JSON Schema). The claims a rule may name live in `sts.claims`.

Below is the public surface for callers outside the package; code inside the repository may also
import a name from the module that owns it.
"""

from __future__ import annotations

from sts.policy.errors import InvalidPolicyName, PolicyInvalid, Problem
from sts.policy.model import Decision, TrustPolicy
from sts.policy.names import is_valid_policy_name, policy_path
from sts.policy.parse_cache import parse_policy_bytes
from sts.policy.schema import trust_policy_json_schema
from sts.policy.validator import parse_policy
from sts.policy.vocabulary import MAX_POLICY_BYTES

__all__ = [
    "MAX_POLICY_BYTES",
    "Decision",
    "InvalidPolicyName",
    "PolicyInvalid",
    "Problem",
    "TrustPolicy",
    "is_valid_policy_name",
    "parse_policy",
    "parse_policy_bytes",
    "policy_path",
    "trust_policy_json_schema",
]
