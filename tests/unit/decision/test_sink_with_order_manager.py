"""The decision sink with the real order manager (a recording FIX sender): when a symbol's market
data becomes unusable, every order working on it is cancelled, including one whose request is
still in flight."""

from __future__ import annotations

from decimal import Decimal

from gateway.decision import build_sink
from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from tests.unit.decision.helpers import (
    T0_NS,
    Inc,
    constant_model_bytes,
    context,
    incremental,
    register_model,
    snapshot,
)
from tests.unit.gateway.factories import make_oms, present, report

FAST = {
    "tracing": False,
    "registry_poll_ms": 20,
    "store_flush_ms": 10,
    "budget_us": 1_000_000,
    "full_position_bps": 1.0,
}


def _sink(tmp_path, oms):
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m")
    return build_sink(context(tmp_path, oms, table=FAST, snapshots=[]))


def _book(sink, seq: int) -> None:
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=seq, sending_ns=T0_NS),
        "s",
        T0_NS,
    )


def _gap(sink, seq: int) -> None:
    sink.on_market_data(
        incremental([Inc("0", "0", "ACME", "99.98", 10, 5)], seq=seq, sending_ns=T0_NS), "s", T0_NS
    )


def test_a_gap_cancels_an_order_the_venue_has_not_acknowledged_yet(tmp_path):
    oms, _, sender = make_oms(tmp_path / "oms")
    sink = _sink(tmp_path, oms)
    try:
        _book(sink, seq=2)
        (new_order,) = sender.of_type("D")

        _gap(sink, seq=3)
        assert sink.fallback_reason("ACME") == "sequence_gap"
        assert sender.of_type("F") == []  # nothing to cancel at the venue yet
        oms.on_execution_report(report(new_order[11], E.NEW, S.NEW, leaves_qty=int(new_order[38])))

        assert [f[41] for f in sender.of_type("F")] == [new_order[11]]
    finally:
        sink.close()


def test_a_gap_cancels_an_order_whose_replace_is_in_flight(tmp_path):
    oms, _, sender = make_oms(tmp_path / "oms")
    sink = _sink(tmp_path, oms)
    try:
        _book(sink, seq=2)
        cl = sender.of_type("D")[0][11]
        oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=int(sender.of_type("D")[0][38])))
        request = present(oms.replace(cl, price=Decimal("99.98")).cl_ord_id)

        _gap(sink, seq=3)
        oms.on_execution_report(
            report(request, E.REPLACED, S.NEW, orig_cl_ord_id=cl, leaves_qty=1, order_qty=1, price="99.98")
        )

        assert [f[41] for f in sender.of_type("F")] == [request]
    finally:
        sink.close()
