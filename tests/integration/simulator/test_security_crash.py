"""A simulator crash loses nothing: orders, fills, positions and FIX sequence numbers survive.

QuickFIX 1.16 itself can be killed from outside Python (with its own dictionary, a data field
with a hostile length did it; fix_specs/FIX44.xml closes that, and test_bad_input.py sends that
input). Whatever the cause, such a crash amounts to SIGKILL, so here the simulator subprocess is
killed with SIGKILL after it has traded. A restart on the same state
directory must report the same fills, orders and positions on the control port, and the client's
QuickFIX session must log on again by itself and go on trading with continuous sequence numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from tests.support.fix_client import FixTestClient, Received, new_order_single, unique_id
from tests.support.sim_process import start_simulator

PASSWORD = f"pw-{uuid.uuid4().hex}"


def venue_truth(control, account: str) -> tuple[list[tuple], list[tuple], dict]:
    fills = sorted(
        (f["exec_id"], f["cl_ord_id"], f["symbol"], f["side"], f["last_qty"], f["last_px"], f["busted"])
        for f in control.fills(account)
    )
    orders = sorted(
        tuple(sorted((key, str(value)) for key, value in order.items())) for order in control.orders(account)
    )
    return fills, orders, control.positions(account)


def filled_report(cl_ord_id: str) -> Callable[[Received], bool]:
    return lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(39) == "2"


def test_orders_fills_and_positions_survive_sigkill_and_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "sim-state"
    first = start_simulator(tmp_path, password=PASSWORD, state_dir=state_dir)
    client = FixTestClient(
        tmp_path / "fixgw", first.port, sender="FIXGW", username="FIXGW", password=PASSWORD
    )
    second = None
    try:
        client.start()
        client.wait_logged_on()
        filled = [unique_id("fill-") for _ in range(3)]
        for cl_ord_id in filled:
            client.send(new_order_single(cl_ord_id, "ACME", "1", 2, ord_type="1"))
        resting = unique_id("rest-")
        client.send(new_order_single(resting, "ACME", "1", 5, price="1.00", tif="1"))  # GTC, far below
        for cl_ord_id in filled:
            client.wait_for(filled_report(cl_ord_id))
        client.wait_for(lambda m: m.msg_type == "8" and m.get(11) == resting and m.get(150) == "0")
        before = venue_truth(first.control, "FIXGW")

        assert first.kill() == -9  # SIGKILL: nothing runs on the way out
        client.wait_logged_out()
        # Same FIX port, so the client's own reconnect loop finds the restarted venue.
        second = start_simulator(tmp_path, password=PASSWORD, state_dir=state_dir, port=first.port)
        client.wait_logged_on(timeout_s=15)
        after = venue_truth(second.control, "FIXGW")
        after_restart = unique_id("after-")
        mark = client.mark()
        client.send(new_order_single(after_restart, "ACME", "1", 1, ord_type="1"))
        fill = client.wait_for(
            lambda m: m.msg_type == "8" and m.get(11) == after_restart and m.get(150) == "F", after=mark
        )
    finally:
        client.stop()
        if second is not None:
            second.stop()
        first.kill()

    fills_before, orders_before, positions_before = before
    assert len(fills_before) >= 3 and {f[1] for f in fills_before} >= set(filled)
    assert after == before
    assert resting in {dict(order)["cl_ord_id"] for order in orders_before}
    assert positions_before["ACME"]["qty"] == 6
    assert client.logon_count == 2
    assert fill.get(17) not in {f[0] for f in fills_before}  # ExecIDs stay unique across the restart
    # No sequence reset was needed: the client never asked for one and was never refused.
    assert not client.messages(lambda m: m.msg_type == "5" and "MsgSeqNum" in (m.get(58) or ""))
