"""The market timer's step, driven by hand with a controlled venue clock (no FIX session)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from simulator.acceptor import SimulatorApplication
from simulator.faults import Faults
from simulator.instruments import default_instruments
from simulator.liquidity import MarketAgents
from simulator.store import VenueStore
from simulator.venue import NewOrderRequest, Venue


class Clock:
    def __init__(self, start_ns: int) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def _application(tmp_path: Path, clock: Clock) -> SimulatorApplication:
    instruments = default_instruments()
    venue = Venue(instruments, clock_ns=clock)
    return SimulatorApplication(
        venue=venue,
        store=VenueStore(tmp_path / "venue.sqlite"),
        faults=Faults(),
        agents=MarketAgents(instruments, 1),
    )


def _day_order(cl_ord_id: str, tif: str) -> NewOrderRequest:
    return NewOrderRequest(
        session_key="nobody",
        account="FIXGW",
        cl_ord_id=cl_ord_id,
        symbol="ACME",
        side="1",
        ord_type="2",
        order_qty=Decimal(100),
        price=Decimal("10.00"),
        time_in_force=tif,
    )


def test_day_orders_expire_when_the_utc_date_changes(tmp_path: Path) -> None:
    midnight_s = (1_800_000_000 // 86_400 + 1) * 86_400
    clock = Clock((midnight_s - 60) * 10**9)  # a minute before midnight UTC
    app = _application(tmp_path, clock)
    with app.lock:
        app.process(app.venue.new_order(_day_order("day", "0")))
        app.process(app.venue.new_order(_day_order("gtc", "1")))
    app.market_step()
    assert {o.cl_ord_id: o.status for o in app.venue.orders()} == {"day": "0", "gtc": "0"}
    clock.now += 120 * 10**9
    app.market_step()
    assert {o.cl_ord_id: o.status for o in app.venue.orders()} == {"day": "C", "gtc": "0"}
    stored = {o.cl_ord_id: o.status for o in app.store.load(1).orders}
    assert stored == {"day": "C", "gtc": "0"}, "the expiry is committed"
    app.store.close()


def test_unsolicited_cancel_fault_fires_on_the_timer_once_per_unit(tmp_path: Path) -> None:
    clock = Clock(1_800_000_000 * 10**9)
    app = _application(tmp_path, clock)
    with app.lock:
        for name in ("a", "b", "c"):
            app.process(app.venue.new_order(_day_order(name, "1")))
    app.faults.set("unsolicited_cancel", 2)
    for _ in range(4):
        app.market_step()
    assert sorted(o.cl_ord_id for o in app.venue.orders() if o.status == "4") == ["a", "b"]
    assert app.faults.get("unsolicited_cancel") == 0
    app.store.close()
