"""How fast the trust-policy language parses, evaluates and refuses, and what the worst files cost.

Run: .venv/bin/python bench/bench_policy.py [--quick]
sts.policy does not need Django, so neither does this script.

The second table is the budget of issue 8: for each of the worst files constructed below (valid and
invalid), the time to decide it cold (a fresh parse, best of a few rounds on a shared machine), warm
(a hit of the parse cache, `parse_policy_bytes`), and the memory a cached copy retains: measured as
the growth of allocated memory (Python's, through tracemalloc, and malloc's, for RE2) over several
copies held at once, in a fresh process for each file, once right after parsing ("KiB kept") and
once after every copy has matched many hostile claim values ("matched": RE2 builds its DFA caches
while matching). "estim." is what the parse cache charges for the entry; "eval ms" is one evaluation
of a valid file against 1 024-character claim values that no rule admits. `--problems` also prints
the first problem of each invalid file.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sts.claims import KNOWN_CLAIMS
from sts.policy import MAX_POLICY_BYTES, PolicyInvalid, parse_policy, parse_policy_bytes
from sts.policy.parse_cache import Refusal
from sts.policy.vocabulary import MAX_CONDITIONS, MAX_PROGRAMS, MAX_REGEX_LENGTH, MAX_RULES, MAX_YAML_VALUES

HEAD = "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: default\nspec:\n  rules:\n"

TYPICAL = HEAD + (
    "    - match:\n"
    '        repository_owner: "acme"\n'
    '        ref: ["refs/heads/main", "refs/tags/v*"]\n'
    "      permissions:\n"
    "        contents: read\n"
    "    - match:\n"
    '        job_workflow_ref: { regex: "acme/workflows/\\\\.github/workflows/[a-z-]+\\\\.yml@refs/tags/v[0-9]+" }\n'
)


def twenty_rules() -> str:
    """20 rules of four conditions each (a glob, a list, a regex, a literal); only the last one admits the caller.

    The condition that fails is the last of each rule, so every rule runs all four: the worst case.
    """
    rules = []
    for index in range(20):
        owner = "acme" if index == 19 else f"other-{index}"
        rules.append(
            "    - match:\n"
            '        repository: "*/app"\n'
            '        ref: ["refs/tags/v*", "refs/heads/main"]\n'
            '        workflow_ref: { regex: "[a-z]+/app/\\\\.github/workflows/ci\\\\.yml@refs/heads/main" }\n'
            f'        repository_owner: "{owner}"\n'
        )
    return HEAD + "".join(rules)


CALLER = {
    "sub": "repo:acme/app:ref:refs/heads/main",
    "repository": "acme/app",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
    "workflow_ref": "acme/app/.github/workflows/ci.yml@refs/heads/main",
    "job_workflow_ref": "acme/workflows/.github/workflows/deploy.yml@refs/tags/v1",
}

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def fill(rule: Callable[[int], str], *, head: str = HEAD, most: int = MAX_RULES) -> bytes:
    """As many pieces (rules, unless `head` opens something else) as fit under the size limit, `most` at most."""
    text = head
    index = 0
    while True:
        piece = rule(index) if index < most else ""
        if not piece or len((text + piece).encode()) > MAX_POLICY_BYTES:
            return text.encode()
        text += piece
        index += 1


def flow_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


ANY = 10**6
SAME = "{regex: a}"
LARGE = '{regex: "[a-z]{1000}[0-9]{1000}[a-z]{1000}[0-9]{1000}x%d"}'
TOO_LARGE = '{regex: "(?s).{1000}.{1000}.{1000}x%d"}'
LONG = '{regex: "%04d' + "[ab]" * ((MAX_REGEX_LENGTH - 4) // 4) + '"}'
EVERY_CLAIM = ", ".join(f"{claim}: a" for claim in sorted(KNOWN_CLAIMS - {"subject"}))


def globs(rule: int, shape: str) -> list[str]:
    return [f"g{rule}-" + shape % index for index in range(50)]


def worst_files() -> list[tuple[str, bytes]]:
    """The worst files we could construct, valid and invalid, with what each tries to make expensive."""
    regex_counter = iter(range(10**9))

    def regexes(count: int, shape: str) -> str:
        return flow_list([f'{{regex: "{shape % next(regex_counter)}"}}' for _ in range(count)])

    twenty = twenty_rules()[len(HEAD) :].split("    - match")[1:]

    def mixed_rule(index: int) -> str:
        # 19 rules of 5 regexes and 45 literal globs, then one of 1 regex and 49 globs: 96 programs.
        if index >= MAX_CONDITIONS // 50:
            return ""
        count = 5 if index < 19 else MAX_PROGRAMS - 19 * 5
        globs = flow_list([f"g{index}-{j}" for j in range(50 - count)])
        return f"    - match: {{ref: {regexes(count, 'refs/heads/r%d-[a-z]+')}, sha: {globs}}}\n"

    cases = [
        ("valid: typical policy", TYPICAL.encode()),
        ("valid: 60 rules of 4 conditions", fill(lambda i: "    - match" + twenty[i % 20] if i < 60 else "")),
        (f"valid: {MAX_PROGRAMS} distinct regexes + globs, {MAX_CONDITIONS} conditions", fill(mixed_rule)),
        (
            "valid: the largest regexes the memory budget holds",
            fill(lambda i: f'    - match: {{ref: {{regex: "[a-z]{{900}}x{i}"}}}}\n' if i < 13 else ""),
        ),
        (
            f"valid: {MAX_CONDITIONS} distinct 50-character globs",
            fill(lambda i: f"    - match: {{ref: {flow_list(globs(i, 'refs/heads/%02d-' + 'x' * 34))}}}\n", most=20),
        ),
        (
            "valid: one long literal glob per rule",
            fill(lambda i: f'    - match: {{ref: "{i:03}{"x" * 1000}"}}\n' if i < MAX_RULES else ""),
        ),
        (
            f"valid: {MAX_PROGRAMS} regexes that grow RE2's DFA cache on hostile values",
            fill(lambda i: f'    - match: {{ref: {{regex: "(?s).*[ab].{{12}}x{i}"}}}}\n', most=MAX_PROGRAMS),
        ),
        (
            f"invalid: {MAX_PROGRAMS + 4} tiny distinct regexes",
            fill(lambda i: f"    - match: {{ref: {regexes(10, 'a%d')}}}\n", most=MAX_PROGRAMS // 10 + 1),
        ),
        (
            "invalid: thousands of tiny distinct regexes",
            fill(lambda i: f"    - match: {{ref: {regexes(50, 'a%d')}}}\n"),
        ),
        (
            "invalid: thousands of the same tiny regex",
            fill(lambda i: f"    - match: {{ref: {flow_list([SAME] * 50)}}}\n"),
        ),
        (
            "invalid: many distinct large regexes near RE2's limit",
            fill(lambda i: f"    - match: {{ref: {LARGE % i}}}\n"),
        ),
        ("invalid: regexes RE2 refuses as too large", fill(lambda i: f"    - match: {{ref: {TOO_LARGE % i}}}\n")),
        ("invalid: many distinct long regexes", fill(lambda i: f"    - match: {{ref: {LONG % i}}}\n")),
        ("invalid: thousands of literal globs", fill(lambda i: f"    - match: {{ref: {flow_list(globs(i, '%d'))}}}\n")),
        (
            "invalid: thousands of wildcard globs",
            fill(lambda i: f"    - match: {{ref: {flow_list(globs(i, '?%d*x*'))}}}\n"),
        ),
        (
            f"invalid: {MAX_RULES} rules x 50 alternatives",
            fill(lambda i: f"    - match: {{ref: {flow_list(['a'] * 50)}}}\n"),
        ),
        (
            f"invalid: more than {MAX_YAML_VALUES} one-letter list items",
            fill(lambda i: "        - [a]\n", head=HEAD + "    - match:\n        ref:\n", most=ANY),
        ),
        (
            "invalid: thousands of unknown claim names",
            fill(lambda i: f"        refz{i}: a\n", head=HEAD + "    - match:\n", most=ANY),
        ),
        ("invalid: every known claim in every rule", fill(lambda i: f"    - match: {{{EVERY_CLAIM}}}\n", most=ANY)),
        ("invalid: thousands of top-level keys", fill(lambda i: f"k{i}: 1\n", head="", most=ANY)),
        (
            "invalid: one 64 KiB string",
            (HEAD + '    - match: {ref: "' + "a" * (MAX_POLICY_BYTES - len(HEAD) - 30) + '"}\n').encode(),
        ),
        ("invalid: 60 000-deep flow nesting", b"[" * 60_000),
        ("invalid: deep block nesting", "".join(" " * depth + "a:\n" for depth in range(300)).encode()),
        ("invalid: billion laughs", BILLION_LAUGHS.encode()),
        ("invalid: 10 MB file", b"#" * 10_000_000),
    ]
    return cases


def best_time(action: Callable[[], object], repeat: int = 20) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def per_second(action: Callable[[], object], seconds: float = 0.5, rounds: int = 3) -> float:
    """The best of a few rounds: the machine is shared, and the best round is the least disturbed."""
    best = 0.0
    for _ in range(rounds):
        count = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(100):
                action()
            count += 100
        best = max(best, count / elapsed)
    return best


def decide(source: bytes) -> object:
    """What the parse cache would keep: the policy, or the refusal with its problems."""
    try:
        return parse_policy(source, name="default", allow_write=False)
    except PolicyInvalid as invalid:
        return Refusal(tuple(invalid.problems))


def refuse(source: bytes | str) -> None:
    try:
        parse_policy(source, name="default", allow_write=False)
    except PolicyInvalid:
        return
    raise AssertionError("the hostile file was accepted")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def malloc_bytes() -> int:
    """Bytes C code holds from malloc (RE2's programs and DFA caches, and Python's blocks over 512 bytes)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def hostile_claims(seed: int) -> dict[str, str]:
    """Claim values of the longest size the OIDC verifier lets through, over a small alphabet."""
    generator = random.Random(seed)
    return {claim: "".join(generator.choice("ab/-x") for _ in range(1024)) for claim in KNOWN_CLAIMS}


