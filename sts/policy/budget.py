"""What the conditions of one policy file may cost, counted before compiling and charged while compiling.

One `Budget` per parse. Counts (conditions, programs, pattern characters) are checked before a
pattern is compiled; RE2 memory is charged as programs compile, and compiling stops at the first
program that would cross the file's grant. Each program is first compiled with a small RE2 memory
grant (`max_mem`, which bounds both its instructions and the DFA cache it may build while matching),
and again with twice the grant only when RE2 finds the program too large for it: a typical regex
compiles once at the smallest grant, a huge one costs at most about twice its final grant, and one
that RE2 refuses at the largest grant costs what the file had left, never seconds.
"""

from __future__ import annotations

from typing import Any

import re2

from sts.policy.vocabulary import (
    FIRST_PROGRAM_MEMORY,
    MAX_CONDITIONS,
    MAX_MEMORY_PER_PROGRAM,
    MAX_PATTERN_CHARACTERS,
    MAX_PROGRAM_MEMORY,
    MAX_PROGRAMS,
)

# RE2's message when a program needs more than its `max_mem`.
_TOO_LARGE = "pattern too large"


class OverBudget(Exception):
    """A limit of the file was crossed; the message names the limit, the validator adds the place."""


class ProgramTooLarge(Exception):
    """RE2 refuses the pattern even with the largest grant one program may have."""


def _options(max_mem: int) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors become Problems; RE2 must not write them to stderr itself
    options.max_mem = max_mem
    options.never_capture = True  # only "does it match" is asked: no submatch bookkeeping
    return options


# The grants tried in order, each twice the one before: 4, 8, 16, 32, 64 and 128 KiB.
_GRANTS = tuple(
    FIRST_PROGRAM_MEMORY << step for step in range(32) if FIRST_PROGRAM_MEMORY << step <= MAX_MEMORY_PER_PROGRAM
)
_OPTIONS = {grant: _options(grant) for grant in _GRANTS}


class Budget:
    """The counts and the RE2 memory one file has spent so far."""

    def __init__(self) -> None:
        self.conditions = 0
        self.programs = 0
        self.pattern_characters = 0
        self.memory_charged = 0
        self.memory_held = 0

    def count_condition(self) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise OverBudget(
                f"is glob or regex condition number {self.conditions} of this file;"
                f" a policy may hold at most {MAX_CONDITIONS} (limit: conditions per policy)"
            )

    def count_program(self, pattern: str) -> None:
        """A condition that needs an RE2 program, counted with its length before it is compiled."""
        self.programs += 1
        if self.programs > MAX_PROGRAMS:
            raise OverBudget(
                f"is regex or wildcard glob number {self.programs} of this file;"
                f" a policy may compile at most {MAX_PROGRAMS} (limit: RE2 programs per policy)"
            )
        self.pattern_characters += len(pattern)
        if self.pattern_characters > MAX_PATTERN_CHARACTERS:
            raise OverBudget(
                f"brings the regexes and wildcard globs of this file to {self.pattern_characters} characters;"
                f" at most {MAX_PATTERN_CHARACTERS} are allowed (limit: pattern characters per policy)"
            )

    def compile(self, pattern: bytes) -> Any:
        """The RE2 program of `pattern`, with the smallest grant that holds it.

        Raises `re2.error` for a pattern RE2 cannot read, `ProgramTooLarge` when even the largest
        grant is too small, and `OverBudget` when the file has no memory left for the next attempt.
        """
        for grant, options in _OPTIONS.items():
            if self.memory_charged + grant > MAX_PROGRAM_MEMORY:
                raise OverBudget(
                    f"needs more RE2 memory than this file has left: its programs may use at most"
                    f" {MAX_PROGRAM_MEMORY // 1024} KiB together (limit: RE2 memory per policy);"
                    " compiling stopped here"
                )
            self.memory_charged += grant
            try:
                # `_Regexp` rather than `re2.compile`: the latter also keeps every program in a
                # module-wide cache that nothing here could account for or empty.
                program = re2._Regexp(pattern, options)
            except re2.error as error:
                if _TOO_LARGE not in str(error):
                    raise
                continue
            self.memory_held += grant
            return program
        raise ProgramTooLarge(
            f"is too large for RE2: its program needs more than {MAX_MEMORY_PER_PROGRAM // 1024} KiB"
            " (limit: RE2 memory per program)"
        )
