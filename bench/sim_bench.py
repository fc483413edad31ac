"""Simulator benchmark: the matching engine in process, and an order's round trip over FIX.

Figures, each beside a baseline measured in the same run:

1. Matching core, in process: a seeded stream of limit orders (some marketable) and cancels
   run through `simulator.book.OrderBook` + `simulator.matching.match`, in operations per
   second, against the same stream pushed through a plain Python dict + heapq insert loop (the
   least Python work an operation can cost). The ratio says how many "bare inserts" one book
   operation costs.
2. Venue rules, in process: the same stream as NewOrderSingle/Cancel requests through
   `simulator.venue.Venue` (validation, order state, execution reports, positions; no SQLite,
   no FIX), against the matching core.
3. Order round trip over FIX: a minimal QuickFIX client (`bench.baselines.RoundTripClient`)
   logs on to a real `fixgw sim` subprocess as CLIENT1 and sends immediate-or-cancel
   NewOrderSingle(35=D) orders priced away from the market, one at a time; the figure is the time
   to the first ExecutionReport(35=8), p50/p99/p99.9, beside the bare QuickFIX echo and the
   plain loopback socket echo. Then the same orders pipelined, in round trips per second, beside
   the bare echo pipelined.

Run: `python -m bench sim_bench [--quick]`.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench.baselines import (
    FixEndpoint,
    OrderTemplate,
    RoundTripClient,
    quickfix_echo_rtt,
    quickfix_echo_throughput,
    socket_echo_rtt,
)
from bench.common import REPO_ROOT, BenchError, LatencyStats, Report, Throughput, now_ns, peak_rss_mib

SIM_CONFIG = REPO_ROOT / "sessions" / "simulator.cfg"
SIM_CLIENT = "CLIENT1"
SIM_COMP_ID = "FIXSIM"
# ACME trades around 100.00 with a 0.01 tick: an IOC buy at 1.00 never trades and rests nowhere,
# so every order costs the same (validate, persist, report) and the book does not grow.
AWAY_FROM_MARKET = OrderTemplate(
    symbol="ACME", side="1", order_qty="1", ord_type="2", price="1.00", time_in_force="3"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    matching_ops: int
    rtt: int
    pipelined: int


QUICK = Sizes(matching_ops=20_000, rtt=1000, pipelined=1000)
FULL = Sizes(matching_ops=200_000, rtt=5000, pipelined=5000)


# --------------------------------------------------------------------------------------------
# The operation stream


@dataclass(frozen=True, slots=True)
class Operation:
    """One order-entry event: a limit order (`cancel_pick` None) or a cancel of a live order."""

    is_buy: bool
    price_ticks: int
    qty: int
    cancel_pick: int | None = None


def operation_stream(count: int, *, seed: int = 7, mid_ticks: int = 10_000) -> list[Operation]:
    """A seeded mix: 55% passive limit orders, 15% marketable ones, 30% cancels; mid drifts."""
    rng = random.Random(seed)
    operations: list[Operation] = []
    mid = mid_ticks
    for _ in range(count):
        draw = rng.random()
        is_buy = rng.random() < 0.5
        if draw < 0.30:
            operations.append(
                Operation(is_buy=is_buy, price_ticks=0, qty=0, cancel_pick=rng.randrange(1 << 30))
            )
            continue
        if draw < 0.45:  # marketable: through the touch, bigger
            offset = rng.randint(0, 5)
            price = mid + offset if is_buy else mid - offset
            qty = rng.randint(100, 500)
        else:  # passive: rests away from the touch
            offset = rng.randint(1, 20)
            price = mid - offset if is_buy else mid + offset
            qty = rng.randint(1, 300)
        operations.append(Operation(is_buy=is_buy, price_ticks=price, qty=qty))
        if rng.random() < 0.05:
            mid += rng.choice((-1, 1))
    return operations


def run_dict_heap_baseline(operations: Sequence[Operation]) -> int:
    """The baseline: each order is a dict insert plus a heap push; each cancel a dict pop."""
    live: dict[int, int] = {}
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    ids: list[int] = []
    for number, operation in enumerate(operations):
        if operation.cancel_pick is not None:
            if ids:
                live.pop(ids[operation.cancel_pick % len(ids)], None)
            continue
        live[number] = operation.qty
        ids.append(number)
        if operation.is_buy:
            heapq.heappush(bids, (-operation.price_ticks, number))
        else:
            heapq.heappush(asks, (operation.price_ticks, number))
    return len(live)


def run_matching_core(operations: Sequence[Operation]) -> int:
    """The stream through the simulator's pure book and matching; returns the trade count."""
    from simulator.book import BookSide, OrderBook
    from simulator.matching import match

    book = OrderBook("ACME")
    ids: list[str] = []
    trades = 0
    for number, operation in enumerate(operations):
        if operation.cancel_pick is not None:
            if ids:
                pick = operation.cancel_pick % len(ids)
                order_id = ids[pick]
                ids[pick] = ids[-1]
                ids.pop()
                book.remove(order_id)  # None when it already traded away: fine
            continue
        side = BookSide.BID if operation.is_buy else BookSide.ASK
        matches = match(book, side, operation.price_ticks, operation.qty)
        trades += len(matches)
        remaining = operation.qty - sum(each.qty for each in matches)
        if remaining > 0:
            order_id = f"o{number}"
            book.add(order_id=order_id, side=side, price=operation.price_ticks, qty=remaining, owner="bench")
            ids.append(order_id)
        if book.is_crossed():
            raise BenchError("the book crossed during the matching benchmark")
    return trades


