"""TradeCorrect(150=G) at the venue: a price-only correction leaves a Filled order Filled; a smaller
corrected quantity lowers CumQty(14) by the difference and ends a Filled order Canceled."""

from __future__ import annotations

from decimal import Decimal

from simulator.book import BookSide
from simulator.instruments import default_instruments
from simulator.venue import ExecutionReportOut, NewOrderRequest, Venue, VenueResult

T0 = 1_800_000_000_000_000_000


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def _filled_buy_of_100() -> tuple[Venue, str]:
    """A venue where FIXGW bought 100 ACME at 100.00 in one fill; returns it and the fill's ExecID."""
    venue = Venue(default_instruments(), clock_ns=_Clock(), id_prefix="9")
    venue.place_background("ACME", BookSide.ASK, 10_000, 100)
    result = venue.new_order(
        NewOrderRequest(
            session_key="S",
            account="FIXGW",
            cl_ord_id="c1",
            symbol="ACME",
            side="1",
            ord_type="2",
            order_qty=Decimal(100),
            price=Decimal("100.00"),
            time_in_force="0",
        )
    )
    fill = _reports(result)[-1]
    assert (fill.ord_status, fill.cum_qty) == ("2", 100)
    return venue, fill.exec_id


def _reports(result: VenueResult) -> list[ExecutionReportOut]:
    return [m for m in result.messages if isinstance(m, ExecutionReportOut)]


def test_price_only_correction_of_a_filled_order_leaves_it_filled() -> None:
    # Arrange
    venue, exec_id = _filled_buy_of_100()

    # Act
    (report,) = _reports(venue.correct(exec_id, last_px=Decimal("100.01")))

    # Assert
    assert (report.exec_type, report.ord_status, report.cum_qty, report.leaves_qty) == ("G", "2", 100, 0)


def test_quantity_correction_lowers_cum_qty_by_the_difference() -> None:
    # Arrange
    venue, exec_id = _filled_buy_of_100()

    # Act: the fill of 100 was really 60
    (report,) = _reports(venue.correct(exec_id, last_qty=60))

    # Assert: CumQty 60 of 100; a Filled order is not reinstated in the market
    assert (report.exec_type, report.cum_qty, report.leaves_qty, report.ord_status) == ("G", 60, 0, "4")
    assert report.last_qty == 60
    assert venue.positions("FIXGW")["ACME"].qty == 60
