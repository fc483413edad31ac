"""FIX messages <-> domain values, by tag number.

Inbound: one `toString()` call (about 1 us) and a split by SOH give every field of the message;
reading each through the SWIG getters would cost 1-40 us per field. QuickFIX has already checked
the message against the data dictionary; this module checks what the gateway needs beyond that
(required-for-us fields, enum values, numbers) and raises `MessageError` naming the tag.

Outbound: `build_message(msg_type, fields)` sets MsgType(35) and the body fields by tag number;
QuickFIX fills in the rest of the header when the message is sent on a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import quickfix as fix

from fixcore.masking import mask_secrets
from gateway.domain.errors import MessageError
from gateway.domain.events import CancelRejected, ExecutionReported
from gateway.domain.fix_values import ExecType, OrdStatus, Side

SOH: Final = "\x01"


def readable(text: str) -> str:
    """A raw FIX string for people and the ledger: SOH shown as |, secrets masked."""
    return mask_secrets(text).replace(SOH, "|")


def msg_type_of(raw: str) -> str:
    """MsgType(35) of a raw FIX string ("" if absent): cheaper than getHeader().getField(35),
    two SWIG calls, once the text is at hand anyway."""
    start = raw.find(SOH + "35=")
    if start < 0:
        return raw[3:].partition(SOH)[0] if raw.startswith("35=") else ""
    end = raw.find(SOH, start + 4)
    return raw[start + 4 : end if end >= 0 else len(raw)]


def field_of(raw: str, tag: str) -> str | None:
    """Value of the first occurrence of one tag in a raw FIX string (not the first field)."""
    marker = f"{SOH}{tag}="
    start = raw.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = raw.find(SOH, start)
    return raw[start : end if end >= 0 else len(raw)]


def fields_of(raw: str) -> dict[str, str]:
    """tag -> value of the first occurrence of each tag in a raw FIX string."""
    result: dict[str, str] = {}
    # walked backwards so that the first occurrence is the one written last
    for pair in reversed(raw.split(SOH)):
        tag, sep, value = pair.partition("=")
        if sep:
            result[tag] = value
    return result


def _required(fields: dict[str, str], tag: int, name: str) -> str:
    value = fields.get(str(tag))
    if value is None or value == "":
        raise MessageError(f"{name}({tag}) is missing", tag=tag)
    return value


def _int(fields: dict[str, str], tag: int, name: str, *, required: bool) -> int | None:
    value = fields.get(str(tag))
    if value is None or value == "":
        if required:
            raise MessageError(f"{name}({tag}) is missing", tag=tag)
        return None
    if value.isascii() and value.isdigit():  # the usual "100": no Decimal needed
        return int(value)
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise MessageError(f"{name}({tag})={value!r} is not a number", tag=tag) from exc
    if number != number.to_integral_value() or number < 0:
        raise MessageError(f"{name}({tag})={value!r} is not a whole non-negative quantity", tag=tag)
    return int(number)


def _decimal(fields: dict[str, str], tag: int, name: str) -> Decimal | None:
    value = fields.get(str(tag))
    if value is None or value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise MessageError(f"{name}({tag})={value!r} is not a price", tag=tag) from exc
    if not number.is_finite() or number < 0:
        raise MessageError(f"{name}({tag})={value!r} is not a valid price", tag=tag)
    return number


# value -> member: a dict lookup instead of Enum.__call__ on every report
_MEMBERS: Final[dict[type, dict[str, Any]]] = {
    enum: {member.value: member for member in enum} for enum in (ExecType, OrdStatus, Side)
}
_FILL_TYPES: Final = frozenset({ExecType.TRADE, ExecType.TRADE_CORRECT})
_REFERRING_TYPES: Final = frozenset({ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT})


def _enum(enum: Any, fields: dict[str, str], tag: int, name: str) -> Any:
    value = _required(fields, tag, name)
    member = _MEMBERS[enum].get(value)
    if member is None:
        raise MessageError(f"{name}({tag})={value!r} is not a value the gateway knows", tag=tag)
    return member


def parse_execution_report(raw: str, session: str, recv_ns: int) -> ExecutionReported:
    """ExecutionReport(35=8) -> ExecutionReported. Raises MessageError naming the bad tag."""
    f = fields_of(raw)
    exec_type: ExecType = _enum(ExecType, f, 150, "ExecType")
    last_qty = _int(f, 32, "LastQty", required=False) or 0
    last_px = _decimal(f, 31, "LastPx")
    if exec_type in _FILL_TYPES:
        if last_qty <= 0:
            raise MessageError(f"ExecType(150)={exec_type.value} needs a positive LastQty(32)", tag=32)
        if last_px is None:
            raise MessageError(f"ExecType(150)={exec_type.value} needs LastPx(31)", tag=31)
    exec_ref_id = f.get("19") or None
    if exec_type in _REFERRING_TYPES and exec_ref_id is None:
        raise MessageError(f"ExecType(150)={exec_type.value} needs ExecRefID(19)", tag=19)
    cum_qty = _int(f, 14, "CumQty", required=True)
    leaves_qty = _int(f, 151, "LeavesQty", required=True)
    assert cum_qty is not None and leaves_qty is not None
    return ExecutionReported(
        session=session,
        exec_id=_required(f, 17, "ExecID"),
        exec_type=exec_type,
        ord_status=_enum(OrdStatus, f, 39, "OrdStatus"),
        cl_ord_id=_required(f, 11, "ClOrdID"),
        orig_cl_ord_id=f.get("41") or None,
        order_id=_required(f, 37, "OrderID"),
        symbol=_required(f, 55, "Symbol"),
        side=_enum(Side, f, 54, "Side"),
        order_qty=_int(f, 38, "OrderQty", required=False),
        price=_decimal(f, 44, "Price"),
        last_qty=last_qty,
        last_px=last_px,
        cum_qty=cum_qty,
        leaves_qty=leaves_qty,
        avg_px=_decimal(f, 6, "AvgPx"),
        exec_ref_id=exec_ref_id,
        text=f.get("58") or None,
        poss_dup=f.get("43") == "Y",
        transact_time=f.get("60") or None,
        recv_ns=recv_ns,
        seq_num=int(f.get("34", "0") or 0),
        raw=readable(raw),
        trade_date=f.get("75") or None,
    )


def parse_cancel_reject(raw: str, session: str, recv_ns: int) -> CancelRejected:
    """OrderCancelReject(35=9) -> CancelRejected."""
    f = fields_of(raw)
    status_text = f.get("39")
    try:
        status = OrdStatus(status_text) if status_text else None
    except ValueError as exc:
        raise MessageError(f"OrdStatus(39)={status_text!r} is not a value the gateway knows", tag=39) from exc
    return CancelRejected(
        session=session,
        cl_ord_id=_required(f, 11, "ClOrdID"),
        orig_cl_ord_id=f.get("41") or None,
        order_id=f.get("37") or None,
        ord_status=status,
        response_to=_required(f, 434, "CxlRejResponseTo"),
        reason=f.get("102") or None,
        text=f.get("58") or None,
        recv_ns=recv_ns,
        seq_num=int(f.get("34", "0") or 0),
        raw=readable(raw),
    )


def build_message(msg_type: str, fields: Iterable[tuple[int, str]]) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    for tag, value in fields:
        message.setField(tag, value)
    return message


def build_market_data_request(
    md_req_id: str, symbols: Iterable[str], *, subscription: str, depth: int
) -> fix.Message:
    """MarketDataRequest(35=V): SubscriptionRequestType(263) 0 snapshot / 1 subscribe /
    2 unsubscribe, MDUpdateType(265)=1 incremental, entry types bid, offer, trade."""
    message = build_message("V", [(262, md_req_id), (263, subscription), (264, str(depth))])
    if subscription == "1":
        message.setField(265, "1")
    for entry_type in ("0", "1", "2"):
        group = fix.Group(267, 269)
        group.setField(269, entry_type)
        message.addGroup(group)
    for symbol in symbols:
        group = fix.Group(146, 55)
        group.setField(55, symbol)
        message.addGroup(group)
    return message


def build_business_reject(
    *, ref_seq_num: int, ref_msg_type: str, reason: str, text: str, ref_id: str | None
) -> fix.Message:
    """BusinessMessageReject(35=j) answering a message the gateway could not process."""
    fields: list[tuple[int, str]] = [
        (45, str(ref_seq_num)),
        (372, ref_msg_type),
        (380, reason),
        (58, text[:200]),
    ]
    if ref_id:
        fields.append((379, ref_id))
    return build_message("j", fields)
