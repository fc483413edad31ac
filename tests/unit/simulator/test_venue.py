"""The venue's rules, named after the FIX 4.4 order state change matrices where one applies."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.book import BookSide
from simulator.instruments import default_instruments
from simulator.liquidity import MarketAgents
from simulator.venue import (
    CancelRejectOut,
    CancelRequest,
    ExecutionReportOut,
    MassCancelReportOut,
    MassCancelRequest,
    MassStatusRequest,
    NewOrderRequest,
    PositionAckOut,
    PositionReportOut,
    PositionRequest,
    ReplaceRequest,
    StatusRequest,
    Venue,
    VenueError,
    VenueResult,
)

T0 = 1_800_000_000_000_000_000  # 2027-01-15, a fixed venue clock


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


@pytest.fixture
def venue() -> Venue:
    return Venue(default_instruments(), clock_ns=Clock(), id_prefix="9")


def order(
    cl_ord_id: str,
    side: str = "1",
    qty: int | str = 100,
    price: str | None = "100.00",
    *,
    symbol: str = "ACME",
    tif: str = "0",
    ord_type: str | None = None,
    account: str = "FIXGW",
) -> NewOrderRequest:
    return NewOrderRequest(
        session_key="S",
        account=account,
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=side,
        ord_type=ord_type or ("2" if price is not None else "1"),
        order_qty=Decimal(qty),
        price=None if price is None else Decimal(price),
        time_in_force=tif,
    )


def reports(result: VenueResult) -> list[ExecutionReportOut]:
    return [m for m in result.messages if isinstance(m, ExecutionReportOut)]


def states(result: VenueResult) -> list[tuple[str, str, int, int]]:
    return [(r.exec_type, r.ord_status, r.cum_qty, r.leaves_qty) for r in reports(result)]


def offer(venue: Venue, price: str, qty: int, symbol: str = "ACME") -> None:
    ticks = venue.instruments[symbol].to_ticks(Decimal(price))
    assert ticks is not None
    venue.place_background(symbol, BookSide.ASK, ticks, qty)


def bid(venue: Venue, price: str, qty: int, symbol: str = "ACME") -> None:
    ticks = venue.instruments[symbol].to_ticks(Decimal(price))
    assert ticks is not None
    venue.place_background(symbol, BookSide.BID, ticks, qty)


# -- New, fills ------------------------------------------------------------------------------


def test_a1a_filled_order_new_then_partial_then_filled(venue: Venue) -> None:
    offer(venue, "100.00", 30)
    offer(venue, "100.01", 70)
    result = venue.new_order(order("o1", qty=100, price="100.01"))
    assert states(result) == [("0", "0", 0, 100), ("F", "1", 30, 70), ("F", "2", 100, 0)]
    fills = reports(result)[1:]
    assert [(f.last_qty, f.last_px) for f in fills] == [(30, Decimal("100.00")), (70, Decimal("100.01"))]
    assert fills[-1].avg_px == Decimal("100.007")
    assert len({r.exec_id for r in reports(result)}) == 3, "ExecIDs are unique"


def test_resting_order_fills_when_the_market_comes_to_it(venue: Venue) -> None:
    venue.new_order(order("o1", side="2", qty=50, price="101.00"))
    _, result = venue.place_background("ACME", BookSide.BID, 10100, 20)
    assert states(result) == [("F", "1", 20, 30)]
    assert result.new_client_fills == [reports(result)[0].exec_id]
    assert result.market_data[0].entry_type == "2", "the trade prints first"


def test_background_fills_are_not_client_fills(venue: Venue) -> None:
    offer(venue, "100.00", 10)
    _, result = venue.place_background("ACME", BookSide.BID, 10000, 10)
    assert result.messages == [] and result.fills == {}
    assert venue.fills() == []


def test_client_against_client_fills_both(venue: Venue) -> None:
    venue.new_order(order("s1", side="2", qty=40, price="100.00", account="CLIENT1"))
    result = venue.new_order(order("b1", side="1", qty=40, price="100.00"))
    assert {(r.account, r.exec_type, r.ord_status) for r in reports(result)} == {
        ("FIXGW", "0", "0"),
        ("FIXGW", "F", "2"),
        ("CLIENT1", "F", "2"),
    }
    assert venue.positions("FIXGW")["ACME"].qty == 40
    assert venue.positions("CLIENT1")["ACME"].qty == -40


def test_market_order_walks_book_and_cancels_what_is_left(venue: Venue) -> None:
    bid(venue, "99.99", 10)
    bid(venue, "99.90", 20)
    result = venue.new_order(order("m1", side="2", qty=50, price=None))
    assert states(result) == [("0", "0", 0, 50), ("F", "1", 10, 40), ("F", "1", 30, 20), ("4", "4", 30, 0)]
    assert "market order" in reports(result)[-1].text


def test_sell_short_trades_and_makes_a_short_position(venue: Venue) -> None:
    bid(venue, "100.00", 100)
    result = venue.new_order(order("ss1", side="5", qty=100, price="100.00"))
    assert reports(result)[-1].side == "5"
    assert venue.positions("FIXGW")["ACME"].qty == -100


def test_ioc_fills_what_it_can_and_cancels_the_rest(venue: Venue) -> None:
    offer(venue, "100.00", 30)
    result = venue.new_order(order("i1", qty=100, price="100.00", tif="3"))
    assert states(result)[-2:] == [("F", "1", 30, 70), ("4", "4", 30, 0)]


def test_fok_that_cannot_fill_entirely_is_canceled_without_trading(venue: Venue) -> None:
    offer(venue, "100.00", 30)
    result = venue.new_order(order("k1", qty=100, price="100.00", tif="4"))
    assert states(result) == [("0", "0", 0, 100), ("4", "4", 0, 0)]
    assert venue.books["ACME"].level_size(BookSide.ASK, 10000) == 30


def test_fok_that_can_fill_fills(venue: Venue) -> None:
    offer(venue, "100.00", 300)
    result = venue.new_order(order("k2", qty=100, price="100.00", tif="4"))
    assert states(result)[-1] == ("F", "2", 100, 0)


def test_gtc_and_day_orders_rest(venue: Venue) -> None:
    for tif in ("0", "1"):
        result = venue.new_order(order(f"r{tif}", qty=100, price="99.00", tif=tif))
        assert states(result) == [("0", "0", 0, 100)]
    assert venue.books["ACME"].level_size(BookSide.BID, 9900) == 200


# -- Rejects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason", "text"),
    [
        (order("x1", symbol="NOPE"), "1", "unknown symbol"),
        (order("x2", qty=0), "13", "must be positive"),
        (order("x3", qty=-5), "13", "must be positive"),
        (order("x4", qty="1.5"), "13", "not a whole number"),
        (order("x5", symbol="BOLT", qty=15, price="50.00"), "13", "lot size 10"),
        (order("x6", price="100.005"), "99", "tick grid"),
        (order("x7", symbol="BOLT", qty=10, price="50.02"), "99", "tick grid"),
        (order("x8", price=None, ord_type="2"), "99", "without Price(44)"),
        (order("x9", side="7"), "11", "Side(54)"),
        (order("x10", ord_type="3"), "11", "OrdType(40)"),
        (order("x11", tif="6"), "11", "TimeInForce(59)"),
    ],
)
def test_rejects_say_why(venue: Venue, request_: NewOrderRequest, reason: str, text: str) -> None:
    result = venue.new_order(request_)
    (report,) = reports(result)
    assert (report.exec_type, report.ord_status, report.ord_rej_reason) == ("8", "8", reason)
    assert text in report.text
    assert (report.cl_ord_id, report.side, report.symbol) == (
        request_.cl_ord_id,
        request_.side,
        request_.symbol,
    )


def test_duplicate_cl_ord_id_is_rejected_per_account(venue: Venue) -> None:
    venue.new_order(order("dup", price="90.00"))
    (again,) = reports(venue.new_order(order("dup", price="90.00")))
    assert (again.exec_type, again.ord_rej_reason) == ("8", "6")
    assert "duplicate ClOrdID" in again.text
    other_account = reports(venue.new_order(order("dup", price="90.00", account="CLIENT1")))
    assert other_account[0].exec_type == "0"


# -- Cancel and replace ----------------------------------------------------------------------


def test_cancel_resting_order(venue: Venue) -> None:
    venue.new_order(order("c1", qty=100, price="90.00"))
    result = venue.cancel(
        CancelRequest(session_key="S", account="FIXGW", cl_ord_id="c1x", orig_cl_ord_id="c1")
    )
    (report,) = reports(result)
    assert (report.exec_type, report.ord_status, report.cl_ord_id, report.orig_cl_ord_id) == (
        "4",
        "4",
        "c1x",
        "c1",
    )
    assert venue.books["ACME"].best(BookSide.BID) is None


@pytest.mark.parametrize(
    ("orig", "new_id", "reason"),
    [("unknown", "z1", "1"), ("filled", "z2", "0"), ("live", "live", "6")],
)
def test_cancel_reject_reasons(venue: Venue, orig: str, new_id: str, reason: str) -> None:
    offer(venue, "100.00", 100)
    venue.new_order(order("filled", qty=100, price="100.00"))
    venue.new_order(order("live", qty=100, price="90.00"))
    result = venue.cancel(
        CancelRequest(session_key="S", account="FIXGW", cl_ord_id=new_id, orig_cl_ord_id=orig)
    )
    (reject,) = result.messages
    assert isinstance(reject, CancelRejectOut)
    assert (reject.reason, reject.response_to) == (reason, "1")


def _replace(venue: Venue, orig: str, new: str, qty: int, price: str) -> VenueResult:
    return venue.replace(
        ReplaceRequest(
            session_key="S",
            account="FIXGW",
            cl_ord_id=new,
            orig_cl_ord_id=orig,
            order_qty=Decimal(qty),
            price=Decimal(price),
        )
    )


def test_replace_quantity_down_keeps_time_priority(venue: Venue) -> None:
    venue.new_order(order("p1", qty=100, price="99.00"))
    venue.new_order(order("p2", qty=100, price="99.00"))
    result = _replace(venue, "p1", "p1r", 60, "99.00")
    assert states(result) == [("5", "0", 0, 60)]
    queue = venue.books["ACME"].queue(BookSide.BID, 9900)
    assert [o.qty for o in queue] == [60, 100], "p1 is still first"


@pytest.mark.parametrize(("qty", "price"), [(150, "99.00"), (100, "98.99")])
def test_replace_quantity_up_or_price_change_loses_time_priority(venue: Venue, qty: int, price: str) -> None:
    venue.new_order(order("p1", qty=100, price=price))
    venue.new_order(order("p2", qty=100, price=price))
    venue.new_order(order("p3", qty=100, price="99.00" if price != "99.00" else "98.99"))
    _replace(venue, "p1", "p1r", qty, price)
    ticks = venue.instruments["ACME"].to_ticks(Decimal(price))
    assert ticks is not None
    queue = venue.books["ACME"].queue(BookSide.BID, ticks)
    assert [o.qty for o in queue][-1] == qty, "the replaced order went to the back"


def test_replace_to_a_crossing_price_trades(venue: Venue) -> None:
    offer(venue, "100.00", 100)
    venue.new_order(order("p1", qty=100, price="99.00"))
    result = _replace(venue, "p1", "p1r", 100, "100.00")
    assert states(result) == [("5", "0", 0, 100), ("F", "2", 100, 0)]


def test_replace_below_filled_quantity_is_rejected(venue: Venue) -> None:
    offer(venue, "100.00", 50)
    venue.new_order(order("p1", qty=100, price="100.00"))
    result = _replace(venue, "p1", "p1r", 50, "100.00")
    (reject,) = result.messages
    assert isinstance(reject, CancelRejectOut)
    assert (reject.response_to, reject.reason) == ("2", "99")
    assert "must exceed" in reject.text


# -- Status, mass status, mass cancel, positions ---------------------------------------------


def test_order_status_request_answers_exec_type_i(venue: Venue) -> None:
    venue.new_order(order("st1", qty=100, price="90.00"))
    (report,) = reports(
        venue.status(
            StatusRequest(session_key="S", account="FIXGW", cl_ord_id="st1", symbol="ACME", side="1")
        )
    )
    assert (report.exec_type, report.ord_status, report.leaves_qty) == ("I", "0", 100)
    (unknown,) = reports(venue.status(StatusRequest(session_key="S", account="FIXGW", cl_ord_id="nope")))
    assert (unknown.exec_type, unknown.ord_status, unknown.order_id) == ("I", "8", "NONE")


def test_mass_status_reports_working_and_final_today_with_counts(venue: Venue) -> None:
    offer(venue, "100.00", 100)
    venue.new_order(order("f1", qty=100, price="100.00"))
    venue.new_order(order("w1", qty=100, price="90.00"))
    venue.new_order(order("w2", qty=100, price="19.00", symbol="CRUX"))
    result = venue.mass_status(
        MassStatusRequest(session_key="S", account="FIXGW", mass_status_req_id="m1", mass_status_req_type="7")
    )
    got = reports(result)
    assert {r.cl_ord_id for r in got} == {"f1", "w1", "w2"}
    assert all(r.exec_type == "I" and r.tot_num_reports == 3 and r.mass_status_req_id == "m1" for r in got)
    assert [r.last_rpt_requested for r in got] == [False, False, True]
    by_symbol = venue.mass_status(
        MassStatusRequest(
            session_key="S", account="FIXGW", mass_status_req_id="m2", mass_status_req_type="1", symbol="CRUX"
        )
    )
    assert [r.cl_ord_id for r in reports(by_symbol)] == ["w2"]


def test_mass_cancel_by_symbol_and_all(venue: Venue) -> None:
    venue.new_order(order("a", qty=100, price="90.00"))
    venue.new_order(order("b", qty=100, price="91.00"))
    venue.new_order(order("c", qty=100, price="19.00", symbol="CRUX"))
    result = venue.mass_cancel(
        MassCancelRequest(
            session_key="S", account="FIXGW", cl_ord_id="mc1", mass_cancel_request_type="1", symbol="ACME"
        )
    )
    report = result.messages[0]
    assert isinstance(report, MassCancelReportOut)
    assert (report.response, report.total_affected) == ("1", 2)
    assert {(r.cl_ord_id, r.exec_type) for r in reports(result)} == {("a", "4"), ("b", "4")}
    everything = venue.mass_cancel(
        MassCancelRequest(session_key="S", account="FIXGW", cl_ord_id="mc2", mass_cancel_request_type="7")
    )
    assert [r.cl_ord_id for r in reports(everything)] == ["c"]
    rejected = venue.mass_cancel(
        MassCancelRequest(session_key="S", account="FIXGW", cl_ord_id="mc3", mass_cancel_request_type="3")
    )
    assert isinstance(rejected.messages[0], MassCancelReportOut)
    assert rejected.messages[0].response == "0"


def test_positions_request_ack_then_one_report_per_symbol(venue: Venue) -> None:
    offer(venue, "100.00", 100)
    offer(venue, "20.00", 300, symbol="CRUX")
    venue.new_order(order("p1", qty=100, price="100.00"))
    venue.new_order(order("p2", qty=300, price="20.00", symbol="CRUX"))
    result = venue.positions_request(PositionRequest(session_key="S", account="FIXGW", pos_req_id="r1"))
    ack, *position_reports = result.messages
    assert isinstance(ack, PositionAckOut)
    assert (ack.result, ack.status, ack.total_num_reports) == ("0", "0", 2)
    assert all(isinstance(r, PositionReportOut) for r in position_reports)
    assert {(r.symbol, r.long_qty, r.short_qty, r.settl_price) for r in position_reports} == {  # type: ignore[union-attr]
        ("ACME", 100, 0, Decimal("100.00")),
        ("CRUX", 300, 0, Decimal("20.00")),
    }
    nothing = venue.positions_request(PositionRequest(session_key="S", account="NOBODY", pos_req_id="r2"))
    assert isinstance(nothing.messages[0], PositionAckOut)
    assert nothing.messages[0].result == "2"


def test_position_average_price_and_realized_pnl() -> None:
    from simulator.venue import Position

    position = Position(account="A", symbol="ACME", qty=0, avg_px=Decimal(0), realized_pnl=Decimal(0))
    position = position.with_fill("1", 100, Decimal("100.00")).with_fill("1", 100, Decimal("102.00"))
    assert (position.qty, position.avg_px) == (200, Decimal("101.00"))
    position = position.with_fill("2", 250, Decimal("103.00"))
    assert (position.qty, position.avg_px, position.realized_pnl) == (
        -50,
        Decimal("103.00"),
        Decimal("400.00"),
    )


# -- Venue events: expiry, unsolicited cancel, busts and corrections -------------------------


def test_day_orders_expire_at_end_of_day_gtc_orders_stay(venue: Venue) -> None:
    venue.new_order(order("day", qty=100, price="90.00", tif="0"))
    venue.new_order(order("gtc", qty=100, price="90.00", tif="1"))
    result = venue.expire_day_orders()
    assert [(r.cl_ord_id, r.exec_type, r.ord_status) for r in reports(result)] == [("day", "C", "C")]
    assert venue.books["ACME"].level_size(BookSide.BID, 9000) == 100


def test_unsolicited_cancel_picks_the_oldest_working_order(venue: Venue) -> None:
    venue.new_order(order("u1", qty=100, price="90.00"))
    venue.new_order(order("u2", qty=100, price="91.00"))
    (report,) = reports(venue.cancel_unsolicited(text="venue says no"))
    assert (report.cl_ord_id, report.exec_type, report.text) == ("u1", "4", "venue says no")


def test_bust_of_a_filled_order_ends_it_canceled_and_fixes_the_position(venue: Venue) -> None:
    offer(venue, "100.00", 100)
    filled = venue.new_order(order("bx", qty=100, price="100.00"))
    exec_id = reports(filled)[-1].exec_id
    result = venue.bust(exec_id)
    (report,) = reports(result)
    assert (report.exec_type, report.exec_ref_id, report.cum_qty, report.leaves_qty, report.ord_status) == (
        "H",
        exec_id,
        0,
        0,
        "4",
    )
    assert report.last_qty is None
    busted = venue.fill(exec_id)
    assert busted is not None and busted.busted
    assert venue.positions("FIXGW")["ACME"].qty == 0
    assert venue.books["ACME"].best(BookSide.BID) is None, "not reinstated in the market"
    with pytest.raises(VenueError):
        venue.bust(exec_id)


def test_bust_of_a_partial_fill_gives_a_working_order_its_quantity_back(venue: Venue) -> None:
    offer(venue, "100.00", 40)
    result = venue.new_order(order("bp", qty=100, price="100.00"))
    exec_id = reports(result)[-1].exec_id
    (report,) = reports(venue.bust(exec_id))
    assert (report.exec_type, report.ord_status, report.cum_qty, report.leaves_qty) == ("H", "0", 0, 100)
    assert venue.books["ACME"].level_size(BookSide.BID, 10000) == 100


def test_correction_changes_price_and_average(venue: Venue) -> None:
    offer(venue, "100.00", 100)
    exec_id = reports(venue.new_order(order("cx", qty=100, price="100.00")))[-1].exec_id
    result = venue.correct(exec_id, last_px=Decimal("100.01"))
    (report,) = reports(result)
    assert (report.exec_type, report.exec_ref_id, report.last_px, report.avg_px) == (
        "G",
        exec_id,
        Decimal("100.01"),
        Decimal("100.01"),
    )
    assert venue.positions("FIXGW")["ACME"].avg_px == Decimal("100.01")
    with pytest.raises(VenueError):
        venue.correct(exec_id, last_px=Decimal("100.001"))


# -- Market data -----------------------------------------------------------------------------


def test_rpt_seq_increases_by_one_per_symbol_per_entry(venue: Venue) -> None:
    entries = []
    offer(venue, "100.00", 10)
    entries += venue.new_order(order("md1", qty=5, price="100.00")).market_data
    entries += venue.new_order(order("md2", qty=100, price="19.00", symbol="CRUX")).market_data
    entries += venue.new_order(order("md3", qty=5, price="100.00")).market_data
    for symbol in ("ACME", "CRUX"):
        seqs = [e.rpt_seq for e in entries if e.symbol == symbol]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert venue.snapshot("ACME").rpt_seq == max(e.rpt_seq for e in entries if e.symbol == "ACME")


# -- Properties over random order flow -------------------------------------------------------

_client_order = st.tuples(
    st.sampled_from(["FIXGW", "CLIENT1"]),
    st.sampled_from(["1", "2", "5"]),
    st.integers(min_value=-8, max_value=8),  # ticks from the reference price
    st.integers(min_value=1, max_value=400),
    st.sampled_from(["0", "1", "3", "4", "market"]),
    st.integers(min_value=0, max_value=3),  # background steps before the order
)


@given(st.lists(_client_order, min_size=1, max_size=40), st.integers(min_value=0, max_value=5))
def test_random_flow_keeps_orders_fills_and_positions_consistent(
    flow: list[tuple[str, str, int, int, str, int]], seed: int
) -> None:
    instruments = default_instruments()
    venue = Venue(instruments, clock_ns=Clock())
    agents = MarketAgents(instruments, seed)
    exec_ids: list[str] = []
    for number, (account, side, offset, qty, tif, steps) in enumerate(flow):
        for _ in range(steps):
            exec_ids += [r.exec_id for r in reports(agents.step(venue))]
        price = None if tif == "market" else str(instruments["ACME"].to_price(10000 + offset))
        time_in_force = "0" if tif == "market" else tif
        request = order(f"o{number}", side=side, qty=qty, price=price, tif=time_in_force, account=account)
        exec_ids += [r.exec_id for r in reports(venue.new_order(request))]
        assert not venue.books["ACME"].is_crossed()
    assert len(exec_ids) == len(set(exec_ids)), "ExecIDs are unique"
    fills = venue.fills()
    for record in venue.orders():
        own = [f.last_qty for f in fills if f.order_id == record.order_id]
        assert record.cum_qty == sum(own)
        if record.status in ("0", "1"):
            assert record.cum_qty + record.leaves_qty == record.order_qty
            resting = venue.books["ACME"].order(record.order_id)
            assert resting is not None and resting.qty == record.leaves_qty
        else:
            assert record.leaves_qty == 0 and record.cum_qty <= record.order_qty
    for account in ("FIXGW", "CLIENT1"):
        signed = sum(f.last_qty if f.side == "1" else -f.last_qty for f in fills if f.account == account)
        position = venue.positions(account).get("ACME")
        assert (position.qty if position else 0) == signed


def test_mass_status_leaves_out_orders_that_ended_on_an_earlier_day() -> None:
    clock = Clock()
    venue = Venue(default_instruments(), clock_ns=clock, id_prefix="9")
    venue.new_order(order("old-canceled", qty=100, price="90.00", tif="1"))
    venue.cancel(
        CancelRequest(session_key="S", account="FIXGW", cl_ord_id="oc-x", orig_cl_ord_id="old-canceled")
    )
    venue.new_order(order("old-gtc", qty=100, price="95.00", tif="1"))
    clock.now += 2 * 86_400 * 10**9  # two days later
    venue.new_order(order("trigger", side="1", qty=1, price="10.00"))  # today, working
    offer(venue, "95.00", 100)  # fills old-gtc today
    result = venue.mass_status(
        MassStatusRequest(session_key="S", account="FIXGW", mass_status_req_id="m", mass_status_req_type="7")
    )
    assert {r.cl_ord_id: r.ord_status for r in reports(result)} == {"old-gtc": "2", "trigger": "0"}


# -- accounts belong to sessions ------------------------------------------------------------

OWNERS = {"S-GW": frozenset({"FIXGW"}), "S-C1": frozenset({"CLIENT1"})}


def owned_venue() -> Venue:
    return Venue(default_instruments(), clock_ns=Clock(), id_prefix="9", account_owners=OWNERS)


def gw_order(cl_ord_id: str, price: str) -> NewOrderRequest:
    return dataclasses.replace(order(cl_ord_id, price=price), session_key="S-GW")


def test_a_new_order_in_another_sessions_account_is_rejected_unrecorded() -> None:
    venue = owned_venue()
    request = NewOrderRequest(
        session_key="S-C1", account="FIXGW", cl_ord_id="x1", symbol="ACME", side="2",
        ord_type="1", order_qty=Decimal(20),
    )  # fmt: skip

    result = venue.new_order(request)

    [report] = reports(result)
    assert (report.exec_type, report.ord_status, report.ord_rej_reason) == ("8", "8", "15")
    assert report.session_key == "S-C1" and report.order_id == "NONE"
    assert not result.needs_persisting and venue.orders() == []
    assert result.refusals and "S-C1: NewOrderSingle(35=D) refused" in result.refusals[0]
    assert reports(venue.new_order(gw_order("x1", price="90.00")))[0].exec_type == "0", "x1 is still free"


def test_cancel_replace_status_and_mass_requests_for_another_account_are_refused() -> None:
    venue = owned_venue()
    resting = reports(venue.new_order(gw_order("v1", price="90.00")))[0]
    common = {"session_key": "S-C1", "account": "FIXGW"}

    cancel = venue.cancel(CancelRequest(**common, cl_ord_id="x-f", orig_cl_ord_id="v1"))
    replace = venue.replace(
        ReplaceRequest(
            **common, cl_ord_id="x-g", orig_cl_ord_id="v1", order_qty=Decimal(100), price=Decimal(105)
        )
    )
    status = venue.status(StatusRequest(**common, cl_ord_id="v1"))
    mass_status = venue.mass_status(
        MassStatusRequest(**common, mass_status_req_id="m", mass_status_req_type="7")
    )
    mass_cancel = venue.mass_cancel(
        MassCancelRequest(**common, cl_ord_id="x-q", mass_cancel_request_type="7")
    )
    positions = venue.positions_request(PositionRequest(**common, pos_req_id="p"))

    rejects = [m for m in cancel.messages + replace.messages if isinstance(m, CancelRejectOut)]
    assert [(m.response_to, m.reason) for m in rejects] == [("1", "99"), ("2", "99")]
    assert [(r.exec_type, r.ord_status, r.ord_rej_reason) for r in reports(status)] == [("I", "8", "15")]
    assert mass_status.messages == [] and mass_status.refusals
    [report] = mass_cancel.messages
    assert isinstance(report, MassCancelReportOut) and (report.response, report.reject_reason) == ("0", "99")
    [ack] = positions.messages
    assert isinstance(ack, PositionAckOut) and (ack.result, ack.status) == ("3", "2")
    assert venue.order(resting.order_id).status == "0"  # type: ignore[union-attr]
    assert venue.order(resting.order_id).price == Decimal("90.00")  # type: ignore[union-attr]


def test_another_accounts_order_id_is_unknown_and_noted() -> None:
    venue = owned_venue()
    order_id = reports(venue.new_order(gw_order("v1", price="90.00")))[0].order_id

    result = venue.cancel(
        CancelRequest(
            session_key="S-C1", account="CLIENT1", cl_ord_id="x", orig_cl_ord_id="v1", order_id=order_id
        )
    )

    [reject] = result.messages
    assert isinstance(reject, CancelRejectOut) and reject.reason == "1" and reject.order_id == "NONE"
    assert result.refusals == [
        f"S-C1: OrderID(37) {order_id} belongs to account FIXGW, not CLIENT1: treated as an unknown order"
    ]


def test_order_ids_are_keyed_hashes_unique_and_reproducible_with_the_same_key() -> None:
    def ids(key: bytes) -> list[str]:
        venue = Venue(default_instruments(), clock_ns=Clock(), id_prefix="4", id_key=key)
        return [reports(venue.new_order(order(f"o{n}", price="90.00")))[0].order_id for n in range(50)]

    first, again, other = ids(b"k" * 32), ids(b"k" * 32), ids(b"j" * 32)

    assert first == again and len(set(first)) == 50
    assert all(i.startswith("4-") and len(i) == 18 for i in first)
    assert not set(first) & set(other)
