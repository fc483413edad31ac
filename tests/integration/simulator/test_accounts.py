"""Accounts belong to sessions, credentials are per session, OrderIDs cannot be guessed.

Over loopback against the real simulator (a subprocess): FIXGW holds a position and resting bids;
CLIENT1, logged on with its own password, names Account(1)=FIXGW in every kind of request (the
review's scenario). Each request is refused the FIX
way and logged by the venue, FIXGW's orders, positions and ClOrdIDs are untouched, and FIXGW is
sent nothing.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.support.raw_fix import FixMessage, RawFixSession, sending_time
from tests.support.sim_process import CLIENT1_PASSWORD_ENV, SimulatorProcess, start_simulator

FIXGW_PASSWORD = f"gw-{uuid.uuid4().hex}"
CLIENT1_PASSWORD = f"c1-{uuid.uuid4().hex}"
REFUSED = "Account(1) FIXGW is not an account of this session"


@dataclass
class Market:
    sim: SimulatorProcess
    victim: RawFixSession  # FIXGW
    attacker: RawFixSession  # CLIENT1
    resting: dict[str, str]  # FIXGW's resting bids: ClOrdID -> OrderID
    client1_with_fixgw_password: str  # the answer to CLIENT1 logging on with FIXGW's password


def order_fields(cl_ord_id: str, side: str, qty: int, price: str | None = None) -> list[tuple[int, str]]:
    fields = [(11, cl_ord_id), (55, "ACME"), (54, side), (60, sending_time()), (38, str(qty))]
    return fields + ([(40, "2"), (44, price)] if price else [(40, "1")])


def answer(
    session: RawFixSession, predicate: Callable[[FixMessage], bool], timeout_s: float = 5.0
) -> FixMessage:
    return session.wait_for(predicate, timeout_s=timeout_s)


def accepted(cl_ord_id: str) -> Callable[[FixMessage], bool]:
    return lambda m: m.get(11) == cl_ord_id and m.get(150) == "0"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    sim = start_simulator(
        tmp_path_factory.mktemp("sim-accounts"),
        password=FIXGW_PASSWORD,
        env={CLIENT1_PASSWORD_ENV: CLIENT1_PASSWORD},
    )
    victim = attacker = None
    try:
        deadline = time.monotonic() + 10
        while not sim.control.book("ACME")["asks"]:
            assert time.monotonic() < deadline, "no background offers"
            time.sleep(0.05)
        sim.control.pause_market()
        victim = RawFixSession(sim.port, sender_comp_id="FIXGW")
        assert victim.logon(username="FIXGW", password=FIXGW_PASSWORD).msg_type == "A"
        victim.send("D", order_fields("V-FILL", "1", 5))
        answer(victim, lambda m: m.get(11) == "V-FILL" and m.get(39) == "2")
        resting = {}
        for cl_ord_id in ("V-1", "V-2"):
            victim.send("D", order_fields(cl_ord_id, "1", 3, "90.00"))
            new = answer(victim, accepted(cl_ord_id))
            resting[cl_ord_id] = new.get(37) or ""
        victim.drain(0.2)
        with RawFixSession(sim.port, sender_comp_id="CLIENT1") as borrowed:
            tried = borrowed.logon(username="CLIENT1", password=FIXGW_PASSWORD).msg_type or ""
        attacker = RawFixSession(sim.port, sender_comp_id="CLIENT1")
        assert attacker.logon(username="CLIENT1", password=CLIENT1_PASSWORD).msg_type == "A"
        yield Market(
            sim=sim, victim=victim, attacker=attacker, resting=resting, client1_with_fixgw_password=tried
        )
    finally:
        for session in (attacker, victim):
            if session is not None:
                session.logout()
                session.close()
        assert sim.stop() == 0, sim.output()[-3000:]


def fixgw_truth(
    market: Market,
) -> tuple[list[tuple[str, str, str | None, int]], dict[str, dict[str, object]]]:
    orders = sorted(
        (o["cl_ord_id"], o["status"], o["price"], o["leaves_qty"]) for o in market.sim.control.orders("FIXGW")
    )
    return orders, market.sim.control.positions("FIXGW")


@pytest.fixture
def untouched(market: Market) -> Iterator[None]:
    """After the test: FIXGW's orders and position are as before, and FIXGW was sent nothing."""
    before = fixgw_truth(market)
    yield
    assert fixgw_truth(market) == before
    unsolicited = [str(m) for m in market.victim.drain(0.2) if m.msg_type not in ("0", "1")]
    assert unsolicited == []