# What a valid worst file costs to evaluate once, every rule tried against the longest claim values.
HOSTILE = hostile_claims(0)


def growth(measure: Callable[[], int], copies: int, source: bytes, claims: list[dict[str, str]]) -> tuple[float, float]:
    """What one decided copy adds to `measure`, right after parsing and after matching every claim set."""
    gc.collect()
    before = measure()
    kept = [decide(source) for _ in range(copies)]
    gc.collect()
    parsed = measure()
    for entry in kept:
        if not isinstance(entry, Refusal):
            for claim_set in claims:
                entry.evaluate(claim_set)  # type: ignore[attr-defined]
    gc.collect()
    return (parsed - before) / copies, (measure() - before) / copies


def measure_retained(index: int, copies: int, evaluations: int) -> None:
    """Run in a fresh process: what one decided copy of worst file `index` holds, before and after matching.

    Two passes, so that neither measurement disturbs the other: malloc's bytes without tracemalloc
    (RE2, Python's large blocks), then Python's bytes with tracemalloc. A Python block over 512
    bytes counts in both: the sum errs on the high side.
    """
    source = worst_files()[index][1]
    claims = [hostile_claims(seed) for seed in range(evaluations)]
    decide(source)  # warm the code paths (imports, first allocations) before measuring
    c_parsed, c_matched = growth(malloc_bytes, copies, source, claims)
    tracemalloc.start()
    py_parsed, py_matched = growth(lambda: tracemalloc.get_traced_memory()[0], copies, source, claims)
    tracemalloc.stop()
    estimate = decide(source).retained_bytes  # type: ignore[attr-defined]
    print(json.dumps({"parsed": c_parsed + py_parsed, "matched": c_matched + py_matched, "estimate": estimate}))


