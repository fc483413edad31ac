"""Hostile input against the real simulator, over a raw TCP socket.

A peer logs on as CLIENT1 correctly, then sends frames QuickFIX would never produce: a bad
CheckSum(10), a wrong BodyLength(9), garbled fields, an unknown MsgType(35), a NewOrderSingle(35=D)
missing a required field. The simulator must answer the FIX way (Reject(35=3) with
SessionRejectReason(373), BusinessMessageReject(35=j)), or drop a garbled frame without counting
it, as QuickFIX's rules say, and it must keep serving: the hostile session itself stays up where
FIX allows it, and a well-behaved QuickFIX session (FIXGW) still trades afterwards.

The simulator runs as a subprocess (tests/support/sim_process.py), so a crash would fail these
tests instead of taking pytest down; the module's teardown checks it exits cleanly on SIGTERM.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fix_client import FixTestClient, new_order_single, unique_id
from tests.support.raw_fix import FixMessage, RawFixSession, checksum, frame, sending_time
from tests.support.sim_process import CLIENT1_PASSWORD_ENV, SimulatorProcess, start_simulator

PASSWORD = f"pw-{uuid.uuid4().hex}"
HOSTILE_PASSWORD = f"pw-client1-{uuid.uuid4().hex}"
HOSTILE = "CLIENT1"
WELL_BEHAVED = "FIXGW"


@pytest.fixture(scope="module")
def venue_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    process = start_simulator(
        tmp_path_factory.mktemp("sim-bad-input"),
        password=PASSWORD,
        env={CLIENT1_PASSWORD_ENV: HOSTILE_PASSWORD},
    )
    try:
        yield process
    finally:
        alive_at_end = process.alive()
        exit_code = process.stop()
    assert alive_at_end, f"the simulator died during the hostile-input tests:\n{process.output()[-3000:]}"
    assert exit_code == 0, f"the simulator exited with {exit_code} on SIGTERM:\n{process.output()[-3000:]}"


@pytest.fixture(scope="module")
def well_behaved(
    venue_process: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FixTestClient]:
    """FIXGW, logged on through QuickFIX before any hostile input arrives, and kept on."""
    client = FixTestClient.start_new(
        tmp_path_factory.mktemp("fixgw-client"),
        venue_process.port,
        sender=WELL_BEHAVED,
        username=WELL_BEHAVED,
        password=PASSWORD,
    )
    try:
        yield client
    finally:
        client.stop()


@pytest.fixture
def hostile(venue_process: SimulatorProcess) -> Iterator[RawFixSession]:
    session = RawFixSession(venue_process.port, sender_comp_id=HOSTILE)
    answer = session.logon(username=HOSTILE, password=HOSTILE_PASSWORD)
    assert answer.msg_type == "A", f"CLIENT1 could not log on: {answer}"
    try:
        yield session
    finally:
        session.logout()
        session.close()


def order_fields(cl_ord_id: str, *, drop: int | None = None) -> list[tuple[int | str, str]]:
    """An IOC limit buy far below the market: valid, never trades, leaves nothing behind."""
    fields: list[tuple[int | str, str]] = [
        (11, cl_ord_id),
        (55, "ACME"),
        (54, "1"),
        (60, sending_time()),
        (38, "1"),
        (40, "2"),
        (44, "1.00"),
        (59, "3"),
    ]
    return [(tag, value) for tag, value in fields if tag != drop]


def with_body_length(data: bytes, new_length: int | str) -> bytes:
    """`data` with its BodyLength(9) replaced and CheckSum(10) recomputed, so only 9 is wrong."""
    replaced = re.sub(rb"\x019=\d+\x01", b"\x019=" + str(new_length).encode() + b"\x01", data, count=1)
    without_checksum = replaced[: replaced.rindex(b"10=")]
    return without_checksum + b"10=" + checksum(without_checksum).encode() + b"\x01"


def body_length_of(data: bytes) -> int:
    match = re.search(rb"\x019=(\d+)\x01", data)
    assert match is not None
    return int(match.group(1))


def wrong_checksum(data: bytes) -> bytes:
    correct = int(data[data.rindex(b"10=") + 3 : -1])
    return data[: data.rindex(b"10=")] + f"10={(correct + 1) % 256:03d}".encode() + b"\x01"


def mentions(messages: list[FixMessage], cl_ord_id: str) -> list[str]:
    return [str(m) for m in messages if cl_ord_id.encode() in m.raw]


def assert_session_alive_and_frame_not_counted(session: RawFixSession, cl_ord_id: str) -> None:
    """A TestRequest(35=1) sent with the SAME MsgSeqNum as the dropped frame must be answered:
    had the frame been counted, that number would be too low and the venue would log us out."""
    mark = len(session.history)
    heartbeat = session.test_request(f"alive-{session.next_seq_num}")
    assert heartbeat.msg_type == "0"
    between = session.history[mark:]
    assert [m.msg_type for m in between] == ["0"], [str(m) for m in between]
    assert not mentions(between, cl_ord_id)


def venue_cl_ord_ids(venue_process: SimulatorProcess, account: str) -> set[str]:
    return {order["cl_ord_id"] for order in venue_process.control.orders(account)}


def garbled_checksum(session: RawFixSession, cl_ord_id: str) -> bytes:
    return wrong_checksum(frame([*session.header("D"), *order_fields(cl_ord_id)]))


def garbled_short_body_length(session: RawFixSession, cl_ord_id: str) -> bytes:
    data = frame([*session.header("D"), *order_fields(cl_ord_id)])
    return with_body_length(data, body_length_of(data) - 5)


def garbled_tag_not_a_number(session: RawFixSession, cl_ord_id: str) -> bytes:
    return frame([*session.header("D"), ("abc", "1"), *order_fields(cl_ord_id)])


def garbled_field_without_tag(session: RawFixSession, cl_ord_id: str) -> bytes:
    return frame([*session.header("D"), ("", "value"), *order_fields(cl_ord_id)])


def garbled_field_without_equals(session: RawFixSession, cl_ord_id: str) -> bytes:
    data = frame([*session.header("D"), *order_fields(cl_ord_id)])
    broken = data.replace(b"\x0155=ACME\x01", b"\x0155ACME\x01", 1)
    return with_body_length(broken, body_length_of(data) - 1)


@pytest.mark.parametrize(
    "make_frame",
    [
        garbled_checksum,
        garbled_short_body_length,
        garbled_tag_not_a_number,
        garbled_field_without_tag,
        garbled_field_without_equals,
    ],
    ids=[
        "bad-checksum",
        "body-length-too-short",
        "tag-not-a-number",
        "field-without-tag",
        "field-without-equals",
    ],
)
def test_garbled_order_is_dropped_uncounted_and_the_session_stays_up(
    venue_process: SimulatorProcess, hostile: RawFixSession, make_frame
) -> None:
    cl_ord_id = unique_id("garbled-")

    hostile.send_raw(make_frame(hostile, cl_ord_id))

    assert_session_alive_and_frame_not_counted(hostile, cl_ord_id)
    assert cl_ord_id not in venue_cl_ord_ids(venue_process, HOSTILE)


def test_body_length_too_long_swallows_the_next_frame_and_the_session_recovers(
    venue_process: SimulatorProcess, hostile: RawFixSession
) -> None:
    cl_ord_id = unique_id("long-")
    data = frame([*hostile.header("D"), *order_fields(cl_ord_id)])
    mark = len(hostile.history)

    # QuickFIX waits for the bytes BodyLength(9) promised, then reads up to the next CheckSum(10):
    # the frame behind it is merged into the garbled one and dropped with it.
    hostile.send_raw(with_body_length(data, body_length_of(data) + 20))
    hostile.send("1", [(112, "swallowed")], consume_seq_num=False)
    heartbeat = hostile.test_request("after-long")

    assert heartbeat.get(112) == "after-long"
    received = hostile.history[mark:]
    assert [m.get(112) for m in received] == ["after-long"], [str(m) for m in received]
    assert cl_ord_id not in venue_cl_ord_ids(venue_process, HOSTILE)


def test_non_numeric_body_length_loses_only_buffered_bytes_and_the_session_stays_up(
    venue_process: SimulatorProcess, hostile: RawFixSession
) -> None:
    cl_ord_id = unique_id("nan-length-")
    hostile.send_raw(frame([*hostile.header("D"), *order_fields(cl_ord_id)], body_length="abc"))

    # QuickFIX throws away everything it had buffered on this connection, so a frame right
    # behind may go with it (timing decides). Re-sending the same uncounted MsgSeqNum is safe.
    answered = None
    for attempt in range(5):
        try:
            answered = hostile.test_request(f"after-nan-{attempt}", timeout_s=1.0)
            break
        except TimeoutError:
            hostile.next_seq_num -= 1  # that TestRequest was lost too: its number is still free

    assert answered is not None, [str(m) for m in hostile.history]
    assert all(m.msg_type == "0" for m in hostile.history[1:]), [str(m) for m in hostile.history]
    assert cl_ord_id not in venue_cl_ord_ids(venue_process, HOSTILE)


def test_unknown_msg_type_gets_session_reject_invalid_msg_type(hostile: RawFixSession) -> None:
    seq_num = hostile.next_seq_num

    hostile.send("ZZ", [(11, unique_id("zz-"))])
    reject = hostile.wait_for(lambda m: m.msg_type in {"3", "j"})

    assert reject.msg_type == "3", str(reject)
    assert reject.get(373) == "11"  # SessionRejectReason: Invalid MsgType
    assert reject.get(372) == "ZZ"  # RefMsgType
    assert reject.get(45) == str(seq_num)  # RefSeqNum
    assert hostile.test_request("after-zz").msg_type == "0"


def test_valid_but_unsupported_msg_type_gets_business_message_reject(hostile: RawFixSession) -> None:
    seq_num = hostile.next_seq_num
    # NewOrderList(35=E): defined in FIX 4.4, not offered by the simulator.
    new_order_list = [
        (66, unique_id("list-")),
        (394, "1"),
        (68, "1"),
        (73, "1"),
        (11, unique_id("leg-")),
        (67, "1"),
        (55, "ACME"),
        (54, "1"),
        (38, "1"),
        (40, "1"),
    ]

    hostile.send("E", new_order_list)
    reject = hostile.wait_for(lambda m: m.msg_type in {"3", "j"})

    assert reject.msg_type == "j", str(reject)
    assert reject.get(380) == "3"  # BusinessRejectReason: Unsupported Message Type
    assert reject.get(372) == "E"
    assert reject.get(45) == str(seq_num)
    assert hostile.test_request("after-e").msg_type == "0"


@pytest.mark.parametrize(
    ("missing_tag", "name"),
    [(54, "Side"), (40, "OrdType"), (60, "TransactTime"), (11, "ClOrdID")],
)
def test_new_order_single_missing_required_field_gets_session_reject_and_no_order(
    venue_process: SimulatorProcess, hostile: RawFixSession, missing_tag: int, name: str
) -> None:
    cl_ord_id = unique_id(f"no-{name}-")
    seq_num = hostile.next_seq_num

    hostile.send("D", order_fields(cl_ord_id, drop=missing_tag))
    reject = hostile.wait_for(lambda m: m.msg_type in {"3", "j", "8"})

    assert reject.msg_type == "3", str(reject)
    assert reject.get(373) == "1"  # Required tag missing
    assert reject.get(371) == str(missing_tag)  # RefTagID
    assert reject.get(45) == str(seq_num)
    assert hostile.test_request(f"after-no-{name}").msg_type == "0"
    assert cl_ord_id not in venue_cl_ord_ids(venue_process, HOSTILE)


@pytest.mark.parametrize(
    ("fields_change", "reason", "ref_tag"),
    [
        (lambda fields: [(t, "abc" if t == 38 else v) for t, v in fields], "6", "38"),  # bad data format
        (lambda fields: [*fields, (44, "2.00")], "13", "44"),  # tag appears more than once
        (lambda fields: [*fields, (40, "")], "13", "40"),  # repeated and empty
        (lambda fields: [(t, "" if t == 55 else v) for t, v in fields], "4", "55"),  # tag without a value
    ],
    ids=["qty-not-a-number", "price-twice", "ordtype-twice-empty", "symbol-empty"],
)
def test_malformed_field_value_gets_session_reject_and_no_order(
    venue_process: SimulatorProcess, hostile: RawFixSession, fields_change, reason: str, ref_tag: str
) -> None:
    cl_ord_id = unique_id("malformed-")

    hostile.send("D", fields_change(order_fields(cl_ord_id)))
    reject = hostile.wait_for(lambda m: m.msg_type in {"3", "j", "8"})

    assert reject.msg_type == "3", str(reject)
    assert (reject.get(373), reject.get(371)) == (reason, ref_tag), str(reject)
    assert hostile.test_request("after-malformed").msg_type == "0"
    assert cl_ord_id not in venue_cl_ord_ids(venue_process, HOSTILE)


def replace_field(
    fields: list[tuple[int | str, str]], tag: int, value: str | None
) -> list[tuple[int | str, str]]:
    """`fields` with `tag` set to `value`, or removed when `value` is None."""
    changed: list[tuple[int | str, str]] = []
    for field_tag, field_value in fields:
        if field_tag != tag:
            changed.append((field_tag, field_value))
        elif value is not None:
            changed.append((field_tag, value))
    return changed


@pytest.mark.parametrize(
    ("tag", "value", "text"),
    [
        (55, "NOPE", "unknown symbol"),
        (55, None, "unknown symbol"),  # Symbol(55) is optional in the FIX 4.4 dictionary
        (38, None, ""),  # OrderQty(38) is optional in the FIX 4.4 dictionary too
        (38, "0", ""),
        (38, "-5", ""),
        (44, "1.001", ""),  # off the 0.01 tick grid
        (44, None, ""),  # a limit order without a price
        (54, "7", "Side(54)"),  # valid FIX 4.4 value the venue does not trade
    ],
    ids=[
        "unknown-symbol",
        "no-symbol",
        "no-qty",
        "zero-qty",
        "negative-qty",
        "off-tick",
        "limit-no-price",
        "side-7",
    ],
)
def test_order_the_venue_cannot_accept_gets_execution_report_rejected(
    venue_process: SimulatorProcess, hostile: RawFixSession, tag: int, value: str | None, text: str
) -> None:
    cl_ord_id = unique_id("venue-reject-")

    hostile.send("D", replace_field(order_fields(cl_ord_id), tag, value))
    report = hostile.wait_for(
        lambda m: m.msg_type in {"3", "j"} or (m.msg_type == "8" and m.get(11) == cl_ord_id)
    )

    assert (report.msg_type, report.get(150), report.get(39)) == ("8", "8", "8"), str(report)  # Rejected
    assert text in (report.get(58) or ""), str(report)
    assert report.get(58), "a reject must say why in Text(58)"
    positions = venue_process.control.positions(HOSTILE)
    assert all(position["qty"] == 0 for position in positions.values()), positions


@pytest.mark.parametrize(
    "data_fields",
    [
        [(95, "-5"), (96, "abc")],  # RawDataLength negative: used to abort QuickFIX (std::length_error)
        [(212, "-3"), (213, "abc")],  # XmlDataLen negative, in the header: the same abort
        [(95, "2000000000"), (96, "abc")],  # far past the frame: used to segfault QuickFIX
        [(354, "-1"), (355, "abc")],  # EncodedTextLen negative
    ],
    ids=["raw-data-negative", "xml-data-negative", "raw-data-huge", "encoded-text-negative"],
)
def test_hostile_data_field_lengths_do_not_take_the_venue_down(
    venue_process: SimulatorProcess, hostile: RawFixSession, data_fields: list[tuple[int, str]]
) -> None:
    """fix_specs/FIX44.xml declares no DATA fields (see fix_specs/README.md), so QuickFIX reads
    these values up to the next SOH instead of trusting the announced length."""
    hostile.send("0", data_fields)
    answer = hostile.test_request("after-data-length")

    assert answer.msg_type == "0", str(answer)
    assert venue_process.alive(), venue_process.output()[-3000:]


def test_well_behaved_session_still_trades_after_hostile_input(
    venue_process: SimulatorProcess, hostile: RawFixSession, well_behaved: FixTestClient, tmp_path: Path
) -> None:
    # One more burst of everything above, on the hostile session, right before the trade.
    for make_frame in (garbled_checksum, garbled_short_body_length, garbled_tag_not_a_number):
        hostile.send_raw(make_frame(hostile, unique_id("burst-")))
    hostile.send("ZZ", [(11, "x")])
    hostile.send("D", order_fields(unique_id("burst-"), drop=54))
    cl_ord_id = unique_id("trade-")

    assert well_behaved.send(new_order_single(cl_ord_id, "ACME", "1", 1, ord_type="1"))
    fill = well_behaved.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(150) == "F")

    assert fill.get(32) == "1"
    assert fill.get(17) in {f["exec_id"] for f in venue_process.control.fills(WELL_BEHAVED)}
    assert well_behaved.logged_on
    assert hostile.test_request("after-burst").msg_type == "0"