def test_new_order_in_another_sessions_account_is_rejected_and_recorded_nowhere(
    market: Market, untouched: None
) -> None:
    cl_ord_id = f"X-{uuid.uuid4().hex[:8]}"
    market.attacker.send("D", [(1, "FIXGW"), *order_fields(cl_ord_id, "2", 20)])
    report = answer(market.attacker, lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id)

    assert (report.get(150), report.get(39), report.get(103)) == ("8", "8", "15")
    assert report.get(58) == REFUSED
    assert report.get(37) == "NONE"
    assert cl_ord_id not in {o["cl_ord_id"] for o in market.sim.control.orders()}
    assert f"NewOrderSingle(35=D) refused: {REFUSED}" in market.sim.output()


def test_cancel_and_replace_of_another_sessions_order_get_order_cancel_reject(
    market: Market, untouched: None
) -> None:
    market.attacker.send("F", [(41, "V-2"), (1, "FIXGW"), *order_fields("X-F", "1", 3)[:4], (38, "3")])
    cancel = answer(market.attacker, lambda m: m.msg_type == "9" and m.get(11) == "X-F")
    replace = [(41, "V-1"), (1, "FIXGW"), *order_fields("X-G", "1", 3, "105.00")]
    market.attacker.send("G", replace)
    replaced = answer(market.attacker, lambda m: m.msg_type == "9" and m.get(11) == "X-G")

    assert (cancel.get(434), cancel.get(102), cancel.get(58)) == ("1", "99", REFUSED)
    assert (replaced.get(434), replaced.get(102), replaced.get(58)) == ("2", "99", REFUSED)


def test_another_sessions_order_id_is_an_unknown_order_and_is_logged(market: Market, untouched: None) -> None:
    order_id = market.resting["V-2"]
    market.attacker.send("F", [(41, "V-2"), (37, order_id), *order_fields("X-ID", "1", 3)[:4], (38, "3")])
    reject = answer(market.attacker, lambda m: m.msg_type == "9" and m.get(11) == "X-ID")

    assert (reject.get(102), reject.get(37)) == ("1", "NONE")
    assert f"OrderID(37) {order_id} belongs to account FIXGW, not CLIENT1" in market.sim.output()


def test_status_of_another_sessions_order_is_refused(market: Market, untouched: None) -> None:
    market.attacker.send("H", [(11, "V-1"), (1, "FIXGW"), (55, "ACME"), (54, "1")])
    status = answer(market.attacker, lambda m: m.msg_type == "8" and m.get(11) == "V-1")

    assert (status.get(150), status.get(39), status.get(103), status.get(58)) == ("I", "8", "15", REFUSED)


def test_mass_status_of_another_sessions_account_gets_business_message_reject(
    market: Market, untouched: None
) -> None:
    market.attacker.send("AF", [(584, "spy-af"), (585, "7"), (1, "FIXGW")])
    reject = answer(market.attacker, lambda m: m.msg_type in ("j", "8"))

    assert (reject.msg_type, reject.get(372), reject.get(380), reject.get(379)) == ("j", "AF", "6", "spy-af")
    assert reject.get(58) == REFUSED
    assert [m.msg_type for m in market.attacker.drain(0.3) if m.msg_type == "8"] == []


