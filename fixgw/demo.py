"""`fixgw demo`: the bundled simulator and the gateway trading against it, end to end.

Starts `python -m simulator.cli` as a subprocess on free loopback ports (state under
var/demo/<run>/sim), starts the gateway in this process against it (state under
var/demo/<run>/gateway) with the shipped ONNX model (sessions/gateway-sim-model.toml, whose
[decision] table turns the decision path on; `--config sessions/gateway-sim.toml` trades with the
built-in strategy instead), prints live progress every second (orders, fills, position, PnL per
symbol), and ends with a summary: totals, a check of the gateway's ledger against the venue's own
fills ExecID by ExecID, the decision path's decisions, fallbacks and slippage (text, JSON, PNG),
and where the database and logs are.
The simulator subprocess is always stopped, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

import sqlite_utils

from gateway.app import Gateway, configure_logging
from gateway.config import load_config
from gateway.domain.errors import GatewayError
from simulator.process import SimulatorStartError, start_simulator_process

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "sessions" / "gateway-sim-model.toml"
SIM_START_TIMEOUT_S = 30.0


@contextlib.contextmanager
def simulator_process(state_dir: Path, seed: int) -> Iterator[tuple[int, int, Path]]:
    """`fixgw sim` as a child process until the block ends; yields (fix port, control port, log).

    The child gets SIGTERM from Linux if the demo dies, so even a demo killed with SIGKILL (no
    finally runs) does not leave the simulator behind.
    """
    try:
        sim = start_simulator_process(
            state_dir,
            seed=seed,
            output_name="simulator-output.log",
            die_with_parent=True,
            start_timeout_s=SIM_START_TIMEOUT_S,
        )
    except SimulatorStartError as exc:
        raise GatewayError(str(exc)) from exc
    try:
        print(f"fixgw demo: simulator pid {sim.pid} on 127.0.0.1:{sim.port}", flush=True)
        yield sim.port, sim.control_port, sim.output_path
    finally:
        sim.stop()


def _read_only(ledger_path: Path) -> sqlite_utils.Database:
    """The ledger through sqlite-utils (reports and tooling; the order path uses plain sqlite3),
    read-only so a display can never write to it."""
    return sqlite_utils.Database(sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True))


def _ledger_counts(ledger_path: Path) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    db = _read_only(ledger_path)
    try:
        for row in db.query(
            "SELECT symbol, count(*) AS orders, sum(status = '8') AS rejected FROM orders GROUP BY symbol"
        ):
            counts.setdefault(row["symbol"], {}).update(orders=row["orders"], rejected=row["rejected"] or 0)
        for row in db.query(
            "SELECT symbol, count(*) AS fills, sum(last_qty) AS qty FROM fills"
            " WHERE busted = 0 GROUP BY symbol"
        ):
            counts.setdefault(row["symbol"], {}).update(fills=row["fills"], filled_qty=row["qty"] or 0)
    finally:
        db.close()
    return counts


def progress_lines(gateway: Gateway, elapsed_s: float) -> list[str]:
    assert gateway.oms is not None and gateway.ledger is not None
    counts = _ledger_counts(gateway.ledger.path)
    positions = gateway.oms.positions()
    sessions = gateway.application.logged_on() if gateway.application else {}
    up = sum(sessions.values())
    lines = [
        f"[{elapsed_s:5.1f}s] sessions {up}/{len(sessions)} up | live orders {len(gateway.oms.live_orders())}"
    ]
    total_pnl = Decimal(0)
    for symbol in sorted(gateway.config.routing):
        c = counts.get(symbol, {})
        p = positions.get(symbol)
        qty = p.qty if p else 0
        realized = p.realized_pnl if p else Decimal(0)
        unrealized = p.unrealized_pnl if p else Decimal(0)
        total_pnl += realized + unrealized
        lines.append(
            f"    {symbol:<5} orders {c.get('orders', 0):>5}  fills {c.get('fills', 0):>5}  "
            f"position {qty:>6}  avg {(p.avg_cost if p else Decimal(0)):>10.4f}  "
            f"realized {realized:>9.2f}  unrealized {unrealized:>9.2f}"
        )
    lines[0] += f" | PnL {total_pnl:.2f}"
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixgw demo", description="Simulator + gateway, trading end to end with live progress."
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to trade (%(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated market (%(default)s)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="gateway TOML (%(default)s)")
    parser.add_argument("--state-dir", type=Path, help="where this run keeps its files (var/demo/<run>)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    run_dir = args.state_dir or Path("var/demo") / time.strftime("run-%Y%m%d-%H%M%S")
    run_dir = run_dir.resolve()
    gateway_dir = run_dir / "gateway"
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        print(
            f"fixgw demo: starting the simulator (seed {args.seed}) and the gateway in {run_dir}", flush=True
        )
        with simulator_process(run_dir / "sim", args.seed) as (port, control_port, sim_output):
            config = load_config(
                args.config, {"port": port, "host": "127.0.0.1", "state_dir": str(gateway_dir)}
            )
            if config.decision is None and not config.strategy.enabled:
                config = replace(config, strategy=replace(config.strategy, enabled=True))
            log_path = configure_logging(gateway_dir, to_stderr=True)
            gateway = Gateway(config)
            try:
                gateway.start()
                if not gateway.wait_logged_on(20):
                    print(f"fixgw demo: the gateway did not log on; see {log_path}", file=sys.stderr)
                    return 1
                strategy = (
                    "decision path ([decision])" if config.decision is not None else "built-in strategy"
                )
                print(
                    f"fixgw demo: logged on to the simulator at 127.0.0.1:{port}; "
                    f"trading with the {strategy} for {args.seconds:.0f}s (Ctrl-C stops early)",
                    flush=True,
                )
                started = time.monotonic()
                while not stop.is_set():
                    elapsed = time.monotonic() - started
                    if elapsed >= args.seconds:
                        break
                    stop.wait(min(1.0, args.seconds - elapsed))
                    print("\n".join(progress_lines(gateway, time.monotonic() - started)), flush=True)
                cancelled = gateway.wind_down(timeout_s=3.0)
                if cancelled:
                    print(f"fixgw demo: stopped trading, cancelled {cancelled} working orders", flush=True)
                final_lines = progress_lines(gateway, time.monotonic() - started)
            finally:
                gateway.stop()
            print(summary(gateway, control_port, final_lines, log_path, sim_output), flush=True)
            if config.decision is not None:
                print(decision_summary(gateway, run_dir / "report"), flush=True)
        return 0
    except GatewayError as exc:
        print(f"fixgw demo: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def summary(
    gateway: Gateway, control_port: int, final_lines: list[str], log_path: Path, sim_output: Path
) -> str:
    assert gateway.ledger is not None
    ledger_path = gateway.ledger.path
    check = _venue_check(ledger_path, control_port)
    counters = gateway.oms.counters if gateway.oms else {}
    lines = [
        "",
        "=== fixgw demo: summary ===",
        *final_lines,
        f"  orders submitted {counters.get('submitted', 0)}, refused {counters.get('refused', 0)}, "
        f"fills {counters.get('fills', 0)}, duplicates ignored {counters.get('duplicates', 0)}, "
        f"cancel rejects {counters.get('cancel_rejects', 0)}",
        f"  {check}",
        f"  ledger (SQLite):  {ledger_path}",
        f"  gateway log:      {log_path}",
        f"  FIX message log:  {log_path.parent / 'fix-messages.log'}",
        f"  spans (JSON):     {gateway.config.telemetry.spans_path}",
        f"  simulator output: {sim_output}",
        f"  try: sqlite-utils {ledger_path} "
        '"select symbol, qty, avg_cost, realized_pnl from positions" --table',
    ]
    return "\n".join(lines)


def decision_summary(gateway: Gateway, report_dir: Path) -> str:
    """What the model did: decisions, fallbacks by reason, and the slippage of its fills."""
    assert gateway.ledger is not None
    from gateway.tca.slippage import report_for_demo

    decision_dir = gateway.state_dir / "decision"
    lines = ["", "=== decision path ==="]
    try:
        store = sqlite3.connect(f"file:{decision_dir / 'features.sqlite'}?mode=ro", uri=True)
        try:
            decisions, fallbacks, models = store.execute(
                "SELECT count(*), sum(fallback_reason != ''), group_concat(DISTINCT model_version)"
                " FROM decisions"
            ).fetchone()
            reasons = store.execute(
                "SELECT reason, count(*) FROM fallback_events WHERE event = 'enter' GROUP BY reason"
            ).fetchall()
        finally:
            store.close()
        lines.append(
            f"  decisions {decisions}, on the safe target {fallbacks or 0}, model version(s) {models}"
        )
        if reasons:
            lines.append("  fallbacks entered: " + ", ".join(f"{r} x{n}" for r, n in reasons))
        slippage, files = report_for_demo(gateway.ledger.path, decision_dir, report_dir)
        lines.append(slippage.text())
        lines += [f"  {kind + ':':<8} {path}" for kind, path in files.items()]
        lines.append(f"  feature store:   {decision_dir / 'features.sqlite'}")
    except Exception as exc:  # the summary must still print what it can
        lines.append(f"  decision summary incomplete: {exc}")
    return "\n".join(lines)


def _venue_check(ledger_path: Path, control_port: int) -> str:
    """The gateway's fills against the venue's own, ExecID by ExecID."""
    try:
        from simulator.control import SimulatorControl

        with SimulatorControl(control_port) as control:
            venue: dict[str, Any] = {f["exec_id"]: f for f in control.fills("FIXGW")}
    except Exception as exc:  # the summary must still print
        return f"venue check skipped: {exc}"
    db = _read_only(ledger_path)
    try:
        ours = {
            row["exec_id"]: (row["last_qty"], Decimal(row["last_px"]), bool(row["busted"]))
            for row in db.query(
                "SELECT exec_id, last_qty, last_px, busted FROM fills"
                " WHERE NOT (inferred = 1 AND last_qty = 0)"
            )
        }
    finally:
        db.close()
    theirs = {k: (f["last_qty"], Decimal(f["last_px"]), bool(f["busted"])) for k, f in venue.items()}
    if ours == theirs:
        return f"ledger matches the venue: {len(ours)} fills equal ExecID by ExecID"
    missing, extra = len(set(theirs) - set(ours)), len(set(ours) - set(theirs))
    return (
        f"ledger DIFFERS from the venue: {missing} fills missing, {extra} extra (reports in flight at stop?)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
