"""Order commands -> FIX 4.4 fields: the tags, their order and their exact text."""

from __future__ import annotations

from decimal import Decimal

from gateway.domain.commands import CancelOrder, ReplaceOrder, RequestStatus, SubmitOrder
from gateway.domain.fix_values import OrdType, Side, TimeInForce
from gateway.fix.order_encoding import encode

NOW_NS = 1_795_986_000_123_000_000  # 2026-11-29 21:00:00.123 UTC


def test_a_limit_order_is_a_new_order_single_with_an_exact_price() -> None:
    command = SubmitOrder(
        cl_ord_id="7-1",
        symbol="ACME",
        side=Side.BUY,
        order_qty=5,
        ord_type=OrdType.LIMIT,
        price=Decimal("100.10"),
        time_in_force=TimeInForce.DAY,
        transact_ns=NOW_NS,
    )

    assert encode(command) == (
        "D",
        [(11, "7-1"), (55, "ACME"), (54, "1"), (60, "20261129-21:00:00.123"), (38, "5"), (40, "2"),
         (44, "100.10"), (59, "0")],
    )  # fmt: skip


def test_a_market_order_carries_no_price() -> None:
    command = SubmitOrder(
        cl_ord_id="7-2",
        symbol="ACME",
        side=Side.SELL,
        order_qty=1,
        ord_type=OrdType.MARKET,
        price=None,
        time_in_force=TimeInForce.IOC,
        transact_ns=NOW_NS,
    )

    msg_type, fields = encode(command)

    assert msg_type == "D" and 44 not in dict(fields) and dict(fields)[59] == "3"


def test_cancel_and_replace_name_the_order_they_change() -> None:
    cancel = CancelOrder(
        cl_ord_id="7-3", orig_cl_ord_id="7-1", order_id="O9", symbol="ACME", side=Side.BUY, order_qty=5,
        transact_ns=NOW_NS,
    )  # fmt: skip
    replace = ReplaceOrder(
        cl_ord_id="7-4", orig_cl_ord_id="7-1", order_id=None, symbol="ACME", side=Side.BUY, order_qty=8,
        ord_type=OrdType.LIMIT, price=Decimal("100"), time_in_force=TimeInForce.GTC, transact_ns=NOW_NS,
    )  # fmt: skip

    assert encode(cancel) == (
        "F",
        [
            (41, "7-1"),
            (11, "7-3"),
            (37, "O9"),
            (55, "ACME"),
            (54, "1"),
            (60, "20261129-21:00:00.123"),
            (38, "5"),
        ],
    )
    msg_type, fields = encode(replace)
    assert msg_type == "G" and 37 not in dict(fields)
    assert dict(fields)[38] == "8" and dict(fields)[44] == "100" and dict(fields)[59] == "1"


def test_a_status_request_names_the_order() -> None:
    status = RequestStatus(cl_ord_id="7-1", order_id="O9", symbol="ACME", side=Side.BUY)

    assert encode(status) == ("H", [(11, "7-1"), (37, "O9"), (55, "ACME"), (54, "1")])
