"""The decision sink end to end in one process: real quickfix messages in, real ONNX models,
real SQLite feature store, orders out through a recording OrderPort."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.decision import DecisionConfigError, build_sink
from gateway.decision.sink import DecisionSink
from gateway.domain.ports import SubmitResult
from gateway.features import kernels
from gateway.inference.registry import ModelRegistry
from tests.unit.decision.helpers import (
    T0_NS,
    Inc,
    RecordingOrderPort,
    SyntheticMarket,
    constant_model_bytes,
    context,
    failing_model_bytes,
    incremental,
    register_model,
    single_row_model_bytes,
    snapshot,
)

# A generous budget: only the budget test may fall back for time on this shared machine.
FAST = {"tracing": False, "registry_poll_ms": 20, "store_flush_ms": 10, "budget_us": 1_000_000}


@pytest.fixture
def orders() -> RecordingOrderPort:
    return RecordingOrderPort()


def _sink(
    tmp_path: Path,
    orders: RecordingOrderPort,
    model: bytes | None,
    table: dict[str, Any] | None = None,
    snapshots: list[str] | None = None,
) -> DecisionSink:
    if model is not None:
        register_model(tmp_path / "decision" / "models", model, name="m")
    return build_sink(context(tmp_path, orders, table={**FAST, **(table or {})}, snapshots=snapshots))


@pytest.fixture
def closing() -> Iterator[list[DecisionSink]]:
    sinks: list[DecisionSink] = []
    yield sinks
    for sink in sinks:
        sink.close()


def _feed(sink: DecisionSink, market: SyntheticMarket, steps: int) -> None:
    sink.on_market_data(market.first(), "FIXSIM", market.now_ns)
    for _ in range(steps):
        message, recv_ns = market.step()
        sink.on_market_data(message, "FIXSIM", recv_ns)


def _rows(sink: DecisionSink, query: str) -> list[tuple[Any, ...]]:
    sink.flush()
    with sqlite3.connect(sink._store.path) as conn:
        return conn.execute(query).fetchall()


def test_model_output_becomes_a_limit_order_at_the_touch(tmp_path, orders, closing) -> None:
    # Constant +1 bps with full_position_bps 1 -> max position (5 lots of ACME = 5).
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), {"full_position_bps": 1.0})
    closing.append(sink)
    market = SyntheticMarket()

    _feed(sink, market, 3)

    submits = [args for name, args in orders.calls if name == "submit"]
    assert submits[0]["side"] == "1" and submits[0]["qty"] == 5 and submits[0]["ord_type"] == "2"
    assert str(submits[0]["price"]) == "99.99"  # the bid of the first snapshot
    assert submits[0]["decision_id"].startswith(sink.run_id)
    assert len(orders.orders) == 1  # one working order per side, not one per tick
    rows = _rows(sink, "SELECT symbol, output, target_qty, fallback_reason, model_version FROM decisions")
    assert len(rows) == 4 and all(r[:4] == ("ACME", 1.0, 5, "") for r in rows)


def test_passive_order_follows_the_touch_with_replace(tmp_path, orders, closing) -> None:
    sink = _sink(
        tmp_path,
        orders,
        constant_model_bytes(1.0),
        {"full_position_bps": 1.0, "execution": {"min_replace_interval_ms": 0}},
    )
    closing.append(sink)
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    sink.on_market_data(
        incremental([Inc("0", "0", "ACME", "100.00", 10, 2)], seq=3, sending_ns=T0_NS), "s", T0_NS
    )

    assert orders.names() == ["submit", "replace"]
    assert str(orders.calls[1][1]["price"]) == "100.00"
    assert [str(o.price) for o in orders.orders.values()] == ["100.00"]


def test_every_decision_is_recorded_with_its_message_and_features(
    tmp_path, orders, closing, model_bytes
) -> None:
    sink = _sink(tmp_path, orders, model_bytes)
    closing.append(sink)
    market = SyntheticMarket()

    _feed(sink, market, 20)

    rows = _rows(
        sink,
        "SELECT msg_type, msg_seq_num, rpt_seq, length(features), model_version, output, latency_ns"
        " FROM decisions ORDER BY decision_no",
    )
    assert len(rows) == 21
    assert rows[0][0] == "W" and rows[-1][0] == "X"
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert rows[-1][2] == market.rpt_seq
    assert all(r[3] == 8 * kernels.N_FEATURES and r[4] == 1 and r[5] is not None and r[6] > 0 for r in rows)


@pytest.mark.parametrize(
    ("model", "table", "reason"),
    [
        (constant_model_bytes(float("nan")), {}, "nan_output"),
        (constant_model_bytes(float("inf")), {}, "nan_output"),
        (constant_model_bytes(5000.0), {"max_abs_output_bps": 100.0}, "output_out_of_range"),
        (failing_model_bytes(), {}, "inference_error"),
        (constant_model_bytes(1.0), {"budget_us": 1}, "budget_overrun"),
    ],
    ids=["nan", "inf", "out_of_range", "inference_exception_on_load", "budget_overrun"],
)
def test_bad_inference_falls_back_to_the_safe_target(tmp_path, orders, closing, model, table, reason) -> None:
    orders.set_position("ACME", 3, avg_cost="100")
    sink = _sink(tmp_path, orders, model, {"safe_target": "flat", **table})
    closing.append(sink)

    _feed(sink, SyntheticMarket(), 2)

    # flat: sell the 3 held, passively at the offer.
    first = orders.calls[0]
    assert first[0] == "submit" and first[1]["side"] == "2" and first[1]["qty"] == 3
    assert str(first[1]["price"]) == "100.01"
    decisions = _rows(sink, "SELECT target_qty, fallback_reason FROM decisions")
    assert decisions and all(r == (0, reason) for r in decisions)
    events = _rows(sink, "SELECT symbol, event, reason, safe_target FROM fallback_events")
    assert events == [("ACME", "enter", reason, "flat")]


@pytest.mark.parametrize(("policy", "expected"), [("hold", 3), ("reduce_only", 2), ("flat", 0)])
def test_safe_target_policies(tmp_path, orders, closing, policy, expected) -> None:
    orders.set_position("ACME", 3, avg_cost="100")
    sink = _sink(tmp_path, orders, constant_model_bytes(float("nan")), {"safe_target": policy})
    closing.append(sink)

    _feed(sink, SyntheticMarket(), 1)

    assert {r[0] for r in _rows(sink, "SELECT target_qty FROM decisions")} == {expected}


def test_missing_model_file_falls_back_then_recovers_when_a_good_model_is_activated(
    tmp_path, orders, closing, model_bytes
) -> None:
    registry_dir = tmp_path / "decision" / "models"
    register_model(registry_dir, model_bytes, name="gone")
    for file in (registry_dir / "files").iterdir():
        file.unlink()
    sink = _sink(tmp_path, orders, None)
    closing.append(sink)
    market = SyntheticMarket()
    _feed(sink, market, 2)
    assert sink.fallback_reason("ACME") == "model_missing"

    version = register_model(registry_dir, constant_model_bytes(0.0), name="good")
    _wait_for(lambda: sink._pending_model is not None)
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)

    assert sink.fallback_reason("ACME") == ""
    events = _rows(sink, "SELECT event, reason FROM fallback_events ORDER BY id")
    assert events == [("enter", "model_missing"), ("exit", "model_missing")]
    assert _rows(sink, "SELECT model_version FROM decisions ORDER BY decision_no DESC LIMIT 1") == [
        (version,)
    ]


def test_corrupt_model_file_is_refused_by_its_sha256(tmp_path, orders, closing, model_bytes) -> None:
    registry_dir = tmp_path / "decision" / "models"
    register_model(registry_dir, model_bytes, name="m")
    (file,) = (registry_dir / "files").iterdir()
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))

    sink = _sink(tmp_path, orders, None)
    closing.append(sink)
    _feed(sink, SyntheticMarket(), 1)

    assert sink.fallback_reason("ACME") == "model_corrupt"
    assert _rows(sink, "SELECT DISTINCT fallback_reason, model_version FROM decisions") == [
        ("model_corrupt", 1)
    ]


def test_model_of_another_feature_schema_is_refused(tmp_path, orders, closing, model_bytes) -> None:
    register_model(tmp_path / "decision" / "models", model_bytes, name="old", schema_hash="0" * 64)
    sink = _sink(tmp_path, orders, None)
    closing.append(sink)

    _feed(sink, SyntheticMarket(), 1)

    assert sink.fallback_reason("ACME") == "feature_schema_mismatch"
    assert "0000000000" in _rows(sink, "SELECT detail FROM fallback_events")[0][0]


def test_gap_requests_a_snapshot_cancels_and_recovers_once_the_features_warmed_up_again(
    tmp_path, orders, closing
) -> None:
    snapshots: list[str] = []
    table = {"full_position_bps": 1.0, "warmup_steps": 3}
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), table, snapshots=snapshots)
    closing.append(sink)
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )
    assert len(orders.orders) == 1

    sink.on_market_data(
        incremental([Inc("0", "0", "ACME", "99.98", 10, 5)], seq=3, sending_ns=T0_NS), "s", T0_NS
    )

    assert snapshots == ["ACME"]
    assert orders.names()[-1] == "cancel_working" and not orders.orders
    assert sink.fallback_reason("ACME") == "sequence_gap"
    sink.on_market_data(
        snapshot("ACME", rpt_seq=9, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=4, sending_ns=T0_NS),
        "s",
        T0_NS + 1,
    )
    # the series starts over at the snapshot: the safe target until 3 steps are in
    assert sink.fallback_reason("ACME") == "features_warming_up" and not orders.orders
    for n in range(2):
        sink.on_market_data(
            incremental([Inc("1", "0", "ACME", "99.99", 11 + n, 10 + n)], seq=5 + n, sending_ns=T0_NS),
            "s",
            T0_NS + 2 + n,
        )
    assert sink.fallback_reason("ACME") == "" and len(orders.orders) == 1
    assert _rows(sink, "SELECT reason, snapshot_requested FROM md_events") == [("sequence_gap", 1)]


def test_stale_market_data_falls_back_and_asks_for_a_snapshot(tmp_path, orders, closing) -> None:
    snapshots: list[str] = []
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), {"max_md_age_ms": 100}, snapshots=snapshots)
    closing.append(sink)
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    sink.on_market_data(
        incremental([Inc("0", "0", "ACME", "99.98", 10, 2)], seq=3, sending_ns=T0_NS),
        "s",
        T0_NS + 500_000_000,
    )

    assert snapshots == ["ACME"] and sink.fallback_reason("ACME") == "stale_market_data"
    assert _rows(sink, "SELECT event, reason FROM fallback_events") == [("enter", "stale_market_data")]


def test_activation_switches_models_between_two_messages(tmp_path, orders, closing) -> None:
    registry_dir = tmp_path / "decision" / "models"
    sink = _sink(tmp_path, orders, constant_model_bytes(0.5))
    closing.append(sink)
    market = SyntheticMarket()
    _feed(sink, market, 3)
    second = register_model(registry_dir, constant_model_bytes(-0.5), name="second")

    _wait_for(lambda: sink._pending_model is not None)
    for _ in range(3):
        message, recv_ns = market.step()
        sink.on_market_data(message, "s", recv_ns)

    rows = _rows(sink, "SELECT model_version, output FROM decisions ORDER BY decision_no")
    assert rows == [(1, 0.5)] * 4 + [(second, -0.5)] * 3
    registry = ModelRegistry(registry_dir)
    registry.rollback()
    registry.close()
    _wait_for(lambda: sink._pending_model is not None)
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)
    assert _rows(sink, "SELECT model_version FROM decisions ORDER BY decision_no DESC LIMIT 1") == [(1,)]


def test_microbatch_mode_decides_every_touched_symbol_in_one_run(tmp_path, orders, closing) -> None:
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m")
    sink = build_sink(
        context(
            tmp_path,
            orders,
            table={**FAST, "mode": "microbatch", "full_position_bps": 1.0},
            symbols=("ACME", "CRUX"),
        )
    )
    closing.append(sink)
    for seq, symbol in enumerate(("ACME", "CRUX"), start=2):
        sink.on_market_data(
            snapshot(
                symbol, rpt_seq=1, bids=[("19.99", 100)], asks=[("20.01", 100)], seq=seq, sending_ns=T0_NS
            ),
            "s",
            T0_NS,
        )

    sink.on_market_data(
        incremental(
            [Inc("1", "0", "ACME", "19.99", 7, 2), Inc("1", "0", "CRUX", "19.99", 8, 2)],
            seq=5,
            sending_ns=T0_NS,
        ),
        "s",
        T0_NS,
    )

    rows = _rows(sink, "SELECT symbol, msg_seq_num, target_qty FROM decisions WHERE msg_seq_num = 5")
    assert rows == [("ACME", 5, 5), ("CRUX", 5, 500)]  # CRUX lot 100


def test_inference_exception_in_the_callback_falls_back_and_the_next_healthy_run_recovers(
    tmp_path, orders, closing
) -> None:
    register_model(tmp_path / "decision" / "models", single_row_model_bytes(), name="m")
    sink = build_sink(
        context(tmp_path, orders, table={**FAST, "mode": "microbatch"}, symbols=("ACME", "CRUX"))
    )
    closing.append(sink)
    for seq, symbol in enumerate(("ACME", "CRUX"), start=2):
        sink.on_market_data(
            snapshot(
                symbol, rpt_seq=1, bids=[("19.99", 100)], asks=[("20.01", 100)], seq=seq, sending_ns=T0_NS
            ),
            "s",
            T0_NS,
        )
    assert sink.fallback_reason("ACME") == ""

    both = incremental(
        [Inc("1", "0", "ACME", "19.99", 7, 2), Inc("1", "0", "CRUX", "19.99", 8, 2)], seq=5, sending_ns=T0_NS
    )
    sink.on_market_data(both, "s", T0_NS)
    assert sink.fallback_reason("ACME") == sink.fallback_reason("CRUX") == "inference_error"

    sink.on_market_data(
        incremental([Inc("1", "0", "ACME", "19.99", 9, 3)], seq=6, sending_ns=T0_NS), "s", T0_NS
    )
    assert sink.fallback_reason("ACME") == ""
    events = _rows(
        sink, "SELECT symbol, event, reason, detail FROM fallback_events WHERE symbol = 'ACME' ORDER BY id"
    )
    assert [e[:3] for e in events] == [
        ("ACME", "enter", "inference_error"),
        ("ACME", "exit", "inference_error"),
    ]
    assert "Error" in events[0][3] or "Fail" in events[0][3]  # onnxruntime's own message, kept


def test_kill_switch_stops_new_orders_from_the_first_tick(tmp_path, orders, closing) -> None:
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), {"risk": {"kill_switch": True}})
    closing.append(sink)

    _feed(sink, SyntheticMarket(), 2)

    assert orders.calls == [] and sink.stats.risk_denials > 0


def test_kill_switch_lets_cancels_through_and_stops_new_orders(tmp_path, orders, closing) -> None:
    switch = tmp_path / "KILL"
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), {"risk": {"kill_switch_file": str(switch)}})
    closing.append(sink)
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)
    (working,) = orders.orders  # a buy toward the model's long target
    switch.touch()
    _wait_for(lambda: sink._kill_switch)

    # now far above the target: the working buy must go, and the sell that would follow may not
    orders.set_position("ACME", 100, avg_cost="100")
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)

    assert ("cancel", {"cl_ord_id": working}) in orders.calls
    assert orders.names().count("submit") == 1 and sink.stats.risk_denials > 0


def test_one_bad_message_does_not_stop_the_next(tmp_path, orders, closing) -> None:
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0))
    closing.append(sink)
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)

    broken = incremental([Inc("0", "0", "ACME", "not-a-price", 1, 1)], seq=3, sending_ns=T0_NS)
    sink.on_market_data(broken, "s", T0_NS)
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)

    assert sink.stats.undecodable == 1 and sink.stats.decisions == 2
    assert _rows(sink, "SELECT reason FROM md_events") == [("undecodable",)]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"budget_usec": 5}, "decision.budget_usec: unknown key"),
        ({"risk": {"max_qty": 5}}, "decision.risk.max_qty: unknown key"),
        ({"mode": "fast"}, "decision.mode: 'fast' is not one of"),
        ({"symbols": {"ACME": {"lot": 3}}}, "decision.symbols.ACME.lot: unknown key"),
        ({"symbols": {"ZZZ": {}}}, "decision.symbols.ZZZ: not one of"),
        ({"execution": {"cap_ticks": -1}}, "decision.execution.cap_ticks: must not be negative"),
    ],
)
def test_bad_decision_table_is_refused_naming_the_key(tmp_path, orders, table, message) -> None:
    with pytest.raises(DecisionConfigError, match=message.replace(".", r"\.")):
        build_sink(context(tmp_path, orders, table=table))


def _wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_a_feed_that_goes_quiet_is_noticed_without_any_message(tmp_path, orders, closing) -> None:
    snapshots: list[str] = []
    clock_now = [T0_NS]
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m")
    ctx = context(
        tmp_path, orders, table={**FAST, "stale_after_ms": 200, "full_position_bps": 1.0}, snapshots=snapshots
    )
    ctx = type(ctx)(
        **{**{f: getattr(ctx, f) for f in ctx.__dataclass_fields__}, "clock_ns": lambda: clock_now[0]}
    )
    sink = build_sink(ctx)
    closing.append(sink)
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )
    assert len(orders.orders) == 1

    clock_now[0] = T0_NS + 1_000_000_000
    _wait_for(lambda: sink.fallback_reason("ACME") == "stale_market_data")

    assert snapshots == ["ACME"] and not orders.orders


def test_an_empty_registry_is_seeded_with_the_shipped_model_sha256_verified(
    tmp_path, orders, closing
) -> None:
    from gateway.decision import decision_table_default

    sink = build_sink(context(tmp_path, orders, table={**decision_table_default(), **FAST}))
    closing.append(sink)

    assert sink.model.error_reason == "" and sink.model.record is not None
    assert sink.model.record.name == "default-mlp" and sink.model.record.source.startswith("shipped default")
    _feed(sink, SyntheticMarket(), 5)
    outputs = _rows(sink, "SELECT output, fallback_reason FROM decisions")
    assert len(outputs) == 6 and all(o is not None and r == "" for o, r in outputs)


def test_a_shipped_model_whose_file_does_not_match_its_metadata_is_refused(tmp_path) -> None:
    import json
    import shutil

    from gateway.inference.registry import DEFAULT_MODEL_DIR, RegistryError

    shipped = tmp_path / "shipped"
    shutil.copytree(DEFAULT_MODEL_DIR, shipped)
    metadata = json.loads((shipped / "metadata.json").read_text())
    metadata["sha256"] = "f" * 64
    (shipped / "metadata.json").write_text(json.dumps(metadata))
    registry = ModelRegistry(tmp_path / "registry")

    with pytest.raises(RegistryError, match="does not match its metadata"):
        registry.ensure_default(shipped)
    registry.close()


def test_market_data_request_reject_is_recorded(tmp_path, orders, closing) -> None:
    import quickfix as fix

    sink = _sink(tmp_path, orders, constant_model_bytes(1.0))
    closing.append(sink)
    reject = fix.Message()
    header = reject.getHeader()
    header.setField(fix.BeginString("FIX.4.4"))
    header.setField(fix.MsgType("Y"))
    header.setField(34, "7")
    header.setField(52, "20261129-21:00:00.000")
    reject.setField(262, "md-9")
    reject.setField(281, "0")
    reject.setField(58, "unknown symbol ZZZ")

    sink.on_market_data(reject, "s", T0_NS)

    assert _rows(sink, "SELECT reason, detail FROM md_events") == [
        ("md_request_rejected", "MDReqID(262)=md-9 reason=0 unknown symbol ZZZ")
    ]


def test_kill_switch_file_stops_new_orders_within_a_poll(tmp_path, orders, closing) -> None:
    switch = tmp_path / "KILL"
    sink = _sink(
        tmp_path,
        orders,
        constant_model_bytes(1.0),
        {"full_position_bps": 1.0, "risk": {"kill_switch_file": str(switch)}},
    )
    closing.append(sink)
    market = SyntheticMarket()
    sink.on_market_data(market.first(), "s", market.now_ns)
    assert orders.names() == ["submit"]
    orders.orders.clear()

    switch.touch()
    _wait_for(lambda: sink._kill_switch)
    message, recv_ns = market.step()
    sink.on_market_data(message, "s", recv_ns)

    assert orders.names() == ["submit"] and sink.stats.risk_denials == 1


def test_shadow_mode_decides_and_records_but_sends_nothing(tmp_path, orders, closing) -> None:
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), {"trade": False, "full_position_bps": 1.0})
    closing.append(sink)

    _feed(sink, SyntheticMarket(), 5)

    assert orders.calls == []
    assert _rows(sink, "SELECT count(*), min(target_qty) FROM decisions") == [(6, 5)]


def test_a_decision_that_raises_moves_its_symbol_to_the_safe_target_instead_of_repeating(
    tmp_path, orders, closing, caplog
) -> None:
    class BrokenPositions(RecordingOrderPort):
        def position(self, symbol):
            raise RuntimeError("position service down")

    broken = BrokenPositions()
    sink = _sink(tmp_path, broken, constant_model_bytes(1.0))
    closing.append(sink)

    with caplog.at_level("ERROR", logger="fixgw.decision"):
        _feed(sink, SyntheticMarket(), 20)

    # the first failure moves the symbol to its safe target until a fresh snapshot: it does
    # not fail again on every tick
    assert sink.stats.errors == 1
    assert sink.fallback_reason("ACME") == "decision_error"
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1


def _first_order(sink: DecisionSink, orders: RecordingOrderPort) -> str:
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )
    (cl_ord_id,) = orders.orders
    return cl_ord_id


def test_an_order_busy_with_a_replace_when_the_session_drops_is_cancelled_once_it_is_free(
    tmp_path, orders, closing
) -> None:
    sink = _sink(tmp_path, orders, constant_model_bytes(1.0), {"full_position_bps": 1.0})
    closing.append(sink)
    cl_ord_id = _first_order(sink, orders)
    orders.orders[cl_ord_id] = dataclasses.replace(orders.orders[cl_ord_id], pending="replace")

    sink.on_session_down("FIX.4.4:FIXGW-MD->FIXSIM")
    assert cl_ord_id in orders.orders  # its replace is still in flight
    orders.orders[cl_ord_id] = dataclasses.replace(orders.orders[cl_ord_id], pending="")  # answered

    # no more market data comes: the recorder thread asks again while the book stays unusable
    _wait_for(lambda: cl_ord_id not in orders.orders)
    assert sink.fallback_reason("ACME") == "stale_market_data"


def test_an_order_busy_when_a_gap_opens_is_cancelled_by_the_next_message_while_waiting(
    tmp_path, orders, closing
) -> None:
    sink = _sink(
        tmp_path, orders, constant_model_bytes(1.0), {"full_position_bps": 1.0, "registry_poll_ms": 60_000}
    )
    closing.append(sink)
    cl_ord_id = _first_order(sink, orders)
    orders.orders[cl_ord_id] = dataclasses.replace(orders.orders[cl_ord_id], pending="new")
    sink.on_market_data(
        incremental([Inc("0", "0", "ACME", "99.98", 10, 5)], seq=3, sending_ns=T0_NS), "s", T0_NS
    )
    assert cl_ord_id in orders.orders
    orders.orders[cl_ord_id] = dataclasses.replace(orders.orders[cl_ord_id], pending="")

    sink.on_market_data(
        incremental([Inc("1", "0", "ACME", "99.99", 11, 6)], seq=4, sending_ns=T0_NS), "s", T0_NS
    )

    assert cl_ord_id not in orders.orders


def test_safe_target_flat_flattens_a_position_worth_more_than_max_notional(tmp_path, orders, closing) -> None:
    orders.set_position("ACME", 2000, avg_cost="150")
    sink = _sink(
        tmp_path,
        orders,
        constant_model_bytes(float("nan")),
        {"safe_target": "flat", "symbols": {"ACME": {"max_position_lots": 2000}}},
    )
    closing.append(sink)

    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("150.00", 500)], asks=[("150.02", 500)], seq=2, sending_ns=T0_NS),
        "s",
        T0_NS,
    )

    assert sink.fallback_reason("ACME") == "nan_output"
    (submitted,) = [kwargs for name, kwargs in orders.calls if name == "submit"]
    assert submitted["side"] == "2" and submitted["qty"] * submitted["price"] <= 100_000
    assert sink.stats.risk_denials == 0


def test_realtime_budget_counts_from_the_messages_receipt_for_every_symbol(tmp_path, closing) -> None:
    class SlowOrders(RecordingOrderPort):
        def submit(self, **kwargs: Any) -> SubmitResult:
            time.sleep(0.02)  # a slow ledger commit or send: 20 ms
            return super().submit(**kwargs)

    orders = SlowOrders()
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m")
    table = {**FAST, "mode": "realtime", "budget_us": 5000, "full_position_bps": 1.0}
    sink = build_sink(context(tmp_path, orders, symbols=("ACME", "CRUX"), table=table))
    closing.append(sink)
    for seq, symbol in enumerate(("ACME", "CRUX"), start=2):
        sink.on_market_data(
            snapshot(
                symbol, rpt_seq=1, bids=[("19.99", 100)], asks=[("20.01", 100)], seq=seq, sending_ns=T0_NS
            ),
            "s",
            T0_NS,
        )
    orders.orders.clear()  # both symbols want a new order again

    both = [Inc("1", "0", "ACME", "19.99", 7, 2), Inc("1", "0", "CRUX", "19.99", 8, 2)]
    sink.on_market_data(incremental(both, seq=5, sending_ns=T0_NS), "s", T0_NS)

    rows = dict(_rows(sink, "SELECT symbol, fallback_reason FROM decisions WHERE msg_seq_num = 5"))
    assert rows["CRUX"] == "budget_overrun"  # decided after ACME's 20 ms send
