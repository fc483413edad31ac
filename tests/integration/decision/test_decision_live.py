"""The decision path inside the running gateway, against the simulator over loopback: orders
from the model reach the venue and fill, a model activated while running takes over between two
messages, bad model output and a frozen feed fall back to the safe target, and the slippage of
every fill is measured from the real ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.inference import cli as model_cli
from gateway.tca.slippage import render, summarize
from tests.integration.gateway.harness import load, running_gateway, wait_until, write_gateway_toml
from tests.support.sim_process import start_simulator
from tests.unit.decision.helpers import constant_model_bytes, register_model

DECISION = """
[decision]
tracing = true
full_position_bps = 1.0
budget_us = 1000000
stale_after_ms = 600
registry_poll_ms = 50
store_flush_ms = 20

[decision.execution]
style = "marketable"
cap_ticks = 5

[decision.symbols.ACME]
max_position_lots = 3

[decision.symbols.BOLT]
max_position_lots = 1

[decision.symbols.CRUX]
max_position_lots = 1
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("decision-live")
    registry = root / "gw" / "state" / "decision" / "models"
    register_model(registry, constant_model_bytes(1.0), name="long")
    sim = start_simulator(root, md_interval_ms=20)
    try:
        config = load(write_gateway_toml(root / "gw", sim.port, extra=DECISION), sim.port)
        with running_gateway(config) as gateway:
            yield {"gateway": gateway, "sim": sim, "registry": registry, "root": root}
    finally:
        sim.stop()


def _query(gateway: Any, sql: str) -> list[tuple[Any, ...]]:
    gateway.sink.flush()
    with sqlite3.connect(gateway.state_dir / "decision" / "features.sqlite") as db:
        return db.execute(sql).fetchall()


def _venue_qty(sim: Any, symbol: str) -> int:
    return int(sim.control.positions("FIXGW").get(symbol, {}).get("qty", 0))


def test_model_target_is_reached_at_the_venue(live) -> None:
    gateway, sim = live["gateway"], live["sim"]

    wait_until(
        lambda: _venue_qty(sim, "ACME") == 3 and _venue_qty(sim, "CRUX") == 100, 20, "long target filled"
    )

    decisions = _query(gateway, "SELECT count(*), min(model_version), max(model_version) FROM decisions")
    assert decisions[0][0] > 0 and decisions[0][1:] == (1, 1)
    with sqlite3.connect(gateway.ledger.path) as ledger:
        tagged = ledger.execute("SELECT count(*) FROM orders WHERE decision_id IS NOT NULL").fetchone()[0]
    # The ledger row is written before the order leaves, the store row just after: every order
    # the ledger holds from the decision path shows up in orders_sent.
    assert tagged > 0
    wait_until(lambda: _query(gateway, "SELECT count(*) FROM orders_sent")[0][0] >= tagged, 5, "orders_sent")


def test_activation_while_running_switches_between_messages(live) -> None:
    gateway, sim, registry = live["gateway"], live["sim"], live["registry"]
    version = register_model(registry, constant_model_bytes(-1.0), name="short", activate=False)

    assert model_cli.main(["activate", "--registry", str(registry), str(version)]) == 0
    wait_until(lambda: _venue_qty(sim, "ACME") == -3, 20, "short target filled")

    rows = _query(gateway, "SELECT decision_no, model_version, output FROM decisions ORDER BY decision_no")
    switch = next(i for i, row in enumerate(rows) if row[1] == version)
    assert all(row[1] == 1 and row[2] == 1.0 for row in rows[:switch])
    assert all(row[1] == version and row[2] == -1.0 for row in rows[switch:])


def test_nan_model_falls_back_to_flat_at_the_venue_and_records_why(live) -> None:
    gateway, sim, registry = live["gateway"], live["sim"], live["registry"]
    register_model(registry, constant_model_bytes(float("nan")), name="nan")

    wait_until(lambda: _venue_qty(sim, "ACME") == 0 and _venue_qty(sim, "CRUX") == 0, 20, "flat at the venue")

    events = _query(gateway, "SELECT symbol, event, reason FROM fallback_events WHERE reason = 'nan_output'")
    assert {("ACME", "enter", "nan_output"), ("CRUX", "enter", "nan_output")} <= set(events)


def test_frozen_feed_is_stale_asks_for_a_snapshot_and_recovers(live) -> None:
    gateway, sim, registry = live["gateway"], live["sim"], live["registry"]
    register_model(registry, constant_model_bytes(1.0), name="long-again")
    wait_until(lambda: gateway.sink.fallback_reason("ACME") == "", 10, "back on the model")

    sim.control.set_fault("freeze_market_data", 1)
    try:
        wait_until(lambda: gateway.sink.fallback_reason("ACME") == "stale_market_data", 10, "stale")
    finally:
        sim.control.clear_faults()
    wait_until(lambda: gateway.sink.fallback_reason("ACME") == "", 10, "recovered after the feed resumed")

    md = _query(gateway, "SELECT reason, snapshot_requested FROM md_events WHERE symbol = 'ACME'")
    assert ("stale_market_data", 1) in md
    events = _query(
        gateway, "SELECT event FROM fallback_events WHERE symbol = 'ACME' AND reason = 'stale_market_data'"
    )
    assert ("enter",) in events and ("exit",) in events


