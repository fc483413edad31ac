"""The decision path when bookkeeping fails, the feed restarts or an input is not what the model
was trained on: safety checks keep running, the feature series starts over, and the decision
falls back with a reason of its own."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.decision import build_sink
from gateway.decision.sink import DecisionSink
from gateway.features import kernels
from gateway.features.replay import replay_features
from gateway.features.store import read_decisions
from gateway.marketdata.book import MarketState
from gateway.marketdata.ticklog import TickLogWriter, read_ticklog
from tests.unit.decision.helpers import (
    T0_NS,
    Inc,
    RecordingOrderPort,
    SyntheticMarket,
    constant_model_bytes,
    context,
    decode,
    incremental,
    register_model,
    snapshot,
)

FAST = {"tracing": False, "registry_poll_ms": 20, "store_flush_ms": 10, "budget_us": 1_000_000}


def _wait_for(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _step(sink: DecisionSink, market: SyntheticMarket) -> None:
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)


@pytest.fixture
def closing() -> Iterator[list[DecisionSink]]:
    sinks: list[DecisionSink] = []
    yield sinks
    for sink in sinks:
        sink.close()


def _sink(tmp_path: Path, orders: RecordingOrderPort, table: dict[str, Any], **kwargs: Any) -> DecisionSink:
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m", **kwargs)
    return build_sink(context(tmp_path, orders, table={**FAST, "full_position_bps": 1.0, **table}))


# ------------------------------------------------------------------- a feature store that is full


def test_a_full_feature_store_is_a_fallback_cause_and_the_kill_switch_still_works(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    switch = tmp_path / "KILL"
    sink = _sink(tmp_path, orders, {"risk": {"kill_switch_file": str(switch)}, "max_store_backlog_rows": 40})
    closing.append(sink)
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)
    sink.flush()
    connection = sink._store._conn
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages}")  # a real SQLITE_FULL on the next write

    for _ in range(60):
        _step(sink, market)
    _wait_for(lambda: sink.stats.store_failures > 0)
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)
    full_reason = sink.fallback_reason("ACME")
    switch.touch()
    _wait_for(lambda: sink._kill_switch)

    assert full_reason == "feature_store_unwritable"
    assert sink._store.backlog <= 4 * 40 and sink._store.rows_dropped > 0
    connection.execute("PRAGMA max_page_count = 1073741823")  # space again
    _wait_for(lambda: sink._store_error == "")
    _step(sink, market)
    assert sink.fallback_reason("ACME") == ""


# ------------------------------------------------------------------- the series restarts with the book


def test_the_first_decision_after_an_outage_starts_a_new_feature_series(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    sink = _sink(tmp_path, orders, {"warmup_steps": 4})
    closing.append(sink)
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)
    for _ in range(40):
        _step(sink, market)

    sink.on_session_down("FIX.4.4:FIXGW-MD->FIXSIM")
    ten_minutes_later = market.now_ns + 600 * 10**9
    sink.on_market_data(
        snapshot(
            "ACME",
            rpt_seq=500,
            bids=[("101.50", 10)],
            asks=[("101.52", 10)],
            seq=900,
            sending_ns=ten_minutes_later,
        ),
        "s",
        ten_minutes_later,
    )
    sink.flush()

    last = list(read_decisions(sink._store.path))[-1]
    features = dict(zip(kernels.FEATURE_NAMES, last.features, strict=True))
    assert features["ret_1_bps"] == 0.0 and features["rvol_32_bps"] == 0.0  # no step over the outage
    assert last.fallback_reason == "features_warming_up"


def test_replay_restarts_the_series_where_the_live_sink_did(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    sink = _sink(tmp_path, orders, {"warmup_steps": 2})
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)
    for _ in range(10):
        _step(sink, market)
    # a gap, then the snapshot the gateway asks for
    sink.on_market_data(
        incremental([Inc("0", "0", "ACME", "90.00", 1, 10_000)], seq=500, sending_ns=market.now_ns),
        "s",
        market.now_ns,
    )
    sink.on_market_data(
        snapshot(
            "ACME",
            rpt_seq=20_000,
            bids=[("99.00", 10)],
            asks=[("99.02", 10)],
            seq=501,
            sending_ns=market.now_ns,
        ),
        "s",
        market.now_ns,
    )
    sink.close()

    stored = {d.decision_no: d.features for d in read_decisions(sink._store.path)}
    assert sink._ticklog is not None
    replayed = {d.decision_no: d.features for d in replay_features(sink._ticklog.path)}
    assert replayed.keys() == stored.keys()
    assert all((replayed[n] == stored[n]).all() for n in stored)


def test_trade_flow_counted_before_a_new_snapshot_is_dropped() -> None:
    market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    market.apply(
        decode(
            snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS)
        ),
        T0_NS,
    )
    market.apply(decode(incremental([Inc("0", "2", "ACME", "100.01", 7, 2)], seq=3, sending_ns=T0_NS)), T0_NS)
    assert market.books["ACME"].buy_volume == 7

    market.apply(
        decode(
            snapshot("ACME", rpt_seq=9, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=4, sending_ns=T0_NS)
        ),
        T0_NS,
    )

    book = market.books["ACME"]
    assert book.take_trade_flow() == (0, 0) and book.epoch == 1


# ------------------------------------------------------------------- RptSeq starting over


@pytest.mark.parametrize("last", [90_000, 50])
def test_a_rpt_seq_that_starts_over_is_handled_like_a_gap(last: int) -> None:
    market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    market.apply(
        decode(
            snapshot(
                "ACME", rpt_seq=last, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS
            )
        ),
        T0_NS,
    )

    touched, issues = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "99.98", 10, 1)], seq=3, sending_ns=T0_NS)), T0_NS
    )

    assert touched == [] and [i.reason for i in issues] == ["sequence_gap"]
    assert not market.books["ACME"].usable and market.waiting == {"ACME"}


def test_a_recent_duplicate_is_still_only_skipped() -> None:
    market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    market.apply(
        decode(
            snapshot(
                "ACME", rpt_seq=500, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS
            )
        ),
        T0_NS,
    )

    touched, issues = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "99.98", 10, 480)], seq=3, sending_ns=T0_NS)), T0_NS
    )

    assert touched == [] and issues == [] and market.books["ACME"].usable


# ------------------------------------------------------------------- inputs the model never saw


def test_an_input_outside_the_trained_range_is_a_fallback_cause(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    # trained on a narrow spread: a 20 bps spread is far outside it
    ranges = [[-1.0, 1.0] for _ in kernels.MODEL_INPUT_NAMES]
    sink = _sink(tmp_path, orders, {}, metrics={"input_ranges": ranges})
    closing.append(sink)

    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.90", 10)], asks=[("100.10", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    assert sink.fallback_reason("ACME") == "invalid_input"
    assert orders.names() == []


def test_inputs_within_the_trained_range_follow_the_model(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    ranges = [[-1000.0, 1000.0] for _ in kernels.MODEL_INPUT_NAMES]
    sink = _sink(tmp_path, orders, {}, metrics={"input_ranges": ranges})
    closing.append(sink)

    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    assert sink.fallback_reason("ACME") == "" and orders.names() == ["submit"]


def test_a_non_finite_input_is_a_fallback_cause_even_without_recorded_ranges(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    # an absurd average cost: pnl_bps is beyond what a float32 model input can hold (inf)
    orders.set_position("ACME", 5, avg_cost="1e300")
    sink = _sink(tmp_path, orders, {})
    closing.append(sink)

    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    assert sink.fallback_reason("ACME") == "invalid_input"


# ------------------------------------------------------------------- a tick log on a full disk


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, mounted for the test (needs root; skipped where mounting is refused)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_a_tick_log_write_on_a_full_disk_keeps_its_records_for_the_next_try(small_filesystem: Path) -> None:
    writer = TickLogWriter(small_filesystem / "ticks.ticklog")
    filler = small_filesystem / "filler"
    with filler.open("wb", buffering=0) as handle:  # the disk fills up
        try:
            while True:
                handle.write(os.urandom(4096))
        except OSError:
            pass
    records = [f"8=FIX.4.4|35=X|34={n}|{os.urandom(24).hex()}" for n in range(200)]
    for n, raw in enumerate(records):
        writer.message(T0_NS + n, raw)

    with pytest.raises(OSError):
        writer.flush()
    assert writer.has_pending and writer.records_written == 0
    filler.unlink()  # space again
    written = writer.flush()
    writer.close()

    assert written == len(records)
    assert [r.raw for r in read_ticklog(small_filesystem / "ticks.ticklog")] == records  # type: ignore[union-attr]


def test_the_sink_keeps_deciding_while_its_tick_log_cannot_be_written(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    sink = _sink(tmp_path, orders, {})
    closing.append(sink)
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)
    ticklog = sink._ticklog
    assert ticklog is not None
    real_path = ticklog.path
    # the tick log's file descriptor now points at a device that is always full
    full = open("/dev/full", "wb", buffering=0)  # noqa: SIM115
    ticklog._file.close()
    ticklog._file = full
    for _ in range(20):
        _step(sink, market)
    _wait_for(lambda: sink.stats.decisions >= 21)
    time.sleep(0.1)

    assert ticklog.has_pending and ticklog.records_written >= 0
    assert sink.fallback_reason("ACME") == ""  # the tick log is a record, not a reason to stop
    ticklog._file = open(real_path, "ab", buffering=0)  # noqa: SIM115
    full.close()
    _wait_for(lambda: not ticklog.has_pending)
    assert sum(1 for _ in read_ticklog(real_path)) >= 21 + 21


def test_an_input_that_never_varied_in_training_is_not_bounded(tmp_path, closing) -> None:
    orders = RecordingOrderPort()
    orders.set_position("ACME", 3, avg_cost="100")  # position_frac != 0, unlike every training row
    ranges = [[-1000.0, 1000.0] for _ in kernels.MODEL_INPUT_NAMES]
    ranges[kernels.MODEL_INPUT_NAMES.index("position_frac")] = [0.0, 0.0]
    ranges[kernels.MODEL_INPUT_NAMES.index("pnl_bps")] = [0.0, 0.0]
    sink = _sink(tmp_path, orders, {}, metrics={"input_ranges": ranges})
    closing.append(sink)

    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    assert sink.fallback_reason("ACME") == ""
