"""Decision latency: a market-data message entering fromApp -> NewOrderSingle(35=D) handed to
QuickFIX, through the gateway's real FIX application, the decision sink, the order manager and
its SQLite ledger, with the shipped ONNX model.

    python -m bench.decision_latency [--quick] [--messages N] [--rate MSG_PER_S]

What runs, in one process:
- messages: MarketDataSnapshotFullRefresh(35=W) / MarketDataIncrementalRefresh(35=X) made by the
  simulator's own core (seeded background liquidity, `simulator.fixmessages`), serialised and
  parsed back with the data dictionary, as the engine hands them to fromApp;
- `GatewayApplication.fromApp` -> `DecisionSink` -> `OrderManager.submit` (ledger written ahead)
  -> the sender builds the quickfix.Message with the gateway's codec; the time is taken where
  the real sender calls `fix.Session.sendToTarget` (no socket: the session layer's own cost is
  the gateway RTT benchmark's business);
- after each message, outside the timed region, every order sent is acknowledged and filled
  in the order manager (ExecutionReport New then Trade), so positions move and the model keeps
  trading.

Figures, all measured in this run: per-message latency (tracing off and on) beside an empty
fromApp callback and a bare `InferenceSession.run` of the same model; the latency to each
NewOrderSingle; the stage breakdown (book, features, inference, risk, send); a sustained run at
`--rate` messages per second with a decision on every message, its p99 against the idle p99.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import quickfix as fix

from bench.common import REPO_ROOT, LatencyStats, Report, time_calls

SESSION_MD = "FIX.4.4:FIXGW-MD->FIXSIM"
SESSION_ORDERS = "FIX.4.4:FIXGW->FIXSIM"
TARGET_P50_US = 60.0
TARGET_P99_US = 150.0


def build_messages(count: int, seed: int = 7) -> list[fix.Message]:
    """W for every symbol, then X messages from the simulator's background market."""
    from simulator.fixmessages import market_data_incremental, market_data_snapshot
    from simulator.instruments import default_instruments
    from simulator.liquidity import LiquidityConfig, MarketAgents
    from simulator.venue import Venue

    clock = itertools.count(time.time_ns(), 1_000_000)
    instruments = default_instruments()
    venue = Venue(instruments, clock_ns=lambda: next(clock), id_prefix="bench")
    agents = MarketAgents(instruments, seed, LiquidityConfig(levels=5))
    for _ in range(20):
        agents.step(venue)
    dictionary = fix.DataDictionary(str(REPO_ROOT / "fix_specs" / "FIX44.xml"))
    raw_messages: list[fix.Message] = []
    for symbol in instruments:
        raw_messages.append(market_data_snapshot(venue.snapshot(symbol), "md-1", instruments[symbol]))
    while len(raw_messages) < count:
        entries = agents.step(venue).market_data
        if entries:
            raw_messages.append(market_data_incremental(entries, "md-1", instruments))
    parsed: list[fix.Message] = []
    for seq, message in enumerate(raw_messages, start=2):
        header = message.getHeader()
        header.setField(fix.BeginString("FIX.4.4"))
        header.setField(49, "FIXSIM")
        header.setField(56, "FIXGW-MD")
        header.setField(34, str(seq))
        header.setField(52, _fix_time(time.time_ns()))
        parsed.append(fix.Message(message.toString(), dictionary, False))
    return parsed


def _fix_time(ns: int) -> str:
    return (
        time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns // 1_000_000 % 1000:03d}"
    )


class HandedToQuickFix:
    """The order manager's sender: builds the message as the gateway's does and notes the time
    at which `fix.Session.sendToTarget` would take it."""

    def __init__(self) -> None:
        from gateway.fix import codec, order_encoding

        self._build = codec.build_message
        self._encode = order_encoding.encode
        self.sent: list[tuple[int, str, list[tuple[int, str]]]] = []

    def session_ready(self, session: str) -> bool:
        return True

    def send(self, session: str, command: Any) -> bool:
        msg_type, fields = self._encode(command)
        self._build(msg_type, fields)
        self.sent.append((time.perf_counter_ns(), msg_type, list(fields)))
        return True


