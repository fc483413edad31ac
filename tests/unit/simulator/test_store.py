"""The venue's SQLite file: what a restarted venue gets back is what was committed."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from simulator.book import BookSide
from simulator.instruments import default_instruments
from simulator.store import VenueStore
from simulator.venue import NewOrderRequest, Venue


def _order(cl_ord_id: str, price: str, qty: int = 100, tif: str = "1") -> NewOrderRequest:
    return NewOrderRequest(
        session_key="FIX.4.4:FIXSIM->FIXGW",
        account="FIXGW",
        cl_ord_id=cl_ord_id,
        symbol="ACME",
        side="1",
        ord_type="2",
        order_qty=Decimal(qty),
        price=Decimal(price),
        time_in_force=tif,
    )


def test_orders_fills_positions_and_book_priority_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    store = VenueStore(path)
    boot = store.start_boot()
    venue = Venue(default_instruments(), clock_ns=iter(range(1, 10**9)).__next__, id_prefix=str(boot))
    venue.place_background("ACME", BookSide.ASK, 10000, 60)
    for request in (_order("filled", "100.00"), _order("first", "99.00"), _order("second", "99.00")):
        store.save(venue.new_order(request))
    store.close()

    reopened = VenueStore(path)
    second_boot = reopened.start_boot()
    state = reopened.load(second_boot)
    restored = Venue(default_instruments(), clock_ns=iter(range(10**9, 2 * 10**9)).__next__, id_prefix="2")
    restored.restore(state.orders, state.cl_ord_ids, state.fills)

    assert second_boot == boot + 1
    assert [(f.exec_id, f.last_qty, f.last_px) for f in restored.fills()] == [
        (f.exec_id, f.last_qty, f.last_px) for f in venue.fills()
    ]
    assert restored.positions("FIXGW") == venue.positions("FIXGW")
    assert {o.order_id: o for o in restored.orders()} == {o.order_id: o for o in venue.orders()}
    queue = restored.books["ACME"].queue(BookSide.BID, 9900)
    assert [restored.order(o.order_id).cl_ord_id for o in queue] == ["first", "second"]  # type: ignore[union-attr]
    assert restored.books["ACME"].level_size(BookSide.BID, 10000) == 40, "partly filled order rests with 40"
    duplicate = restored.new_order(_order("first", "98.00"))
    assert duplicate.messages[0].exec_type == "8"  # type: ignore[union-attr]
    reopened.close()


def test_database_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    VenueStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_resent_fill_is_stored_once(tmp_path: Path) -> None:
    store = VenueStore(tmp_path / "venue.sqlite")
    venue = Venue(default_instruments(), clock_ns=iter(range(1, 10**9)).__next__)
    venue.place_background("ACME", BookSide.ASK, 10000, 100)
    result = venue.new_order(_order("x", "100.00"))
    store.save(result)
    store.save(result)
    state = store.load(1)
    assert len(state.fills) == 1
    store.close()
