"""The JSON Schema (draft 2020-12) of a policy, generated from the vocabulary the validator reads.

Every key set, constant, claim, permission, level and limit below comes from `vocabulary`,
`names` or `sts.claims`; only the descriptions, written for editors, live here. `_object` refuses to
describe an object whose properties differ from its key set, so a key added to the language cannot
be forgotten here. What a schema cannot express is checked by the validator only: RE2 syntax of a
regex, metadata.name against the file name, the workspace's write switch, duplicate keys, YAML
features (anchors, tags, several documents), size, nesting and budget limits, and YAML 1.1 readings
of plain scalars (`yes`, `on` are booleans to PyYAML but strings to a YAML 1.2 editor).
"""

from __future__ import annotations

from typing import Any

from sts.claims import BOOLEAN_CLAIMS, KNOWN_CLAIMS, REPO_PROPERTY_CLAIM_PATTERN, SUBJECT_ALIAS
from sts.policy.names import POLICY_NAME_PATTERN
from sts.policy.vocabulary import (
    API_VERSION,
    KIND,
    KNOWN_PERMISSIONS,
    MAX_ALTERNATIVES,
    MAX_GLOB_LENGTH,
    MAX_REGEX_LENGTH,
    MAX_RULES,
    METADATA_KEYS,
    MIN_RULES,
    PERMISSION_LEVELS,
    POLICY_DIRECTORY,
    POLICY_KEYS,
    POLICY_SUFFIX,
    REGEX_KEYS,
    RULE_KEYS,
    SPEC_KEYS,
    Keys,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _object(keys: Keys, properties: dict[str, Any], **annotations: Any) -> dict[str, Any]:
    """A closed object of the language: exactly the keys of `keys`, the required ones required."""
    if set(properties) != set(keys.allowed):
        raise ValueError(f"the schema describes {sorted(properties)} but the language has {sorted(keys.allowed)}")
    return {
        **annotations,
        "type": "object",
        "additionalProperties": False,
        "required": list(keys.required),
        "properties": properties,
    }


def _one_or_list(alternative: str) -> dict[str, Any]:
    reference = {"$ref": f"#/$defs/{alternative}"}
    return {
        "anyOf": [
            reference,
            {"type": "array", "minItems": 1, "maxItems": MAX_ALTERNATIVES, "items": reference},
        ]
    }


def trust_policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of `atmos-pro.com/v1alpha1` trust policies, for editors and the schema view."""
    glob = {
        "type": "string",
        "maxLength": MAX_GLOB_LENGTH,
        "description": "A glob against the whole claim value: * is any run of characters (including / and :), "
        "? is exactly one character, everything else is literal. Case-sensitive.",
    }
    regex = _object(
        REGEX_KEYS,
        {
            "regex": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_REGEX_LENGTH,
                "description": "An RE2 regular expression matched against the whole value, as ^(?:pattern)$.",
            }
        },
    )
    alternative = {"anyOf": [{"$ref": "#/$defs/glob"}, {"$ref": "#/$defs/regex"}]}
    boolean_alternative = {"anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/glob"}, {"$ref": "#/$defs/regex"}]}
    claim_properties = {
        claim: {"$ref": "#/$defs/booleanCondition" if claim in BOOLEAN_CLAIMS else "#/$defs/condition"}
        for claim in sorted(KNOWN_CLAIMS)
    }
    match = {
        "type": "object",
        "minProperties": 1,
        "description": "Claim names of the caller's GitHub Actions OIDC token to conditions; all must hold."
        ' Match every caller explicitly with { subject: "*" }.',
        "properties": claim_properties,
        # Custom properties can be booleans (true_false), so they take boolean conditions.
        "patternProperties": {f"^{REPO_PROPERTY_CLAIM_PATTERN}$": {"$ref": "#/$defs/booleanCondition"}},
        "additionalProperties": False,
        # `sub` and `subject` are one claim: a rule names it once.
        "not": {"required": ["sub", SUBJECT_ALIAS]},
    }
    permissions = {
        "type": "object",
        "minProperties": 1,
        "description": "GitHub App repository permissions; without this key a rule grants contents: read.",
        "properties": {permission: {"enum": list(PERMISSION_LEVELS)} for permission in sorted(KNOWN_PERMISSIONS)},
        "additionalProperties": False,
    }
    rule = _object(RULE_KEYS, {"match": {"$ref": "#/$defs/match"}, "permissions": {"$ref": "#/$defs/permissions"}})
    metadata = _object(
        METADATA_KEYS,
        {
            "name": {
                "type": "string",
                "pattern": f"^{POLICY_NAME_PATTERN}$",
                "description": "Must equal the file name without .yaml.",
            }
        },
    )
    spec = _object(
        SPEC_KEYS,
        {
            "rules": {
                "type": "array",
                "minItems": MIN_RULES,
                "maxItems": MAX_RULES,
                "description": "Tried in order; the first rule whose match holds decides.",
                "items": {"$ref": "#/$defs/rule"},
            }
        },
    )
    top = _object(
        POLICY_KEYS,
        {"apiVersion": {"const": API_VERSION}, "kind": {"const": KIND}, "metadata": metadata, "spec": spec},
        title=f"Atmos Pro STS trust policy ({API_VERSION})",
        description=f"A file {POLICY_DIRECTORY}/<name>{POLICY_SUFFIX} on the default branch of a source repository.",
    )
    return {
        "$schema": SCHEMA_DIALECT,
        **top,
        "$defs": {
            "rule": rule,
            "match": match,
            "permissions": permissions,
            "condition": _one_or_list("alternative"),
            "booleanCondition": _one_or_list("booleanAlternative"),
            "alternative": alternative,
            "booleanAlternative": boolean_alternative,
            "glob": glob,
            "regex": regex,
        },
    }
