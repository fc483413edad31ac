"""`fixgw features build|export`.

build   recompute features from a recorded tick log (same kernels as the live path) and write
        them as CSV; with a feature store beside the log, compare bit for bit and report.
export  write a training set (features + forward-return labels) and its schema file.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gateway.features import kernels
from gateway.features.export import export_training_set
from gateway.features.replay import ReplayError, replay_features
from gateway.features.store import read_decisions
from gateway.marketdata.ticklog import TickLogError

STORE_FILE = "features.sqlite"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixgw features", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="recompute features from a recorded tick log")
    build.add_argument("--state-dir", type=Path, required=True, help="the decision path's state directory")
    build.add_argument("--run", default="", help="run id (default: every tick log in the state directory)")
    build.add_argument("--out", type=Path, help="CSV to write (default: <state-dir>/features-<run>.csv)")
    build.add_argument("--no-check", action="store_true", help="do not compare with the feature store")
    export = sub.add_parser("export", help="write a training set with forward-return labels")
    export.add_argument("--state-dir", type=Path, action="append", required=True, help="repeat to join runs")
    export.add_argument("--horizon-ms", type=int, default=1000, help="label horizon (default 1000)")
    export.add_argument(
        "--out", type=Path, required=True, help="CSV path; the schema goes to <out>.schema.json"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    try:
        if args.command == "build":
            return _build(args.state_dir, args.run, args.out, check=not args.no_check)
        return _export(args.state_dir, args.horizon_ms, args.out)
    except (OSError, TickLogError, ReplayError, ValueError) as exc:
        print(f"fixgw features: {exc}", file=sys.stderr)
        return 1


def _build(state_dir: Path, run: str, out: Path | None, *, check: bool) -> int:
    logs = sorted((state_dir / "ticks").glob(f"{run or '*'}.ticklog"))
    if not logs:
        print(f"fixgw features: no tick log for run {run or '*'} in {state_dir / 'ticks'}", file=sys.stderr)
        return 1
    store = state_dir / STORE_FILE
    status = 0
    for ticklog in logs:
        run_id = ticklog.stem
        target = out if out is not None and len(logs) == 1 else state_dir / f"features-{run_id}.csv"
        stored = {d.decision_no: d for d in read_decisions(store, run_id)} if check and store.exists() else {}
        compared = mismatched = 0
        count = 0
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["decision_no", "symbol", "recv_ns", *kernels.FEATURE_NAMES])
            for decision in replay_features(ticklog):
                count += 1
                writer.writerow(
                    [
                        decision.decision_no,
                        decision.symbol,
                        decision.recv_ns,
                        *(repr(float(v)) for v in decision.features),
                    ]
                )
                live = stored.get(decision.decision_no)
                if live is not None:
                    compared += 1
                    if live.symbol != decision.symbol or not np.array_equal(
                        live.features.view(np.uint64), decision.features.view(np.uint64)
                    ):
                        mismatched += 1
                        if mismatched <= 5:
                            print(f"  decision {decision.decision_no} {decision.symbol}: offline != online")
        line = f"run {run_id}: {count} decisions rebuilt -> {target}"
        if check and stored:
            line += f"; {compared} compared with the feature store, {mismatched} differ"
            if mismatched:
                status = 3
        print(line)
    return status


def _export(state_dirs: list[Path], horizon_ms: int, out: Path) -> int:
    stores = [directory / STORE_FILE for directory in state_dirs]
    missing = [str(store) for store in stores if not store.exists()]
    if missing:
        print(f"fixgw features: no feature store at {', '.join(missing)}", file=sys.stderr)
        return 1
    summary = export_training_set(stores, out, horizon_ms=horizon_ms)
    print(
        f"{summary.rows} labelled rows of {summary.decisions} decisions "
        f"({summary.unlabelled} without a point {horizon_ms} ms later) -> {summary.csv_path}; "
        f"schema {summary.schema_path}"
    )
    return 0 if summary.rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