def run_venue(operations: Sequence[Operation]) -> int:
    """The stream as client requests through the venue's rules; returns the report count."""
    from simulator.instruments import default_instruments
    from simulator.venue import CancelRequest, NewOrderRequest, Venue

    instruments = default_instruments()
    acme = instruments["ACME"]
    venue = Venue(instruments, clock_ns=time.time_ns)
    cl_ord_ids: list[str] = []
    reports = 0
    for number, operation in enumerate(operations):
        if operation.cancel_pick is not None:
            if cl_ord_ids:
                pick = operation.cancel_pick % len(cl_ord_ids)
                original = cl_ord_ids[pick]
                cl_ord_ids[pick] = cl_ord_ids[-1]
                cl_ord_ids.pop()
                result = venue.cancel(
                    CancelRequest(
                        session_key="bench", account="BENCH", cl_ord_id=f"c{number}", orig_cl_ord_id=original
                    )
                )
                reports += len(result.messages)
            continue
        cl_ord_id = f"n{number}"
        result = venue.new_order(
            NewOrderRequest(
                session_key="bench",
                account="BENCH" if operation.is_buy else "BENCH2",  # two accounts, so they can trade
                cl_ord_id=cl_ord_id,
                symbol="ACME",
                side="1" if operation.is_buy else "2",
                ord_type="2",
                order_qty=Decimal(operation.qty),
                price=acme.to_price(operation.price_ticks),
            )
        )
        reports += len(result.messages)
        if operation.is_buy:
            cl_ord_ids.append(cl_ord_id)
    return reports


