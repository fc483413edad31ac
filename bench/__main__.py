"""`python -m bench [NAME ...] [--quick] [--out DIR] [--list]`: run fixgw's benchmarks.

With no NAME, runs every benchmark module found in this package, in the order of `PREFERRED_ORDER`
and then alphabetically. A benchmark module is any `bench/<name>.py` exposing either

- `main(argv: list[str] | None = None) -> int` - called with `["--quick"]` when --quick is given
  (the environment variable FIXGW_BENCH_QUICK=1 says the same), returns an exit status; or
- `run() -> dict` (or `run(quick: bool) -> dict`) - returns its figures; the runner prints them
  and merges them into the results file.

Each module runs in its own child process, so that one benchmark's crash (QuickFIX can abort a
process, see the dependency notes), its engine threads and its peak RSS do not leak into the
next. A module that is not there yet is reported as skipped, not as a failure. Results go to
`var/bench/results.json` and the latency plot to `var/bench/latency.png` / `latency.html`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Report, results_dir_from_env, write_plots

# Benchmarks the project expects; the ones not present yet are skipped with a message.
PREFERRED_ORDER: tuple[str, ...] = ("baselines", "sim_bench", "gateway_rtt", "decision_latency")
# Modules in bench/ that are plumbing, not benchmarks.
NOT_BENCHMARKS = frozenset({"__main__", "__init__", "common"})
# Per-module wall-clock limits: a full run of everything must stay within about five minutes.
TIMEOUT_S = {"quick": 150.0, "full": 300.0}


@dataclass(slots=True)
class Outcome:
    name: str
    status: str  # "ok" | "failed" | "skipped" | "timed out"
    seconds: float
    detail: str = ""


def discover() -> list[str]:
    """Benchmark module names present in this package, in running order."""
    package_dir = Path(__file__).resolve().parent
    present = {info.name for info in pkgutil.iter_modules([str(package_dir)])} - NOT_BENCHMARKS
    ordered = [name for name in PREFERRED_ORDER if name in present]
    ordered += sorted(present - set(PREFERRED_ORDER))
    return ordered


def _has_entry_point(name: str) -> bool:
    return importlib.util.find_spec(f"bench.{name}") is not None


def run_in_this_process(name: str, quick: bool) -> int:
    """Child-process side: import `bench.<name>` and call its entry point."""
    module = importlib.import_module(f"bench.{name}")
    main = getattr(module, "main", None)
    if callable(main):
        status = main(["--quick"] if quick else [])
        return int(status or 0)
    run = getattr(module, "run", None)
    if callable(run):
        wants_quick = "quick" in inspect.signature(run).parameters
        figures = run(quick=quick) if wants_quick else run()
        _report_figures(name, figures)
        return 0
    print(f"bench.{name} has neither main(argv) nor run(); nothing to run", file=sys.stderr)
    return 2


def _report_figures(name: str, figures: Any) -> None:
    """Print and store what a `run() -> dict` benchmark returned."""
    if not isinstance(figures, dict):
        raise TypeError(f"bench.{name}.run() returned {type(figures).__name__}, expected dict")
    report = Report(name)
    report.extra = {"figures": figures}
    print(f"== {name} ==")
    for key, value in figures.items():
        print(f"  {key}: {json.dumps(value, default=str)}")
    report.save()


def run_child(name: str, quick: bool, timeout_s: float) -> Outcome:
    """Run one benchmark in a child process with a time limit."""
    if not _has_entry_point(name):
        return Outcome(name, "skipped", 0.0, "module not present yet")
    command = [sys.executable, "-m", "bench", "--in-process", name] + (["--quick"] if quick else [])
    environment = dict(os.environ, FIXGW_BENCH_QUICK="1" if quick else "0", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    # A new session: on timeout the whole group goes, including a simulator the benchmark started.
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, start_new_session=True)
    try:
        status = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return Outcome(name, "timed out", time.monotonic() - started, f"killed after {timeout_s:.0f}s")
    elapsed = time.monotonic() - started
    if status == 0:
        return Outcome(name, "ok", elapsed)
    if status < 0:
        return Outcome(name, "failed", elapsed, f"killed by signal {-status}")
    return Outcome(name, "failed", elapsed, f"exit status {status}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run fixgw's benchmarks.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all); see --list")
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run in about a minute")
    parser.add_argument("--list", action="store_true", help="list the benchmarks found and exit")
    parser.add_argument("--out", type=Path, help="directory for results.json and plots (default var/bench)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG/HTML latency plot")
    parser.add_argument("--in-process", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.out is not None:
        os.environ["FIXGW_BENCH_DIR"] = str(args.out.resolve())
    if args.in_process:
        return run_in_this_process(args.in_process, args.quick)

    found = discover()
    if args.list:
        for name in PREFERRED_ORDER:
            print(f"  {name:<18} {'present' if name in found else 'not present yet'}")
        for name in found:
            if name not in PREFERRED_ORDER:
                print(f"  {name:<18} present")
        return 0

    wanted = args.names or list(dict.fromkeys(list(PREFERRED_ORDER) + found))
    unknown = [name for name in args.names if name not in found and name not in PREFERRED_ORDER]
    if unknown:
        print(f"bench: unknown benchmark(s) {', '.join(unknown)}; found: {', '.join(found)}", file=sys.stderr)
        return 2

    timeout_s = TIMEOUT_S["quick" if args.quick else "full"]
    outcomes: list[Outcome] = []
    started = time.monotonic()
    for index, name in enumerate(wanted, start=1):
        print(f"\n[{index}/{len(wanted)}] {name} ({'quick' if args.quick else 'full'})", flush=True)
        outcome = run_child(name, args.quick, timeout_s)
        if outcome.status == "skipped":
            print(f"  skipped: bench/{name}.py is {outcome.detail}", flush=True)
        outcomes.append(outcome)

    if not args.no_plot:
        try:
            for path in write_plots():
                print(f"plot written: {path}")
        except Exception as error:  # a plotting problem must not hide the figures above
            print(f"bench: could not draw the plot: {type(error).__name__}: {error}", file=sys.stderr)

    print(f"\nresults: {results_dir_from_env() / 'results.json'}")
    print(f"{'benchmark':<18} {'status':<10} {'seconds':>8}  detail")
    for outcome in outcomes:
        print(f"{outcome.name:<18} {outcome.status:<10} {outcome.seconds:>8.1f}  {outcome.detail}")
    print(f"total {time.monotonic() - started:.1f}s")
    failed = [outcome for outcome in outcomes if outcome.status in {"failed", "timed out"}]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