def test_positions_of_another_sessions_account_are_not_authorized(market: Market, untouched: None) -> None:
    request = [(710, "spy-an"), (724, "0"), (1, "FIXGW"), (581, "1"), (715, time.strftime("%Y%m%d"))]
    market.attacker.send("AN", [*request, (60, sending_time())])
    ack = answer(market.attacker, lambda m: m.msg_type == "AO" and m.get(710) == "spy-an")

    assert (ack.get(728), ack.get(729), ack.get(727), ack.get(58)) == ("3", "2", "0", REFUSED)
    assert [m for m in market.attacker.drain(0.3) if m.msg_type == "AP"] == []


def test_mass_cancel_of_another_sessions_account_is_rejected(market: Market, untouched: None) -> None:
    market.attacker.send("q", [(11, "X-Q"), (530, "7"), (1, "FIXGW"), (60, sending_time())])
    report = answer(market.attacker, lambda m: m.msg_type == "r" and m.get(11) == "X-Q")

    assert (report.get(531), report.get(532), report.get(533), report.get(58)) == ("0", "99", "0", REFUSED)


def test_the_sessions_own_requests_see_only_its_own(market: Market, untouched: None) -> None:
    market.attacker.send("AF", [(584, "own-af"), (585, "7")])  # no Account(1): the session's own
    status = answer(market.attacker, lambda m: m.msg_type == "8" and m.get(584) == "own-af")
    request = [(710, "own-an"), (724, "0"), (1, "CLIENT1"), (581, "1"), (715, time.strftime("%Y%m%d"))]
    market.attacker.send("AN", [*request, (60, sending_time())])  # Account(1) is required in AN
    ack = answer(market.attacker, lambda m: m.msg_type == "AO" and m.get(710) == "own-an")

    assert (status.get(911), status.get(1)) == ("0", "CLIENT1"), "CLIENT1 has no orders: FIXGW's are not its"
    assert (ack.get(1), ack.get(728)) == ("CLIENT1", "2")


def test_a_refused_client_order_id_stays_free_for_its_owner(market: Market) -> None:
    market.attacker.send("D", [(1, "FIXGW"), *order_fields("V-3", "1", 1, "80.00")])
    answer(market.attacker, lambda m: m.msg_type == "8" and m.get(11) == "V-3")
    market.victim.send("D", order_fields("V-3", "1", 1, "80.00"))
    new = answer(market.victim, lambda m: m.msg_type == "8" and m.get(11) == "V-3")
    market.victim.send("F", [(41, "V-3"), *order_fields("V-3c", "1", 1)[:4], (38, "1")])
    answer(market.victim, lambda m: m.msg_type == "8" and m.get(11) == "V-3c" and m.get(150) == "4")

    assert new.get(150) == "0", str(new)


def test_each_session_logs_on_only_with_its_own_password(market: Market) -> None:
    with RawFixSession(market.sim.port, sender_comp_id="FIXGW-MD") as session:
        client1_password_on_fixgw_md = session.logon(password=CLIENT1_PASSWORD).msg_type
    with RawFixSession(market.sim.port, sender_comp_id="FIXGW-MD") as own:
        gateway_password_on_fixgw_md = own.logon(password=FIXGW_PASSWORD).msg_type
        own.logout()

    assert market.client1_with_fixgw_password == "5"
    assert client1_password_on_fixgw_md == "5"
    assert gateway_password_on_fixgw_md == "A", "the gateway's two sessions share its password"


def test_order_ids_are_unique_and_not_a_sequence(market: Market) -> None:
    ids = []
    for number in range(6):
        cl_ord_id = f"id-{uuid.uuid4().hex[:8]}-{number}"
        market.attacker.send("D", order_fields(cl_ord_id, "1", 1, "50.00"))
        ids.append(answer(market.attacker, accepted(cl_ord_id)).get(37))
    market.attacker.send("q", [(11, f"clean-{uuid.uuid4().hex[:8]}"), (530, "7"), (60, sending_time())])
    market.attacker.drain(0.3)

    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d+-[0-9a-f]{16}", order_id or "") for order_id in ids), ids
    hex_parts = [int((order_id or "0-0").split("-")[1], 16) for order_id in ids]
    assert not all(b - a == 1 for a, b in itertools.pairwise(hex_parts)), ids