class Rig:
    """fromApp -> sink -> order manager -> ledger, plus a venue that fills every order."""

    def __init__(
        self, work: Path, *, tracing: bool, name: str, trade: bool = True, mode: str = "microbatch"
    ) -> None:
        from gateway.config import LimitsSection
        from gateway.decision import build_sink, decision_table_default
        from gateway.domain.ports import SinkContext
        from gateway.fix.application import GatewayApplication, SessionRole
        from gateway.ledger.store import open_ledger
        from gateway.oms.order_manager import OrderManager, Route

        symbols = ("ACME", "BOLT", "CRUX")
        state = work / name
        self.ledger = open_ledger(state / "ledger.sqlite")
        self.sender = HandedToQuickFix()
        run_id = self.ledger.start_run(started_ns=time.time_ns(), config_path=None)
        self.oms = OrderManager(
            ledger=self.ledger,
            sender=self.sender,
            routes={s: Route(venue="SIM", session=SESSION_ORDERS) for s in symbols},
            limits=LimitsSection(max_order_qty=100_000, max_open_orders=1000, max_position_qty=1_000_000),
            run_id=run_id,
        )
        table = {
            **decision_table_default(),
            "tracing": tracing,
            "trade": trade,
            "mode": mode,
            "budget_us": 100_000,
            "stale_after_ms": 0,
            "max_md_age_ms": 0,
            "execution": {"style": "marketable", "cap_ticks": 2},
        }
        self.sink: Any = build_sink(
            SinkContext(
                orders=self.oms,
                symbols=list(symbols),
                state_dir=state / "decision",
                ledger_path=state / "ledger.sqlite",
                clock_ns=time.time_ns,
                request_snapshot=lambda symbol: None,
                decision_table=table,
            )
        )
        if tracing:
            self.sink._tracer = _tracer(state / "spans.jsonl")
            self.sink.warm()
        roles = {
            SESSION_MD: SessionRole(key=SESSION_MD, venue="SIM", order_entry=False, market_data=True,
                                    symbols=symbols),
            SESSION_ORDERS: SessionRole(key=SESSION_ORDERS, venue="SIM", order_entry=True, market_data=False,
                                        symbols=symbols),
        }  # fmt: skip
        self.app = GatewayApplication(roles=roles)
        self.app.attach(oms=self.oms, sink=self.sink)
        self.session_id = fix.SessionID("FIX.4.4", "FIXGW-MD", "FIXSIM")
        self.stages: list[tuple[int, int, int, int, int, int]] = []
        self.sink.set_timing_hook(self.stages.append)
        self._exec_ids = itertools.count(1)

    def feed(self, message: fix.Message) -> tuple[int, list[int]]:
        """One message through fromApp. Returns (callback duration, NewOrderSingle latencies)."""
        start = time.perf_counter_ns()
        self.app.fromApp(message, self.session_id)
        end = time.perf_counter_ns()
        sent = self.sender.sent
        orders = [t - start for t, msg_type, _ in sent if msg_type == "D"]
        self._fill(sent)
        # The real sender keeps nothing: thousands of kept field lists would only feed the
        # cyclic garbage collector's full collections (about 150 ms each here).
        sent.clear()
        return end - start, orders

    def _fill(self, sent: list[tuple[int, str, list[tuple[int, str]]]]) -> None:
        """The venue's side, untimed: acknowledge and fill each NewOrderSingle in full."""
        from gateway.domain.events import ExecutionReported
        from gateway.domain.fix_values import ExecType, OrdStatus, Side

        for _, msg_type, fields in sent:
            if msg_type != "D":
                continue
            tags = dict(fields)
            qty, px = int(tags[38]), Decimal(tags[44])
            for exec_type, status, last_qty, cum, leaves in (
                (ExecType.NEW, OrdStatus.NEW, 0, 0, qty),
                (ExecType.TRADE, OrdStatus.FILLED, qty, qty, 0),
            ):
                exec_id = f"E{next(self._exec_ids)}"
                self.oms.on_execution_report(
                    ExecutionReported(
                        session=SESSION_ORDERS, exec_id=exec_id, exec_type=exec_type, ord_status=status,
                        cl_ord_id=tags[11], orig_cl_ord_id=None, order_id=f"O{tags[11]}", symbol=tags[55],
                        side=Side(tags[54]), order_qty=qty, price=px, last_qty=last_qty,
                        last_px=px if last_qty else None, cum_qty=cum, leaves_qty=leaves,
                        avg_px=px if cum else None, exec_ref_id=None, text=None, poss_dup=False,
                        transact_time=None, recv_ns=time.time_ns(), seq_num=0, raw="",
                    )
                )  # fmt: skip

    def close(self) -> None:
        self.sink.close()
        self.ledger.close()


