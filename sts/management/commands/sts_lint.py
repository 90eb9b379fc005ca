"""`python manage.py sts_lint FILE...`: validate trust policy files as the mint would, for authors and CI.

The policy name comes from the file name (`.atmos/pro/sts/<name>.yaml`). Exit status 1 when any
file is invalid. `--format github` prints workflow-command annotations, so a pull request shows
each problem on its line:
https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#setting-an-error-message
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sts.policy.errors import PolicyInvalid, Problem
from sts.policy.names import is_valid_policy_name
from sts.policy.validator import parse_policy
from sts.policy.vocabulary import FILE_PATH, MAX_POLICY_BYTES, POLICY_SUFFIX


def escape_annotation_data(text: str) -> str:
    # The escaping of @actions/core's command.ts (escapeData), which the runner reverses.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_annotation_property(text: str) -> str:
    # Property values also escape the separators of `key=value,key=value::` (escapeProperty).
    return escape_annotation_data(text).replace(":", "%3A").replace(",", "%2C")


def lint_file(path: str, *, allow_write: bool) -> list[Problem]:
    """The problems of one policy file; a file that cannot be read is a problem too, never a crash."""
    base = os.path.basename(path)
    if not base.endswith(POLICY_SUFFIX):
        return [Problem(FILE_PATH, f"a policy file is named <name>{POLICY_SUFFIX}; the STS reads no other file")]
    name = base.removesuffix(POLICY_SUFFIX)
    if not is_valid_policy_name(name):
        return [Problem(FILE_PATH, "the file name is not a policy name: use 1 to 64 letters, digits, '-' or '_'")]
    try:
        with open(path, "rb") as file:
            # One byte more than the limit is enough to know the file is too large.
            content = file.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        return [Problem(FILE_PATH, f"cannot read the file: {error.strerror or error.__class__.__name__}")]
    if len(content) > MAX_POLICY_BYTES:
        return [Problem(FILE_PATH, f"the file is larger than {MAX_POLICY_BYTES} bytes")]
    try:
        parse_policy(content, name=name, allow_write=allow_write)
    except PolicyInvalid as invalid:
        return invalid.problems
    return []


class Command(BaseCommand):
    help = "Validate Atmos Pro STS trust policy files (.atmos/pro/sts/<name>.yaml)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--format", choices=("plain", "github"), default="plain")
        parser.add_argument(
            "--allow-write",
            action="store_true",
            help="accept write permissions (only for workspaces that allow write tokens)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        invalid = 0
        for path in options["files"]:
            problems = lint_file(path, allow_write=options["allow_write"])
            if problems:
                invalid += 1
            for problem in problems:
                self.stdout.write(self._format(path, problem, options["format"]))
            if not problems and options["format"] == "plain":
                self.stdout.write(f"{path}: ok")
        if invalid:
            total = len(options["files"])
            raise CommandError(f"{invalid} of {total} policy files are invalid.", returncode=1)

    @staticmethod
    def _format(path: str, problem: Problem, output_format: str) -> str:
        if output_format == "github":
            properties = f"file={escape_annotation_property(path)}"
            if problem.line is not None:
                properties += f",line={problem.line}"
            return f"::error {properties}::{escape_annotation_data(f'{problem.path}: {problem.message}')}"
        where = f"{path}:{problem.line}" if problem.line is not None else path
        return f"{where}: {problem.path}: {problem.message}"