def measure_in_process(report: Report, operations: Sequence[Operation]) -> None:
    # Warm every path once (imports, first allocations) so the timed runs compare like with like.
    warm = operations[: min(2000, len(operations))]
    run_dict_heap_baseline(warm)
    run_matching_core(warm)
    run_venue(warm)

    count = len(operations)
    baseline = _timed("dict+heap insert loop", run_dict_heap_baseline, operations)
    core = _timed("matching core (book + match)", run_matching_core, operations)
    # The venue does much more per request; a fifth of the stream is enough for a stable rate.
    venue_operations = operations[: max(count // 5, 1000)]
    venue = _timed("venue rules (no FIX, no SQLite)", run_venue, venue_operations)
    report.add_throughput(core, baseline=baseline, note=f"{count:,} operations, seeded")
    report.add_throughput(venue, baseline=core, note=f"{len(venue_operations):,} operations")
    report.add_throughput(baseline, note="floor: the least Python work per operation")


def _timed(name: str, function: object, operations: Sequence[Operation]) -> Throughput:
    assert callable(function)
    start = now_ns()
    function(operations)
    return Throughput(name=name, operations=len(operations), elapsed_ns=now_ns() - start)


# --------------------------------------------------------------------------------------------
# The simulator as a subprocess


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningSimulator:
    port: int
    control_port: int
    state_dir: Path
    password: str


@contextlib.contextmanager
def simulator_process(*, seed: int = 7, config: Path = SIM_CONFIG) -> Iterator[RunningSimulator]:
    """`fixgw sim` on free loopback ports with a fresh state directory; stopped with SIGTERM.

    It runs with a password, as a venue a gateway logs on to would: the bench logs on as CLIENT1,
    whose password is its own variable in simulator.cfg (FIXSIM_PASSWORD_CLIENT1)."""
    if not (REPO_ROOT / "simulator" / "process.py").exists():
        raise SimulatorMissing("simulator/process.py is not there yet")
    from simulator.process import CLIENT1_PASSWORD_ENV, SimulatorStartError, start_simulator_process

    password = f"bench-{os.getpid()}-{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="fixgw-bench-sim-") as state:
        try:
            sim = start_simulator_process(
                Path(state), seed=seed, config=config, password=password, env={CLIENT1_PASSWORD_ENV: password}
            )
        except SimulatorStartError as exc:
            raise BenchError(str(exc)) from exc
        try:
            yield RunningSimulator(
                port=sim.port, control_port=sim.control_port, state_dir=sim.state_dir, password=password
            )
        finally:
            sim.stop()


class SimulatorMissing(BenchError):
    """The simulator's command line is not part of this checkout yet."""


def nagle_warning(config: Path) -> str | None:
    """A warning when the simulator's settings turn Nagle's algorithm back on.

    `fixgw sim` sets SocketNodelay=Y unless the file says otherwise. With SocketNodelay=N, a reply
    written while an earlier one is still unacknowledged waits for the peer's delayed ACK (up to
    40 ms on Linux): measured here, the order round trip went from about 1 ms to about 25 ms.
    """
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "SocketNodelay" and value.strip().upper().startswith("N"):
            return f"{config.name} sets SocketNodelay=N: Nagle's algorithm can add up to 40 ms per round trip"
    return None


def measure_fix_round_trip(report: Report, sizes: Sizes, config: Path = SIM_CONFIG) -> None:
    socket_stats = socket_echo_rtt(sizes.rtt)
    echo_stats = quickfix_echo_rtt(sizes.rtt)
    echo_pipelined = quickfix_echo_throughput(sizes.pipelined)
    warning = nagle_warning(config)
    if warning is not None:
        report.extra["warning"] = warning
        print(f"sim_bench: warning: {warning}", file=sys.stderr)
    with simulator_process(config=config) as simulator:
        endpoint = FixEndpoint(
            port=simulator.port,
            sender_comp_id=SIM_CLIENT,
            target_comp_id=SIM_COMP_ID,
            username=SIM_CLIENT,
            password=simulator.password,
        )
        with RoundTripClient(endpoint, AWAY_FROM_MARKET) as client:
            samples = client.ping_pong(sizes.rtt, warmup=200, label="simulator order round trip")
            sim_pipelined = client.pipelined(sizes.pipelined, label="simulator orders pipelined")
            if client.errors:
                raise BenchError(f"QuickFIX callback errors: {client.errors[:3]}")
    sim_stats = LatencyStats.from_samples_ns("simulator order round trip", samples)
    report.add_latency(sim_stats, baselines=[echo_stats, socket_stats], note="IOC away from market")
    report.add_latency(echo_stats, baselines=[socket_stats])
    report.add_latency(socket_stats)
    report.add_throughput(sim_pipelined, baseline=echo_pipelined)
    # Against its own ping-pong rate: a ratio near 1 means the simulator, not the round trip,
    # is what limits the rate (each order is validated, committed to SQLite and answered twice).
    ping_pong_rate = Throughput(
        name="simulator order ping-pong",
        operations=sim_stats.count,
        elapsed_ns=max(sum(samples), 1),
    )
    report.add_throughput(sim_pipelined, baseline=ping_pong_rate)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sim_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations and round trips")
    parser.add_argument("--in-process-only", action="store_true", help="skip the FIX round trip")
    parser.add_argument(
        "--sim-config", type=Path, default=SIM_CONFIG, help="simulator settings file (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    rss_at_start = peak_rss_mib()
    report = Report("sim_bench")
    operations = operation_stream(sizes.matching_ops)
    measure_in_process(report, operations)
    status = 0
    if not args.in_process_only:
        try:
            measure_fix_round_trip(report, sizes, args.sim_config.resolve())
        except SimulatorMissing as missing:
            print(f"sim_bench: FIX round trip skipped: {missing}", file=sys.stderr)
        except BenchError as error:
            print(f"sim_bench: FIX round trip failed: {error}", file=sys.stderr)
            status = 1
    report.add_memory(baseline_mib=rss_at_start, baseline="peak RSS at start")
    report.print_table()
    report.save()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
