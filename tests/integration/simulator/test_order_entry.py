"""Order entry over loopback FIX against the running simulator and its moving market."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal

from simulator.control import SimulatorControl
from simulator.server import SimulatorServer
from tests.support.fix_client import (
    FixTestClient,
    Received,
    cancel_request,
    mass_cancel_request,
    mass_status_request,
    new_order_single,
    replace_request,
    request_for_positions,
    status_request,
    unique_id,
)


def _final(client: FixTestClient, cl_ord_id: str, timeout_s: float = 5.0) -> Received:
    return client.wait_for(
        lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(39) in {"2", "4", "8", "C"},
        timeout_s,
    )


def _report_of(cl_ord_id: str, exec_type: str) -> Callable[[Received], bool]:
    return lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(150) == exec_type


def test_marketable_limit_buy_fills_against_background_liquidity(
    gw: FixTestClient, control: SimulatorControl, sim: SimulatorServer
) -> None:
    cl = unique_id("buy")
    gw.send(new_order_single(cl, "ACME", "1", 200, price="101.00"))
    final = _final(gw, cl)
    reports = gw.reports_for(cl)
    assert reports[0].get(150) == "0" and reports[0].get(39) == "0"
    trades = [r for r in reports if r.get(150) == "F"]
    assert final.get(39) == "2" and final.get(14) == "200" and final.get(151) == "0"
    assert sum(int(t.get(32) or 0) for t in trades) == 200
    notional = sum(Decimal(t.get(32) or 0) * Decimal(t.get(31) or 0) for t in trades)
    expected_avg = (notional / Decimal(200)).quantize(Decimal("0.00000001"))
    assert Decimal(final.get(6) or 0) == expected_avg
    assert all(Decimal(t.get(31) or 0) <= Decimal("101.00") for t in trades)
    exec_ids = [r.get(17) for r in reports]
    assert len(set(exec_ids)) == len(exec_ids)
    # The venue's truth, over the control port and in its SQLite file, has every fill.
    venue_fills = {f["exec_id"] for f in control.fills("FIXGW") if f["cl_ord_id"] == cl}
    assert venue_fills == {t.get(17) for t in trades}
    with sqlite3.connect(sim.settings.state_db) as db:
        stored = {row[0] for row in db.execute("SELECT exec_id FROM fills WHERE cl_ord_id=?", (cl,))}
    assert stored == venue_fills


def test_market_sell_and_sell_short_fill(gw: FixTestClient) -> None:
    for side in ("2", "5"):
        cl = unique_id("mkt")
        gw.send(new_order_single(cl, "BOLT", side, 20))
        final = _final(gw, cl)
        assert final.get(39) == "2" and final.get(54) == side and final.get(40) == "1"


def test_ioc_larger_than_the_book_partially_fills_then_cancels(gw: FixTestClient) -> None:
    cl = unique_id("ioc")
    gw.send(new_order_single(cl, "CRUX", "1", 1_000_000, price="25.00", tif="3"))
    final = _final(gw, cl)
    assert final.get(150) == "4" and final.get(39) == "4"
    filled = int(final.get(14) or 0)
    assert 0 < filled < 1_000_000
    assert any(r.get(39) == "1" for r in gw.reports_for(cl))


def test_fok_that_cannot_fill_is_canceled_without_any_fill(gw: FixTestClient) -> None:
    cl = unique_id("fok")
    gw.send(new_order_single(cl, "ACME", "2", 1_000_000, price="1.00", tif="4"))
    final = _final(gw, cl)
    assert (final.get(150), final.get(39), final.get(14)) == ("4", "4", "0")
    assert "fill or kill" in (final.get(58) or "")


def test_resting_gtc_order_replace_status_then_cancel(gw: FixTestClient) -> None:
    cl = unique_id("rest")
    gw.send(new_order_single(cl, "ACME", "1", 100, price="80.00", tif="1"))
    gw.wait_for(lambda m: m.get(11) == cl and m.get(150) == "0")
    cl2 = unique_id("repl")
    gw.send(replace_request(cl2, cl, "ACME", "1", 150, "80.01"))
    replaced = gw.wait_for(lambda m: m.get(11) == cl2 and m.msg_type == "8")
    assert (replaced.get(150), replaced.get(41), replaced.get(38), replaced.get(44), replaced.get(151)) == (
        "5",
        cl,
        "150",
        "80.01",
        "150",
    )
    gw.send(status_request(cl2, "ACME", "1"))
    status = gw.wait_for(lambda m: m.get(11) == cl2 and m.get(150) == "I")
    assert status.get(39) == "0"
    cl3 = unique_id("cxl")
    gw.send(cancel_request(cl3, cl2, "ACME", "1", 150))
    canceled = gw.wait_for(lambda m: m.get(11) == cl3 and m.msg_type == "8")
    assert (canceled.get(150), canceled.get(39), canceled.get(41), canceled.get(151)) == ("4", "4", cl2, "0")
    # Too late now: the order is final.
    cl4 = unique_id("late")
    gw.send(cancel_request(cl4, cl3, "ACME", "1", 150))
    reject = gw.wait_for(lambda m: m.msg_type == "9" and m.get(11) == cl4)
    assert (reject.get(102), reject.get(434), reject.get(39)) == ("0", "1", "4")


def test_cancel_and_replace_of_unknown_orders_are_rejected(gw: FixTestClient) -> None:
    cl = unique_id("ghost")
    gw.send(cancel_request(cl, "no-such-order", "ACME", "1"))
    reject = gw.wait_for(lambda m: m.msg_type == "9" and m.get(11) == cl)
    assert (reject.get(102), reject.get(434), reject.get(37)) == ("1", "1", "NONE")
    cl2 = unique_id("ghost")
    gw.send(replace_request(cl2, "no-such-order", "ACME", "1", 10, "99.00"))
    reject2 = gw.wait_for(lambda m: m.msg_type == "9" and m.get(11) == cl2)
    assert (reject2.get(102), reject2.get(434)) == ("1", "2")


def test_rejects_carry_exec_type_8_and_a_reason(gw: FixTestClient) -> None:
    cases = [
        (dict(symbol="NOPE", qty=10, price="1.00"), "unknown symbol"),
        (dict(symbol="BOLT", qty=15, price="50.00"), "lot size"),
        (dict(symbol="CRUX", qty=0, price="20.00"), "positive"),
        (dict(symbol="ACME", qty=10, price="100.005"), "tick grid"),
        (dict(symbol="ACME", qty=10, price=None, ord_type="2"), "Price(44)"),
    ]
    for fields, why in cases:
        cl = unique_id("rej")
        gw.send(
            new_order_single(
                cl,
                str(fields["symbol"]),
                "1",
                fields["qty"],  # type: ignore[arg-type]
                price=fields["price"],  # type: ignore[arg-type]
                ord_type=fields.get("ord_type"),  # type: ignore[arg-type]
            )
        )
        report = _final(gw, cl)
        assert (report.get(150), report.get(39)) == ("8", "8"), why
        assert why in (report.get(58) or ""), report.raw
    dup = unique_id("dup")
    gw.send(new_order_single(dup, "ACME", "1", 10, price="50.00"))
    gw.wait_for(lambda m: m.get(11) == dup and m.get(150) == "0")
    gw.send(new_order_single(dup, "ACME", "1", 10, price="50.00"))
    second = gw.wait_for(lambda m: m.get(11) == dup and m.get(150) == "8")
    assert "duplicate ClOrdID" in (second.get(58) or "")


def test_mass_status_reports_every_order_with_counts(gw: FixTestClient) -> None:
    working = unique_id("ms")
    gw.send(new_order_single(working, "CRUX", "1", 100, price="10.00", tif="1"))
    gw.wait_for(lambda m: m.get(11) == working and m.get(150) == "0")
    req = unique_id("msr")
    gw.send(mass_status_request(req, "7"))
    last = gw.wait_for(lambda m: m.get(584) == req and m.get(912) == "Y")
    total = int(last.get(911) or 0)
    reports = gw.wait_count(lambda m: m.get(584) == req, total)
    assert len(reports) == total >= 2
    assert all(r.get(150) == "I" and r.get(911) == str(total) for r in reports)
    assert working in {r.get(11) for r in reports}
    by_symbol = unique_id("msr")
    gw.send(mass_status_request(by_symbol, "1", symbol="CRUX"))
    last_crux = gw.wait_for(lambda m: m.get(584) == by_symbol and m.get(912) == "Y")
    crux_reports = gw.wait_count(lambda m: m.get(584) == by_symbol, int(last_crux.get(911) or 0))
    assert {r.get(55) for r in crux_reports} == {"CRUX"}


def test_mass_cancel_cancels_working_orders_of_a_symbol(gw: FixTestClient) -> None:
    ids = [unique_id("mc") for _ in range(2)]
    for cl in ids:
        gw.send(new_order_single(cl, "BOLT", "2", 10, price="80.00"))
        gw.wait_for(_report_of(cl, "0"))
    req = unique_id("mcr")
    gw.send(mass_cancel_request(req, "1", symbol="BOLT"))
    report = gw.wait_for(lambda m: m.msg_type == "r" and m.get(11) == req)
    assert report.get(531) == "1" and int(report.get(533) or 0) >= 2
    for cl in ids:
        canceled = gw.wait_for(_report_of(cl, "4"))
        assert canceled.get(39) == "4"


def test_positions_request_matches_the_venue_truth(gw: FixTestClient, control: SimulatorControl) -> None:
    cl = unique_id("pos")
    gw.send(new_order_single(cl, "ACME", "1", 10, price="105.00"))
    _final(gw, cl)
    req = unique_id("pr")
    gw.send(request_for_positions(req, "FIXGW"))
    ack = gw.wait_for(lambda m: m.msg_type == "AO" and m.get(710) == req)
    assert (ack.get(728), ack.get(729)) == ("0", "0")
    count = int(ack.get(727) or 0)
    reports = gw.wait_count(lambda m: m.msg_type == "AP" and m.get(710) == req, count)
    truth = control.positions("FIXGW")
    assert {r.get(55) for r in reports} == set(truth)
    for report in reports:
        symbol = report.get(55) or ""
        net = int(report.get(704) or 0) - int(report.get(705) or 0)
        assert net == truth[symbol]["qty"]
        assert Decimal(report.get(730) or 0) == Decimal(truth[symbol]["avg_px"])
        assert report.get(1) == "FIXGW" and report.get(715) and report.get(731) == "1"
