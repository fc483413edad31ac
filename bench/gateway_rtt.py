"""Gateway benchmark: an order's round trip through the whole gateway, beside bare QuickFIX.

Figures, each beside a baseline measured in the same run:

1. Order round trip, ping-pong: `OrderManager.submit` (ledger write-ahead commit, NewOrderSingle
   built and handed to QuickFIX) -> a real `fixgw sim` subprocess over loopback -> its
   ExecutionReport(35=8) fill -> parsed, checked against the order state table, fill + position
   committed to the SQLite ledger -> the order-finished callback. Marketable immediate-or-cancel
   orders of one lot, alternating buy and sell so the position stays near flat; p50/p99/p99.9
   against the bare QuickFIX echo round trip (an empty application on both ends, the same
   NewOrderSingle -> ExecutionReport shape) from `bench.baselines.quickfix_echo_rtt`.
2. Sustained orders per second: the same orders submitted back to back, until the last one is
   final in the ledger, against the bare QuickFIX echo pipelined.
3. CPU time of the whole gateway process (every thread) per ping-pong order: what the order path
   costs the machine, much less moved by other processes than the latencies are.

Run: `python -m bench.gateway_rtt [--quick]` or `python -m bench gateway_rtt`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from bench.baselines import quickfix_echo_rtt, quickfix_echo_throughput
from bench.common import BenchError, LatencyStats, Report, Throughput, now_ns
from fixgw.demo import simulator_process
from gateway.app import Gateway, configure_logging
from gateway.config import load_config
from gateway.domain.orders import Order

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAY_TOML = REPO_ROOT / "sessions" / "gateway-sim.toml"
SYMBOL = "ACME"
# far through the market: an IOC at these prices trades at the touch, whatever the touch is
BUY_LIMIT, SELL_LIMIT = Decimal("200.00"), Decimal("1.00")


class FinishTimes:
    """An OrderObserver that stamps each order's final state (called after the ledger commit)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.finished_ns: dict[str, int] = {}
        self.finished_wall_ns: dict[str, int] = {}
        self.statuses: dict[str, str] = {}
        self._condition = threading.Condition()

    def order_submitted(self, order: Order) -> None:
        self._inner.order_submitted(order)  # type: ignore[attr-defined]

    def order_finished(self, order: Order) -> None:
        stamp, wall = now_ns(), time.time_ns()
        self._inner.order_finished(order)  # type: ignore[attr-defined]
        with self._condition:
            self.finished_ns[order.order_key] = stamp
            self.finished_wall_ns[order.order_key] = wall
            self.statuses[order.order_key] = order.status.name
            self._condition.notify_all()

    def wait(self, keys: Sequence[str], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not all(k in self.finished_ns for k in keys):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True


def _submit(gateway: Gateway, index: int) -> str:
    assert gateway.oms is not None
    buy = index % 2 == 0
    result = gateway.oms.submit(
        symbol=SYMBOL,
        side="1" if buy else "2",
        qty=1,
        ord_type="2",
        price=BUY_LIMIT if buy else SELL_LIMIT,
        tif="3",
    )
    if not result.accepted or result.cl_ord_id is None:
        raise BenchError(f"order refused: {result.reason}")
    return result.cl_ord_id


def measure_gateway(
    count: int, pipelined: int, work_dir: Path
) -> tuple[list[LatencyStats], Throughput, dict[str, int]]:
    with simulator_process(work_dir / "sim", seed=7) as (port, _control, _output):
        config = load_config(
            GATEWAY_TOML, {"port": port, "host": "127.0.0.1", "state_dir": str(work_dir / "gateway")}
        )
        from dataclasses import replace

        config = replace(
            config,
            strategy=replace(config.strategy, enabled=False),
            limits=replace(config.limits, max_open_orders=pipelined + 10, max_position_qty=10**9),
            gateway=replace(config.gateway, log_fix_messages=False),
        )
        configure_logging(config.gateway.state_dir, to_stderr=False)
        gateway = Gateway(config)
        try:
            gateway.start()
            if not gateway.wait_logged_on(20):
                raise BenchError("the gateway did not log on to the simulator")
            assert gateway.oms is not None
            times = FinishTimes(gateway.oms._observer)
            gateway.oms._observer = times
            time.sleep(1.0)  # let the background market build a book
            for index in range(50):  # warm-up: SWIG, SQLite statement cache, telemetry
                key = _submit(gateway, index)
                times.wait([key], 10)
            samples: list[int] = []
            submit_samples: list[int] = []
            measured_keys: list[str] = []
            cpu_started_ns = time.process_time_ns()
            for index in range(count):
                started = now_ns()
                key = _submit(gateway, index)
                submit_samples.append(now_ns() - started)
                if not times.wait([key], 10):
                    raise BenchError(f"order {key} not final after 10 s")
                samples.append(times.finished_ns[key] - started)
                measured_keys.append(key)
            # CPU time of the whole gateway process (every thread) per order: unlike latency,
            # barely moved by other processes competing for the machine's cores
            cpu_per_order_ns = (time.process_time_ns() - cpu_started_ns) // count
            inbound_samples = _inbound_samples(gateway, times, measured_keys)
            statuses: dict[str, int] = {}
            for status in times.statuses.values():
                statuses[status] = statuses.get(status, 0) + 1
            started = now_ns()
            keys = [_submit(gateway, index) for index in range(pipelined)]
            submitted_ns = now_ns() - started
            if not times.wait(keys, 60):
                raise BenchError("pipelined orders not final after 60 s")
            elapsed_ns = times.finished_ns[max(keys, key=lambda k: times.finished_ns[k])] - started
            statuses["pipelined: all submitted after ms"] = submitted_ns // 1_000_000
            statuses["ping-pong: gateway process CPU us per order"] = cpu_per_order_ns // 1000
        finally:
            gateway.stop()
    figures = [
        LatencyStats.from_samples_ns("gateway order->fill committed", samples),
        LatencyStats.from_samples_ns("gateway submit (write-ahead + 35=D to QuickFIX)", submit_samples),
        LatencyStats.from_samples_ns("gateway report (fromApp -> fill+position committed)", inbound_samples),
    ]
    throughput = Throughput(name="gateway orders pipelined", operations=pipelined, elapsed_ns=elapsed_ns)
    return figures, throughput, statuses


def _inbound_samples(gateway: Gateway, times: FinishTimes, keys: list[str]) -> list[int]:
    """Receive time of each order's final report (taken first thing in fromApp, wall clock) to
    the moment its fill, order and position were committed and the order reported final."""
    import sqlite3

    assert gateway.ledger is not None
    samples: list[int] = []
    with sqlite3.connect(gateway.ledger.path) as db:
        for key in keys:
            row = db.execute(
                "SELECT max(recv_ns) FROM execution_reports WHERE order_key=?", (key,)
            ).fetchone()
            if row and row[0]:
                samples.append(times.finished_wall_ns[key] - int(row[0]))
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_rtt", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer orders (a smoke run)")
    parser.add_argument("--orders", type=int, help="ping-pong orders (default 2000, quick 300)")
    parser.add_argument(
        "--switch-interval-us",
        type=int,
        help="sys.setswitchinterval for the run (default: the interpreter's 5000 us, as fixgw run)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.switch_interval_us:
        # how long a thread may keep the GIL while another waits for it: the callback thread
        # and a submitting thread hand it over at every SQLite commit and QuickFIX call
        sys.setswitchinterval(args.switch_interval_us / 1e6)
    count = args.orders or (300 if args.quick else 2000)
    pipelined = 500 if args.quick else 2000
    report = Report("gateway_rtt")
    with tempfile.TemporaryDirectory(prefix="fixgw-bench-") as tmp:
        (rtt, submit, inbound), throughput, statuses = measure_gateway(count, pipelined, Path(tmp))
    echo = quickfix_echo_rtt(count)
    echo_throughput = quickfix_echo_throughput(pipelined)
    report.add_latency(rtt, baselines=[echo], note="submit -> fill committed in the SQLite ledger")
    report.add_latency(submit, baselines=[echo], note="the gateway's own outbound cost")
    report.add_latency(inbound, baselines=[echo], note="the gateway's own inbound cost")
    report.add_throughput(throughput, baseline=echo_throughput, note="until the last order is final")
    report.add_value(
        "gateway CPU per order (process, all threads, ping-pong)",
        statuses["ping-pong: gateway process CPU us per order"],
        "us",
        note="one order, its New and its fill report, and the market data meanwhile",
    )
    report.extra["ping_pong_final_statuses"] = statuses
    report.print_table()
    print(f"final statuses of the ping-pong orders, and pipelined submit time: {statuses}")
    print(f"results merged into {report.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
