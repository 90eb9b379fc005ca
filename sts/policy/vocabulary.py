"""The words and limits of the trust-policy language `atmos-pro.com/v1alpha1`.

Everything here is data that both the validator and the JSON Schema read, so that the two cannot
disagree: the constants of the file header, the keys of each object, the repository permissions and
their levels, and every limit. The claims a rule may match on live in `sts.claims`, shared with the
OIDC verifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

POLICY_DIRECTORY = ".atmos/pro/sts"
POLICY_SUFFIX = ".yaml"
API_VERSION = "atmos-pro.com/v1alpha1"
KIND = "TrustPolicy"

# The place of a problem that concerns the whole file rather than one value in it.
FILE_PATH = "(file)"


@dataclass(frozen=True)
class Keys:
    """The keys an object of the language holds: all of `required`, any of `optional`, nothing else."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


POLICY_KEYS = Keys(required=("apiVersion", "kind", "metadata", "spec"))
METADATA_KEYS = Keys(required=("name",))
SPEC_KEYS = Keys(required=("rules",))
RULE_KEYS = Keys(required=("match",), optional=("permissions",))
REGEX_KEYS = Keys(required=("regex",))

# Repository permissions an installation access token can carry ("Create an installation access
# token", body parameter `permissions`): https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
# Organization and user permissions are left out on purpose: a policy in one repository admits
# callers to that repository, it must not hand out organization-wide powers.
KNOWN_PERMISSIONS: frozenset[str] = frozenset(
    {
        "actions",
        "administration",
        "attestations",
        "checks",
        "codespaces",
        "contents",
        "dependabot_secrets",
        "deployments",
        "discussions",
        "environments",
        "issues",
        "merge_queues",
        "metadata",
        "packages",
        "pages",
        "pull_requests",
        "repository_custom_properties",
        "repository_hooks",
        "repository_projects",
        "secret_scanning_alerts",
        "secrets",
        "security_events",
        "single_file",
        "statuses",
        "vulnerability_alerts",
        "workflows",
    }
)
PERMISSION_LEVELS = ("read", "write")
DEFAULT_PERMISSIONS: Mapping[str, str] = {"contents": "read"}

# --- limits of the shape, which the JSON Schema states too ----------------------------------

MAX_POLICY_BYTES = 64 * 1024
MIN_RULES = 1
MAX_RULES = 100
MAX_ALTERNATIVES = 50
MAX_GLOB_LENGTH = 1024
MAX_REGEX_LENGTH = 1024

# --- limits of the work a file may cause, which only the validator can count -----------------
# A policy is written by anyone with push access to a source repository and parsed in the mint's
# request, so what one file may cost is bounded whatever it holds: every limit below stops the
# parse at the value that crosses it, and the problem names the limit and the line.

# The deepest legitimate place is spec > rules > [i] > match > claim > [j] > regex: 7 levels.
MAX_NESTING_DEPTH = 10
# YAML values (scalars, lists, mappings) read from one file. A policy of MAX_RULES rules with a few
# conditions each holds under 3 000; a 64 KiB file of one-letter list items would hold 30 000.
MAX_YAML_VALUES = 5_000
# Glob and regex conditions of one file, counted before anything is compiled.
MAX_CONDITIONS = 1_000
# Conditions that need an RE2 program (every regex, and a glob with `?` or several runs of `*`);
# as many as the smallest memory grant allows (MAX_PROGRAM_MEMORY / FIRST_PROGRAM_MEMORY).
MAX_PROGRAMS = 96
# Characters of those patterns together, checked before compiling: a program costs at least its length.
MAX_PATTERN_CHARACTERS = 16 * 1024
# RE2 memory the programs of one file may be granted together. Each program is compiled with a small
# memory grant first (RE2's `max_mem`, which bounds its instructions and its DFA cache together), and
# again with double the grant only when RE2 finds it too large; every attempt is charged. So compiling
# stops as soon as a file is over, the compile work of a file is bounded, and so is the memory its
# programs hold for as long as the policy is cached, matching included.
MAX_PROGRAM_MEMORY = 384 * 1024
FIRST_PROGRAM_MEMORY = 4 * 1024
# The largest grant one program may have: about 10 000 RE2 instructions, far more than any regex a
# policy needs (`[a-z0-9-]{1,100}` is 400).
MAX_MEMORY_PER_PROGRAM = 128 * 1024
# What a cached policy may hold, at most: the limits above keep every valid policy under it (the
# parse cache's estimate of a policy at every limit at once is below it), so no valid file is
# refused on its memory and none is too large to cache.
MAX_RETAINED_BYTES = 1024 * 1024

# Reported problems are capped so that a hostile file cannot flood an audit record or a log.
MAX_PROBLEMS = 50
# Lines of a Decision's explanation (one per rule tried) are capped for the same reason.
MAX_EXPLANATION_LINES = 20