def retained(index: int, *, copies: int, evaluations: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--retained", str(index), str(copies), str(evaluations)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def main(*, quick: bool) -> None:
    policy = parse_policy(twenty_rules(), name="default", allow_write=False)
    assert policy.evaluate(CALLER).rule_index == 19
    denied = {**CALLER, "repository_owner": "nobody"}
    assert not policy.evaluate(denied).allowed

    print(f"evaluate, 20 rules, last rule matches: {per_second(lambda: policy.evaluate(CALLER)):>12,.0f} /s")
    print(f"evaluate, 20 rules, none matches:      {per_second(lambda: policy.evaluate(denied)):>12,.0f} /s")
    typical = TYPICAL.encode()
    print(
        f"parse+validate typical policy ({len(typical)} B):  "
        f"{best_time(lambda: parse_policy(typical, name='default', allow_write=False)) * 1e3:8.3f} ms"
    )
    regex = parse_policy(HEAD + '    - match: {ref: {regex: "(a+)+$"}}\n', name="default", allow_write=False)
    hostile_value = {"ref": "a" * 100_000 + "b"}
    print(f"evaluate (a+)+$ on 100 000 a's then b:    {best_time(lambda: regex.evaluate(hostile_value)) * 1e3:8.3f} ms")

    print()
    print(
        f"{'worst file':<72} {'bytes':>8} {'cold ms':>8} {'warm ms':>8} {'KiB kept':>9} {'matched':>8}"
        f" {'estim.':>7} {'eval ms':>8}"
    )
    for index, (label, source) in enumerate(worst_files()):
        outcome = decide(source)
        verdict = "valid" if not isinstance(outcome, Refusal) else "invalid"
        assert label.startswith(verdict), f"{label}: {verdict}, first problem: {getattr(outcome, 'problems', [''])[0]}"
        cold = best_time(lambda source=source: decide(source), repeat=3 if quick else 7)

        def warm(source: bytes = source) -> None:
            with contextlib.suppress(PolicyInvalid):
                parse_policy_bytes(source, name="default", allow_write=False)

        warm()
        warm_time = best_time(warm, repeat=50)
        memory = retained(index, copies=5 if quick else 10, evaluations=20 if quick else 60)
        evaluation = (
            best_time(lambda outcome=outcome: outcome.evaluate(HOSTILE), repeat=5)  # type: ignore[attr-defined]
            if verdict == "valid"
            else 0.0
        )
        print(
            f"{label[:72]:<72} {len(source):>8} {cold * 1e3:>8.2f} {warm_time * 1e3:>8.3f}"
            f" {memory['parsed'] / 1024:>9.0f} {memory['matched'] / 1024:>8.0f} {memory['estimate'] / 1024:>7.0f}"
            f" {evaluation * 1e3:>8.2f}"
        )
        if verdict == "invalid" and "--problems" in sys.argv:
            print(f"    {outcome.problems[0]}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--retained":
        measure_retained(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main(quick="--quick" in sys.argv)
