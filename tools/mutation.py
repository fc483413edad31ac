"""Mutation testing of the pure core: apply each mutant of `tools/mutants.py` to a copy of the
tree, run the unit tests there, and print which mutants the tests kill and the score.

Takes: the repository it sits in (never modified: every mutant is applied to a temporary copy,
one copy per worker) and the options below. Gives: one line per mutant, the survivors with what
each breaks, and `score: killed/applied (percent)`; exit status 1 when the score is under
`--fail-under`, 2 when the unmutated tests do not pass.

    python -m tools.mutation [--jobs N] [--only OS4,SV11] [--fail-under 90] [-- pytest args]

A mutant is killed when the tests fail (or exceed the time limit) with it applied. The tests run
with `-x`, so a killed mutant costs only the time to its first failing test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools.mutants import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TESTS = ("tests/unit",)
_SKIP = shutil.ignore_patterns(
    ".git", ".venv", "var", "mutants", "__pycache__", "*.pyc", ".*_cache", "*.egg-info", "build"
)


class StaleMutant(LookupError):
    """The mutant's text is no longer where the list says (the code changed): update the list."""


@dataclass(frozen=True, slots=True)
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout | stale
    seconds: float
    detail: str = ""


def mutate(source: str, mutant: Mutant) -> str:
    """`source` with `mutant` applied; StaleMutant when its line cannot be found exactly."""
    lines = source.splitlines(keepends=True)
    matching = [i for i, line in enumerate(lines) if mutant.old in line and mutant.near in line]
    if mutant.occurrence:
        if len(matching) < mutant.occurrence:
            raise StaleMutant(f"{mutant.old!r}: {len(matching)} matching lines, wanted #{mutant.occurrence}")
        index = matching[mutant.occurrence - 1]
    elif len(matching) != 1:
        raise StaleMutant(f"{mutant.old!r}: {len(matching)} matching lines, wanted exactly one")
    else:
        index = matching[0]
    line = lines[index]
    if mutant.new is None:
        del lines[index]
    else:
        if line.count(mutant.old) != 1:
            raise StaleMutant(f"{mutant.old!r} occurs {line.count(mutant.old)} times on its line")
        lines[index] = line.replace(mutant.old, mutant.new)
    return "".join(lines)


def run_tests(tree: Path, pytest_args: Sequence[str], timeout_s: float) -> tuple[bool | None, float]:
    """(passed, seconds) of the tests in `tree`; passed is None when they ran out of time."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    # No bytecode: a mutant of the same length written in the same second as the original could
    # otherwise be served from a stale .pyc.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *pytest_args]
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command,
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started
    return completed.returncode == 0, time.monotonic() - started


def try_mutant(tree: Path, mutant: Mutant, pytest_args: Sequence[str], timeout_s: float) -> Outcome:
    target = tree / mutant.path
    original = target.read_text()
    try:
        mutated = mutate(original, mutant)
    except StaleMutant as stale:
        return Outcome(mutant, "stale", 0.0, str(stale))
    target.write_text(mutated)
    try:
        passed, seconds = run_tests(tree, pytest_args, timeout_s)
    finally:
        target.write_text(original)
    if passed is None:
        return Outcome(mutant, "timeout", seconds)
    return Outcome(mutant, "survived" if passed else "killed", seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutation", description="mutation testing of the pure core"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="trees tested in parallel")
    parser.add_argument("--only", default="", help="comma-separated mutant ids (default: all)")
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 below this score (percent)")
    parser.add_argument("pytest_args", nargs="*", help=f"tests and pytest options (default: {DEFAULT_TESTS})")
    args = parser.parse_args(argv)
    pytest_args = args.pytest_args or list(DEFAULT_TESTS)
    wanted = {m.strip() for m in args.only.split(",") if m.strip()}
    chosen = [m for m in MUTANTS if not wanted or m.mutant_id in wanted]
    if wanted - {m.mutant_id for m in chosen}:
        parser.error(f"unknown mutant ids: {sorted(wanted - {m.mutant_id for m in chosen})}")
    equivalent = [m for m in chosen if m.equivalent]
    mutants = [m for m in chosen if not m.equivalent]
    if not mutants:
        parser.error("every chosen mutant is marked equivalent")
    jobs = max(1, min(args.jobs, len(mutants)))
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="fixgw-mutation-") as scratch:
        trees = [Path(scratch) / f"tree{i}" for i in range(jobs)]
        for tree in trees:
            shutil.copytree(ROOT, tree, ignore=_SKIP)
        passed, baseline_s = run_tests(trees[0], pytest_args, timeout_s=3600)
        if not passed:
            print("the tests do not pass on the unmutated tree: fix them first", file=sys.stderr)
            return 2
        timeout_s = 3 * baseline_s + 30
        print(
            f"{len(mutants)} mutants, {jobs} jobs, tests {' '.join(pytest_args)} "
            f"({baseline_s:.1f} s unmutated)"
        )

        free = list(trees)

        def work(mutant: Mutant) -> Outcome:
            tree = free.pop()
            try:
                outcome = try_mutant(tree, mutant, pytest_args, timeout_s)
            finally:
                free.append(tree)
            print(f"  {outcome.mutant.mutant_id:<5} {outcome.status:<8} {outcome.seconds:6.1f} s", flush=True)
            return outcome

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(work, mutants))

    applied = [o for o in outcomes if o.status != "stale"]
    killed = [o for o in applied if o.status in ("killed", "timeout")]
    for label, status in (
        ("survived", "survived"),
        ("stale (text not found; update tools/mutants.py)", "stale"),
    ):
        listed = [o for o in outcomes if o.status == status]
        if listed:
            print(f"\n{label}:")
            for o in listed:
                where = f"{o.mutant.path}: {o.mutant.old!r} -> {o.mutant.new!r}"
                print(
                    f"  {o.mutant.mutant_id:<5} {where}\n        {o.mutant.description} {o.detail}".rstrip()
                )
    if equivalent:
        print("\nequivalent (not run, not scored):")
        for m in equivalent:
            print(f"  {m.mutant_id:<5} {m.path}: {m.description}\n        {m.equivalent}")
    score = 100.0 * len(killed) / len(applied) if applied else 0.0
    print(
        f"\nscore: {len(killed)}/{len(applied)} killed ({score:.1f}%) in {time.monotonic() - started:.0f} s"
    )
    return 1 if score < args.fail_under else 0


if __name__ == "__main__":
    sys.exit(main())
