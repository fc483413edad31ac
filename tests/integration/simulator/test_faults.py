"""Every scripted fault, switched on at run time, seen from a FIX client over loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from simulator.control import SimulatorControl
from simulator.server import SimulatorServer
from tests.support.fix_client import FixTestClient, Received, new_order_single, status_request, unique_id


def _first_report(cl_ord_id: str) -> Callable[[Received], bool]:
    return lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id


def _filled_buy(gw: FixTestClient, symbol: str = "ACME", qty: int = 10, price: str = "110.00") -> str:
    cl = unique_id("f")
    gw.send(new_order_single(cl, symbol, "1", qty, price=price))
    gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(39) == "2")
    return cl


def _resting_buy(gw: FixTestClient) -> str:
    cl = unique_id("r")
    gw.send(new_order_single(cl, "ACME", "1", 10, price="50.00", tif="1"))
    gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == "0")
    return cl


def test_reject_every_nth_order(gw: FixTestClient, sim: SimulatorServer) -> None:
    sim.faults.set("reject_every_nth", 2)
    ids = [unique_id("n") for _ in range(4)]
    for cl in ids:
        gw.send(new_order_single(cl, "ACME", "1", 1, price="50.00"))
    firsts = [gw.wait_for(_first_report(cl)) for cl in ids]
    assert [r.get(150) for r in firsts] == ["0", "8", "0", "8"]
    assert "reject_every_nth" in (firsts[1].get(58) or "")


def test_ack_delay(gw: FixTestClient, control: SimulatorControl) -> None:
    control.set_fault("ack_delay_ms", 300)
    cl = unique_id("d")
    started = time.monotonic()
    gw.send(new_order_single(cl, "ACME", "1", 1, price="50.00"))
    gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl)
    assert time.monotonic() - started >= 0.3


def test_duplicate_exec_reports_repeat_exec_id_with_poss_dup(
    gw: FixTestClient, control: SimulatorControl
) -> None:
    control.set_fault("duplicate_exec_reports", 1)
    cl = unique_id("dup")
    gw.send(new_order_single(cl, "ACME", "1", 1, price="50.00"))
    first, second = gw.wait_count(lambda m: m.msg_type == "8" and m.get(11) == cl, 2)
    assert first.get(17) == second.get(17)
    assert first.get(43) is None
    assert second.get(43) == "Y" and second.get(122) is not None
    assert int(second.get(34) or 0) == int(first.get(34) or 0) + 1


def test_unknown_tag_reaches_the_client(gw: FixTestClient, control: SimulatorControl) -> None:
    control.set_fault("unknown_tag", 1)
    cl = unique_id("u")
    gw.send(new_order_single(cl, "ACME", "1", 1, price="50.00"))
    report = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl)
    assert report.get(9999) == "fault-unknown-tag"


def test_sequence_gap_is_recovered_by_resend_request(
    gw: FixTestClient, sim: SimulatorServer, control: SimulatorControl
) -> None:
    mark = gw.mark()
    control.set_fault("sequence_gap", 1)
    cl = unique_id("gap")
    gw.send(new_order_single(cl, "ACME", "1", 1, price="50.00"))
    report = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl, after=mark)
    gap_fill = gw.wait_for(lambda m: m.msg_type == "4", after=mark)
    assert gap_fill.get(123) == "Y"
    assert int(gap_fill.get(36) or 0) > int(gap_fill.get(34) or 0)
    assert report is not None and gw.logged_on
    log_text = (sim.settings.message_log_dir / "messages.log").read_text()  # type: ignore[operator]
    assert "|35=2|" in log_text, "the client asked for a resend"
    # The session carries on normally afterwards.
    after = unique_id("gap")
    gw.send(status_request(cl, "ACME", "1"))
    gw.send(new_order_single(after, "ACME", "1", 1, price="50.00"))
    gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == after)


def test_disconnect_after_n_messages_drops_the_client_which_logs_on_again(
    sim: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    client = FixTestClient.start_new(tmp_path_factory.mktemp("c1"), sim.port, sender="CLIENT1")
    try:
        sim.faults.set("disconnect_after_n", 2)
        client.send(status_request("x1", "ACME", "1"))
        client.send(status_request("x2", "ACME", "1"))
        client.wait_logged_out(5)
        assert sim.faults.get("disconnect_after_n") == 0, "one-shot"
        client.wait_logged_on(10)
        assert client.logon_count == 2
    finally:
        client.stop(force=True)


def test_unsolicited_cancel_of_a_resting_order(gw: FixTestClient, control: SimulatorControl) -> None:
    cl = _resting_buy(gw)
    for order in control.orders("FIXGW"):
        if order["leaves_qty"] > 0 and order["cl_ord_id"] != cl:
            control.cancel_order(order["order_id"])  # the oldest must be ours
    control.set_fault("unsolicited_cancel", 1)
    report = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == "4")
    assert report.get(39) == "4" and "venue" in (report.get(58) or "")


def test_bust_next_fill(gw: FixTestClient, control: SimulatorControl) -> None:
    control.set_fault("bust_next_fill", 1)
    cl = unique_id("b")
    gw.send(new_order_single(cl, "CRUX", "1", 100, price="30.00", tif="3"))
    fill = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == "F")
    bust = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == "H")
    assert bust.get(19) == fill.get(17)
    assert int(bust.get(14) or 0) == int(fill.get(14) or 0) - int(fill.get(32) or 0)
    busted = [f for f in control.fills("FIXGW") if f["exec_id"] == fill.get(17)]
    assert busted and busted[0]["busted"] is True


def test_correct_next_fill(gw: FixTestClient, control: SimulatorControl) -> None:
    control.set_fault("correct_next_fill", 1)
    cl = unique_id("c")
    gw.send(new_order_single(cl, "ACME", "1", 1, price="110.00", tif="3"))
    fill = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == "F")
    correction = gw.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == "G")
    assert correction.get(19) == fill.get(17)
    assert Decimal(correction.get(31) or 0) == Decimal(fill.get(31) or 0) + Decimal("0.01")
    venue_fill = next(f for f in control.fills("FIXGW") if f["exec_id"] == fill.get(17))
    assert Decimal(venue_fill["last_px"]) == Decimal(correction.get(31) or 0)


def test_bust_and_correct_a_given_exec_id_over_the_control_port(
    gw: FixTestClient, control: SimulatorControl
) -> None:
    cl = _filled_buy(gw, qty=2)
    fills = [r for r in gw.reports_for(cl) if r.get(150) == "F"]
    target = fills[-1]
    control.correct(str(target.get(17)), last_px="99.50")
    correction = gw.wait_for(lambda m: m.get(150) == "G" and m.get(19) == target.get(17))
    assert correction.get(31) == "99.50"
    before = control.positions("FIXGW")["ACME"]["qty"]
    control.bust(str(target.get(17)))
    bust = gw.wait_for(lambda m: m.get(150) == "H" and m.get(19) == target.get(17))
    assert bust.get(11) == cl
    assert control.positions("FIXGW")["ACME"]["qty"] == before - int(target.get(32) or 0)


def test_reports_sent_while_a_client_is_away_arrive_after_it_logs_on_again(
    sim: SimulatorServer, control: SimulatorControl, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("away")
    client = FixTestClient.start_new(directory, sim.port, sender="CLIENT1")
    cl = unique_id("away")
    try:
        client.send(new_order_single(cl, "ACME", "2", 5, price="150.00", tif="1"))
        client.wait_for(lambda m: m.get(11) == cl and m.get(150) == "0")
    finally:
        client.stop(force=True)
    order_id = next(o["order_id"] for o in control.orders("CLIENT1") if o["cl_ord_id"] == cl)
    assert control.cancel_order(order_id)
    back = FixTestClient.start_new(directory, sim.port, sender="CLIENT1")  # same message store
    try:
        report = back.wait_for(lambda m: m.get(11) == cl and m.get(150) == "4")
        assert report.get(43) == "Y", "delivered by the resend QuickFIX asked for"
    finally:
        back.stop(force=True)


def test_end_of_day_expires_day_orders_but_not_gtc(gw: FixTestClient, control: SimulatorControl) -> None:
    day, gtc = unique_id("day"), unique_id("gtc")
    gw.send(new_order_single(day, "CRUX", "1", 100, price="5.00", tif="0"))
    gw.send(new_order_single(gtc, "CRUX", "1", 100, price="5.00", tif="1"))
    for cl in (day, gtc):
        gw.wait_for(_first_report(cl))
    assert control.end_of_day() >= 1
    expired = gw.wait_for(lambda m: m.get(11) == day and m.get(150) == "C")
    assert expired.get(39) == "C" and expired.get(151) == "0"
    states = {o["cl_ord_id"]: o["status"] for o in control.orders("FIXGW")}
    assert states[gtc] == "0"
