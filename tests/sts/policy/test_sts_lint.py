"""`manage.py sts_lint FILE...`: problems as FILE:LINE: path: message, or as GitHub annotations.

Exit status 1 when any file is invalid.
"""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from sts.management.commands.sts_lint import escape_annotation_data, escape_annotation_property

VALID = """\
apiVersion: atmos-pro.com/v1alpha1
kind: TrustPolicy
metadata:
  name: {name}
spec:
  rules:
    - match:
        repository_owner: "acme"
"""


def write(directory: Path, filename: str, text: str) -> str:
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return str(path)


def lint(*arguments: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("sts_lint", *arguments, stdout=out)
    except CommandError as error:
        return out.getvalue(), error.returncode
    return out.getvalue(), 0


def test_it_passes_valid_files(tmp_path: Path) -> None:
    first = write(tmp_path, "default.yaml", VALID.format(name="default"))
    second = write(tmp_path, "ci.yaml", VALID.format(name="ci"))

    output, status = lint(first, second)

    assert status == 0
    assert output.splitlines() == [f"{first}: ok", f"{second}: ok"]


def test_it_prints_every_problem_with_file_and_line(tmp_path: Path) -> None:
    text = VALID.format(name="default").replace("repository_owner", "reff") + "      permissions: {contents: write}\n"
    path = write(tmp_path, "default.yaml", text)

    output, status = lint(path)

    assert status == 1
    lines = output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:8: spec.rules[0].match.reff: unknown claim name \"reff\"; did you mean 'ref'?")
    assert lines[1].startswith(f"{path}:9: spec.rules[0].permissions.contents: write is refused")


def test_allow_write_accepts_write_permissions(tmp_path: Path) -> None:
    path = write(tmp_path, "default.yaml", VALID.format(name="default") + "      permissions: {contents: write}\n")

    assert lint(path)[1] == 1
    assert lint("--allow-write", path)[1] == 0


def test_the_policy_name_comes_from_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "readers.yaml", VALID.format(name="default"))

    output, status = lint(path)

    assert status == 1
    assert f"{path}:4: metadata.name: is 'default' but the file is readers.yaml" in output


def test_one_invalid_file_among_valid_ones_fails_the_run(tmp_path: Path) -> None:
    good = write(tmp_path, "default.yaml", VALID.format(name="default"))
    bad = write(tmp_path, "bad.yaml", "kind: [\n")

    output, status = lint(good, bad)

    assert status == 1
    assert f"{good}: ok" in output
    assert f"{bad}:" in output


def test_a_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    missing = str(tmp_path / "default.yaml")

    output, status = lint(missing)

    assert status == 1
    assert output == f"{missing}: (file): cannot read the file: No such file or directory\n"


def test_a_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    directory = tmp_path / "default.yaml"
    directory.mkdir()

    assert lint(str(directory))[1] == 1


def test_a_file_that_is_not_named_yaml_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "default.yml", VALID.format(name="default"))

    output, status = lint(path)

    assert status == 1
    assert "the STS reads no other file" in output


def test_a_file_name_that_is_not_a_policy_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "my policy.yaml", VALID.format(name="default"))

    output, status = lint(path)

    assert status == 1
    assert "not a policy name" in output


def test_github_format_prints_error_annotations(tmp_path: Path) -> None:
    path = write(tmp_path, "default.yaml", VALID.format(name="default").replace("repository_owner", "reff"))

    output, status = lint("--format", "github", path)

    assert status == 1
    assert output.startswith(f"::error file={path},line=8::spec.rules[0].match.reff: unknown claim name")


def test_github_format_escapes_percent_and_newlines_in_messages_and_separators_in_files(tmp_path: Path) -> None:
    text = VALID.format(name="default").replace("repository_owner", '"100%\\nowner"')
    directory = tmp_path / "a,b:c"
    directory.mkdir()
    path = write(directory, "default.yaml", text)

    output, _ = lint("--format", "github", path)

    escaped_path = path.replace(":", "%3A").replace(",", "%2C")
    assert output.startswith(f"::error file={escaped_path},line=8::")
    assert "100%25" in output
    assert len(output.splitlines()) == 1


def test_github_format_omits_the_line_when_there_is_none(tmp_path: Path) -> None:
    missing = str(tmp_path / "default.yaml")

    output, _ = lint("--format", "github", missing)

    assert output == f"::error file={missing}::(file): cannot read the file: No such file or directory\n"


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "default.yaml"
    path.write_bytes(b"#" * 10_000_000)

    output, status = lint(str(path))

    assert status == 1
    assert "larger than" in output


@pytest.mark.parametrize(("text", "expected"), [(VALID.format(name="default"), 0), ("kind: [\n", 1)])
def test_manage_py_exits_with_the_lint_status(tmp_path: Path, text: str, expected: int) -> None:
    path = write(tmp_path, "default.yaml", text)

    result = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "sts_lint", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == expected, result.stderr


def test_annotation_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_annotation_data("50%\r\nnext: a,b") == "50%25%0D%0Anext: a,b"
    assert escape_annotation_property("C:\\a,b%\n") == "C%3A\\a%2Cb%25%0A"


def test_it_reports_the_budget_limits_with_their_line(tmp_path: Path) -> None:
    regexes = "".join(f'    - match: {{ref: {{regex: "r{index}-[a-z]+"}}}}\n' for index in range(97))
    path = write(tmp_path, "default.yaml", VALID.format(name="default").split("    - match")[0] + regexes)

    output, status = lint(path)

    assert status == 1
    assert output.splitlines() == [
        f"{path}:103: spec.rules[96].match.ref.regex: is regex or wildcard glob number 97 of this file;"
        " a policy may compile at most 96 (limit: RE2 programs per policy)"
    ]