def test_slippage_of_every_decision_fill_is_measured_from_the_ledger(live, tmp_path: Path) -> None:
    gateway = live["gateway"]
    gateway.sink.flush()

    def decision_fills() -> int:
        with sqlite3.connect(gateway.ledger.path) as ledger:
            count: int = ledger.execute(
                "SELECT count(*) FROM fills f JOIN orders o USING (order_key) WHERE o.decision_id IS NOT NULL"
            ).fetchone()[0]
        return count

    # the gateway keeps trading while the summary is made: it counts what was there at its moment
    before = decision_fills()
    summary = summarize(gateway.ledger.path, gateway.state_dir / "decision" / "features.sqlite")
    after = decision_fills()
    paths = render(summary, tmp_path)

    assert before <= summary.fills + summary.unmatched_fills <= after and summary.fills > 0
    assert summary.unmatched_fills == 0
    # Marketable buys pay at least the ask: cost vs the mid is positive for every fill.
    assert all(row.vs_decision_bps > -50 for row in summary.rows)
    assert paths["png"].stat().st_size > 1000 and "fills" in paths["text"].read_text()
    stored = _query(gateway, "SELECT count(*) FROM slippage")[0][0]
    assert stored == summary.fills


def test_decision_spans_have_a_child_per_stage_and_name_the_orders_they_sent(live) -> None:
    import json

    gateway = live["gateway"]

    def exported() -> list[dict[str, Any]]:
        gateway.telemetry.provider.force_flush()
        lines = (gateway.state_dir / "spans.jsonl").read_text().splitlines()
        spans = [json.loads(line) for line in lines if line.strip()]
        decided = {
            d
            for s in spans
            if s["name"] == "fixgw.decision"
            for d in s["attributes"].get("fixgw.decision_ids", [])
        }
        # An order span is written at the order's final report: wait until one has been exported.
        joined = [
            s
            for s in spans
            if s["name"] == "fixgw.order" and s["attributes"].get("fixgw.decision_id") in decided
        ]
        return spans if joined else []

    spans = wait_until(exported, 10, "an order span joined to a decision span")
    names = {span["name"] for span in spans}
    assert {
        "fixgw.decision",
        "fixgw.decision.book",
        "fixgw.decision.features",
        "fixgw.decision.inference",
        "fixgw.decision.risk",
        "fixgw.decision.send",
    } <= names
    decision_spans = {s["span_id"]: s for s in spans if s["name"] == "fixgw.decision"}
    # The sink's recorder thread ends a decision span up to store_flush_ms after its send stage
    # ended on the callback: only traces whose decision span is already exported are complete.
    complete_traces = {s["trace_id"] for s in decision_spans.values()}
    stages = [
        s
        for s in spans
        if s["name"].startswith("fixgw.decision.")
        and s["name"] != "fixgw.decision.warmup"
        and s["trace_id"] in complete_traces
    ]
    assert stages and all(s["parent_span_id"] in decision_spans for s in stages)
    children: dict[str, set[str]] = {}
    for stage in stages:
        children.setdefault(stage["parent_span_id"], set()).add(stage["name"])
    # Every decision span has its four stage children (and a send child when it sent orders).
    assert all(
        {"fixgw.decision.book", "fixgw.decision.features", "fixgw.decision.inference", "fixgw.decision.risk"}
        <= children.get(span_id, set())
        for span_id, span in decision_spans.items()
        if span["attributes"].get("fixgw.decision_ids")  # a run on a one-sided book decides nothing
    )
    sends = {s["parent_span_id"]: s for s in stages if s["name"] == "fixgw.decision.send"}
    by_decision_id = {
        d: s for s in decision_spans.values() for d in s["attributes"].get("fixgw.decision_ids", [])
    }
    joined = 0
    for order in (s for s in spans if s["name"] == "fixgw.order"):
        decision = by_decision_id.get(order["attributes"].get("fixgw.decision_id"))
        if decision is not None:  # the decision's send stage names the order it sent
            joined += 1
            assert (
                order["attributes"]["fix.cl_ord_id"]
                in sends[decision["span_id"]]["attributes"]["fix.cl_ord_ids"]
            )
    assert joined > 0


def test_the_live_session_replays_to_the_same_features_bit_for_bit(live, capsys) -> None:
    from gateway.features import cli as features_cli

    gateway = live["gateway"]
    # Enough decisions to compare, however slowly a loaded machine ran the tests before this one.
    wait_until(lambda: _query(gateway, "SELECT count(*) FROM decisions")[0][0] > 150, 20, "150 decisions")
    gateway.sink.flush()

    status = features_cli.main(["build", "--state-dir", str(gateway.state_dir / "decision"),
                                "--out", str(live["root"] / "features.csv")])  # fmt: skip

    out = capsys.readouterr().out
    assert status == 0, out
    compared = int(out.split("; ")[1].split(" compared")[0])
    assert compared > 100 and out.rstrip().endswith("0 differ")
