"""Market data a venue (or whoever holds the session) should never send: a number too large for
the features, symbols nobody subscribed to, text beyond latin-1. None of it stalls a symbol, grows
the books or drops valid entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.decision import build_sink
from gateway.decision.sink import DecisionSink
from gateway.features.replay import replay_features
from gateway.features.store import read_decisions
from gateway.marketdata.decoder import FastDecoder
from tests.unit.decision.helpers import (
    T0_NS,
    Inc,
    RecordingOrderPort,
    constant_model_bytes,
    context,
    incremental,
    register_model,
    snapshot,
)

TABLE = {
    "tracing": False,
    "registry_poll_ms": 20,
    "store_flush_ms": 10,
    "budget_us": 1_000_000,
    "full_position_bps": 1.0,
}


@pytest.fixture
def orders() -> RecordingOrderPort:
    return RecordingOrderPort()


@pytest.fixture
def sink(tmp_path: Path, orders: RecordingOrderPort) -> Iterator[DecisionSink]:
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="m")
    requested: list[str] = []
    built = build_sink(context(tmp_path, orders, table=TABLE, snapshots=requested))
    built.requested = requested  # type: ignore[attr-defined]
    try:
        built.on_market_data(
            snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
            "s",
            T0_NS,
        )
        yield built
    finally:
        built.close()


def test_a_400_digit_size_is_refused_and_the_symbol_falls_back_instead_of_stalling(sink, orders) -> None:
    assert orders.names() == ["submit"]

    hostile = incremental([Inc("1", "0", "ACME", "99.99", 10, 2)], seq=3, sending_ns=T0_NS).toString()
    sink.on_raw_market_data(hostile.replace("271=10\x01", "271=" + "9" * 400 + "\x01"), T0_NS + 1)
    for n in range(20):
        sink.on_market_data(
            incremental([Inc("1", "1", "ACME", "100.01", 20 + n, 3 + n)], seq=4 + n, sending_ns=T0_NS),
            "s",
            T0_NS + 2 + n,
        )

    assert sink.stats.undecodable == 1 and sink.stats.errors == 0
    assert sink.fallback_reason("ACME") == "sequence_gap"  # the refused entry left a hole
    book = sink.market.books["ACME"]
    assert not book.usable and all(size < 10**12 for size in book.bids.values())
    assert "cancel_working" in orders.names() and not orders.orders


def test_entries_for_symbols_nobody_subscribed_to_are_dropped_and_counted(sink) -> None:
    for batch in range(40):
        entries = [Inc("0", "0", f"J{batch * 50 + k}", "1.00", 1, 1) for k in range(50)]
        sink.on_market_data(incremental(entries, seq=3 + batch, sending_ns=T0_NS), "s", T0_NS)

    assert set(sink.market.books) == {"ACME"}
    assert sink.market.foreign_entries == 2000
    assert sink.market.waiting == set() and sink.requested == []


def test_text_beyond_latin_1_does_not_drop_the_messages_entries(tmp_path, sink) -> None:
    raw = incremental([Inc("1", "0", "ACME", "99.98", 15, 2)], seq=3, sending_ns=T0_NS).toString()
    with_text = raw.replace("\x0110=", "\x0158=caf\u00e9 \u682a\x0110=")
    assert FastDecoder().decode(with_text) is None  # the compiled path hands it over

    sink.on_raw_market_data(with_text, T0_NS + 1)
    sink.close()

    assert sink.market.books["ACME"].bids == {9_998_000_000: 15, 9_999_000_000: 10}
    assert sink.stats.undecodable == 0
    stored = {d.decision_no: d.features for d in read_decisions(sink._store.path)}
    assert sink._ticklog is not None
    replayed = {d.decision_no: d.features for d in replay_features(sink._ticklog.path)}
    assert replayed.keys() == stored.keys() and all((replayed[n] == stored[n]).all() for n in stored)