def _tracer(path: Path) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from gateway.telemetry import JsonLinesSpanExporter, PresetIdGenerator

    provider = TracerProvider(id_generator=PresetIdGenerator())  # as the gateway's (telemetry.py)
    provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(path)))
    return provider.get_tracer("fixgw.decision")


def run_phase(rig: Rig, messages: list[fix.Message]) -> tuple[list[int], list[int]]:
    callback: list[int] = []
    orders: list[int] = []
    for message in messages:
        duration, order_latencies = rig.feed(message)
        callback.append(duration)
        orders.extend(order_latencies)
    return callback, orders


def run_paced(rig: Rig, messages: list[fix.Message], rate: float) -> tuple[list[int], float, int]:
    """Feed at `rate` msg/s on schedule; latency counts from the scheduled arrival, so falling
    behind shows up as queueing delay, as it would on a socket."""
    interval_ns = int(1e9 / rate)
    latencies: list[int] = []
    start = time.perf_counter_ns()
    late = 0
    for index, message in enumerate(messages):
        due = start + index * interval_ns
        now = time.perf_counter_ns()
        if now < due:
            while time.perf_counter_ns() < due:
                pass
        else:
            late += 1
        rig.feed(message)
        latencies.append(time.perf_counter_ns() - due)
    elapsed = time.perf_counter_ns() - start
    return latencies, len(messages) / (elapsed / 1e9), late


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decision_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer messages (about 30 s)")
    parser.add_argument("--messages", type=int, help="messages per phase")
    parser.add_argument("--rate", type=float, default=5000.0, help="sustained-rate phase, msg/s (5000)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("FIXGW_BENCH_QUICK") == "1"
    count = args.messages or (1500 if quick else 6000)

    warm = 300
    print(f"building {2 * count + warm + 3} market-data messages from the simulator core ...", flush=True)
    sweep_rates = (1000.0, 2000.0, 3000.0)
    sweep_count = count // 3
    messages = build_messages(2 * count + warm + 3 + sweep_count * len(sweep_rates))
    # One continuous feed: warm-up, the measured phase, then the paced phase (RptSeq(83) moves
    # on, so nothing is skipped as a duplicate).
    snapshots, warmup = messages[:3], messages[3 : 3 + warm]
    increments = messages[3 + warm : 3 + warm + count]
    paced_feed = messages[3 + warm + count : 3 + warm + 2 * count]
    sweep_feed = messages[3 + warm + 2 * count :]
    report = Report("decision_latency")
    codec_figures(increments, report)
    with tempfile.TemporaryDirectory(prefix="fixgw-bench-decision-") as tmp:
        work = Path(tmp)
        results: dict[str, Any] = {}
        for tracing in (False, True):
            label = "tracing on" if tracing else "tracing off"
            rig = Rig(work, tracing=tracing, name=label.replace(" ", "-"))
            try:
                run_phase(rig, snapshots)
                run_phase(rig, warmup)  # warm caches, the allocator and the model's first runs
                rig.stages.clear()
                callback, orders = run_phase(rig, increments)
                results[label] = (callback, orders, list(rig.stages), rig.sink.stats)
                if not tracing:
                    results["bare_run"] = time_calls(_bare_run(rig.sink.model.runner), 3000, warmup=200)
                    rig.app.attach(oms=rig.oms, sink=_EmptySink())
                    results["empty"] = time_calls(_empty_callback(rig, increments[0]), 3000, warmup=200)
            finally:
                rig.close()
        # Real-time mode (one inference per symbol per message), tracing off, for comparison.
        rig = Rig(work, tracing=False, name="realtime", mode="realtime")
        try:
            run_phase(rig, snapshots)
            run_phase(rig, warmup)
            results["realtime"] = run_phase(rig, increments)
        finally:
            rig.close()
        # Sustained rate: a decision on every message, in shadow mode (decide and record, send
        # nothing), so the figure is the decision path's and not the order manager's ledger.
        rig = Rig(work, tracing=False, name="shadow", trade=False)
        try:
            run_phase(rig, snapshots)
            run_phase(rig, warmup)
            idle, _ = run_phase(rig, increments)
            rig.stages.clear()
            paced, achieved, late = run_paced(rig, paced_feed, args.rate)
            results["paced_decisions"] = len(rig.stages)
            results["paced"] = (paced, achieved, late)
            results["shadow_idle"] = idle
            # Lower rates too: the highest one whose p99 stays within twice the idle p99.
            results["sweep"] = [
                (rate, run_paced(rig, sweep_feed[i * sweep_count : (i + 1) * sweep_count], rate))
                for i, rate in enumerate(sweep_rates)
            ]
        finally:
            rig.close()

    empty = LatencyStats.from_samples_ns("empty fromApp callback", results["empty"])
    bare = LatencyStats.from_samples_ns("bare InferenceSession.run", results["bare_run"])
    for label in ("tracing off", "tracing on"):
        callback, orders, stages, stats = results[label]
        message_stats = LatencyStats.from_samples_ns(
            f"message in fromApp -> callback returns ({label})", callback
        )
        report.add_latency(message_stats, baselines=[empty, bare])
        if orders:
            order_stats = LatencyStats.from_samples_ns(
                f"message in fromApp -> NewOrderSingle handed ({label})", orders
            )
            report.add_latency(order_stats, baselines=[bare])
        names = (
            "book (toString+decode+book)",
            "features",
            "inference",
            "target+fallback",
            "send (plan+risk+OMS)",
        )
        for index, name in enumerate(names):
            samples = [s[index + 1] - s[index] for s in stages]
            stage = LatencyStats.from_samples_ns(f"stage {name} ({label})", samples)
            report.add_latency(stage)
        report.extra[label] = {
            "messages": len(callback),
            "decisions": stats.decisions,
            "orders": len(orders),
            "fallbacks": stats.fallbacks,
        }
    realtime_callback, realtime_orders = results["realtime"]
    report.add_latency(
        LatencyStats.from_samples_ns(
            "realtime mode: message in fromApp -> callback returns", realtime_callback
        ),
        baselines=[LatencyStats.from_samples_ns("micro-batch", results["tracing off"][0])],
    )
    if realtime_orders:
        report.add_latency(
            LatencyStats.from_samples_ns(
                "realtime mode: message in fromApp -> NewOrderSingle", realtime_orders
            ),
            baselines=[LatencyStats.from_samples_ns("micro-batch", results["tracing off"][1] or [0])],
        )
    paced, achieved, late = results["paced"]
    paced_stats = LatencyStats.from_samples_ns(
        f"shadow paced {args.rate:.0f} msg/s: arrival -> callback returns", paced
    )
    idle_stats = LatencyStats.from_samples_ns("shadow, back to back", results["shadow_idle"])
    report.add_latency(paced_stats, baselines=[idle_stats])
    note = f"{late} of {len(paced)} messages started late, {results['paced_decisions']} decision runs"
    report.add_value(
        "sustained rate achieved", achieved, "msg/s", baseline="offered", baseline_value=args.rate,
        better="higher", note=note,
    )  # fmt: skip
    within = [args.rate] if paced_stats.p99_us <= 2 * idle_stats.p99_us else []
    for rate, (samples, rate_achieved, _) in results["sweep"]:
        stats = LatencyStats.from_samples_ns(
            f"shadow paced {rate:.0f} msg/s: arrival -> callback returns", samples
        )
        report.add_latency(stats, baselines=[idle_stats], note=f"achieved {rate_achieved:.0f} msg/s")
        if stats.p99_us <= 2 * idle_stats.p99_us:
            within.append(rate)
    report.extra["highest_rate_within_2x_idle_p99"] = max(within) if within else None
    report.print_table()
    print(f"highest offered rate with p99 within 2x idle p99: {max(within) if within else 'none'} msg/s")
    off = LatencyStats.from_samples_ns("x", results["tracing off"][1] or [0])
    ratio = paced_stats.p99_us / idle_stats.p99_us
    print(
        f"\ntargets: message -> NewOrderSingle p50 <= {TARGET_P50_US:.0f} us (reached {off.p50_us:.0f}), "
        f"p99 <= {TARGET_P99_US:.0f} us (reached {off.p99_us:.0f}); sustained {args.rate:.0f} msg/s "
        f"p99 within 2x idle: {paced_stats.p99_us:.0f} vs {idle_stats.p99_us:.0f} us ({ratio:.2f}x)"
    )
    for label in ("tracing off", "tracing on"):
        print(f"{label}: {report.extra[label]}")
    path = report.save()
    print(f"results: {path}")
    return 0


class _EmptySink:
    def on_market_data(self, message: Any, session_key: str, recv_ns: int) -> None:
        pass

    def on_session_down(self, session_key: str) -> None:
        pass

    def close(self) -> None:
        pass


def _bare_run(runner: Any) -> Any:
    import numpy as np

    row = np.zeros((1, runner.n_inputs), dtype=np.float32)
    return lambda: runner.run_plain(row)


def codec_figures(messages: list[fix.Message], report: Report) -> None:
    """The ways to read an X message, on the same messages: typed getters through SWIG, getField
    by tag with group iteration, toString + the Python reference parser, toString + numba."""
    from gateway.marketdata.decoder import FastDecoder, decode_raw

    decoder = FastDecoder()
    decoder.warm()
    sample = messages[: min(400, len(messages))]

    def by_tag(message: fix.Message) -> None:
        group = fix.Group(268, 279)
        count = int(message.getField(268))
        for i in range(1, count + 1):
            message.getGroup(i, group)
            for tag in (279, 269, 55, 270, 271, 83):
                group.getField(tag)

    def typed(message: fix.Message) -> None:
        group = fix.Group(268, 279)
        count = int(message.getField(268))
        for i in range(1, count + 1):
            message.getGroup(i, group)
            for field in (fix.MDUpdateAction(), fix.MDEntryType(), fix.Symbol(), fix.MDEntryPx(),
                          fix.MDEntrySize(), fix.RptSeq()):  # fmt: skip
                group.getField(field)

    entries = sum(int(m.getField(268)) for m in sample) / len(sample)
    ways = (
        ("typed getters + getGroup", typed),
        ("getField(tag) + getGroup", by_tag),
        ("toString + Python parser", lambda m: decode_raw(m.toString())),
        ("toString + numba parser (used)", lambda m: decoder.decode(m.toString())),
    )
    stats = []
    for name, read in ways:
        samples = []
        for message in sample:
            start = time.perf_counter_ns()
            read(message)
            samples.append(time.perf_counter_ns() - start)
        stats.append(LatencyStats.from_samples_ns(f"codec: {name}", samples))
    for item in stats[:-1]:
        report.add_latency(item, note=f"{entries:.1f} entries per X")
    report.add_latency(stats[-1], baselines=[stats[1]], note=f"{entries:.1f} entries per X")


def _empty_callback(rig: Rig, message: fix.Message) -> Any:
    app, session_id = rig.app, rig.session_id
    return lambda: app.fromApp(message, session_id)


def _zeros() -> Any:
    import numpy as np

    from gateway.features import kernels

    return np.zeros(len(kernels.MODEL_INPUT_NAMES))


if __name__ == "__main__":
    sys.exit(main())
