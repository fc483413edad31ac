"""MarketDataSnapshotFullRefresh(35=W), MarketDataIncrementalRefresh(35=X) and
MarketDataRequestReject(35=Y) -> gateway.marketdata.events values.

Takes a quickfix.Message (or its raw string) and gives a `MarketDataMessage`. The message is read
with one SWIG call (`toString()`, about 1 us) and parsed in Python by tag number, because each
typed getter or group accessor crosses SWIG at about 40 us per field (bench/decision_latency.py
measures both). QuickFIX has already validated the message against the data dictionary, so this
parser only walks tag=value pairs in wire order; repeating-group entries start at their
delimiter tag: MDEntryType(269) for W, MDUpdateAction(279) for X.
"""

from __future__ import annotations

import calendar
from typing import Any, Final

from gateway.marketdata.events import (
    ACTION_NEW,
    BookEntry,
    IncrementalReceived,
    MarketDataError,
    MarketDataMessage,
    RequestRejected,
    SnapshotReceived,
    px_e8_from_str,
)

SOH: Final = "\x01"

_TAG_MSG_TYPE: Final = "35"
_TAG_MSG_SEQ_NUM: Final = "34"
_TAG_SENDING_TIME: Final = "52"
_TAG_SYMBOL: Final = "55"
_TAG_RPT_SEQ: Final = "83"
_TAG_NO_MD_ENTRIES: Final = "268"
_TAG_MD_ENTRY_TYPE: Final = "269"
_TAG_MD_ENTRY_PX: Final = "270"
_TAG_MD_ENTRY_SIZE: Final = "271"
_TAG_MD_UPDATE_ACTION: Final = "279"
_TAG_MD_REQ_ID: Final = "262"
_TAG_MD_REQ_REJ_REASON: Final = "281"
_TAG_TEXT: Final = "58"

# Header and trailer tags that can sit between body fields in toString() output.
_SKIP_TAGS: Final = frozenset({"8", "9", "10", "49", "56", "43", "97", "122", "115", "128", "50", "57"})

# UTCTimestamp date prefix "YYYYMMDD" -> epoch ns at midnight; a session sees one or two dates.
_day_start_ns_cache: dict[str, int] = {}


def sending_time_ns(text: str) -> int:
    """UTCTimestamp "YYYYMMDD-HH:MM:SS[.fff[fff[fff]]]" -> integer ns UTC."""
    if len(text) < 17 or text[8] != "-":
        raise MarketDataError(f"bad SendingTime(52) {text!r}")
    day = text[:8]
    day_ns = _day_start_ns_cache.get(day)
    if day_ns is None:
        try:
            day_ns = calendar.timegm((int(day[:4]), int(day[4:6]), int(day[6:8]), 0, 0, 0)) * 1_000_000_000
        except ValueError as exc:
            raise MarketDataError(f"bad SendingTime(52) {text!r}") from exc
        _day_start_ns_cache[day] = day_ns
    try:
        seconds = int(text[9:11]) * 3600 + int(text[12:14]) * 60 + int(text[15:17])
        frac = text[18:] if len(text) > 18 else ""
        frac_ns = int(frac.ljust(9, "0")[:9]) if frac else 0
    except ValueError as exc:
        raise MarketDataError(f"bad SendingTime(52) {text!r}") from exc
    return day_ns + seconds * 1_000_000_000 + frac_ns


def _int_field(tag: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MarketDataError(f"tag {tag} is not an integer: {value!r}") from None


def decode(message: Any) -> MarketDataMessage:
    """Decode a quickfix.Message W/X/Y (one SWIG call). Raises MarketDataError when unreadable."""
    return decode_raw(message.toString())


def decode_raw(raw: str) -> MarketDataMessage:
    """Decode the raw tag=value string of a W/X/Y message."""
    msg_type = ""
    msg_seq_num = 0
    sent_ns = 0
    body_symbol = ""
    body_rpt_seq = -1
    declared_entries = -1
    md_req_id = ""
    rej_reason = ""
    text = ""
    entries: list[BookEntry] = []
    # The entry being read: symbol, entry_type, action, px_e8, size, rpt_seq
    current: list[Any] | None = None
    in_group = False

    def close_entry() -> None:
        if current is None:
            return
        symbol, entry_type, action, px_e8, size, rpt_seq = current
        if entry_type < 0:
            raise MarketDataError("MDEntryType(269) missing in an entry")
        entries.append(
            BookEntry(
                symbol=symbol or body_symbol,
                entry_type=entry_type,
                action=action,
                px_e8=px_e8,
                size=size,
                rpt_seq=rpt_seq,
            )
        )

    for pair in raw.split(SOH):
        if not pair:
            continue
        tag, sep, value = pair.partition("=")
        if not sep:
            raise MarketDataError(f"field without '=': {pair!r}")
        if tag in _SKIP_TAGS:
            continue
        if tag == _TAG_MSG_TYPE:
            msg_type = value
        elif tag == _TAG_MSG_SEQ_NUM:
            msg_seq_num = _int_field(tag, value)
        elif tag == _TAG_SENDING_TIME:
            sent_ns = sending_time_ns(value)
        elif tag == _TAG_NO_MD_ENTRIES:
            declared_entries = _int_field(tag, value)
            in_group = True
        elif in_group and (
            (msg_type == "W" and tag == _TAG_MD_ENTRY_TYPE)
            or (msg_type == "X" and tag == _TAG_MD_UPDATE_ACTION)
        ):
            close_entry()
            current = ["", -1, ACTION_NEW, 0, 0, -1]
            if tag == _TAG_MD_ENTRY_TYPE:
                current[1] = _int_field(tag, value)
            else:
                current[2] = _int_field(tag, value)
        elif current is not None:
            if tag == _TAG_MD_ENTRY_TYPE:
                current[1] = _int_field(tag, value)
            elif tag == _TAG_MD_ENTRY_PX:
                current[3] = px_e8_from_str(value)
            elif tag == _TAG_MD_ENTRY_SIZE:
                current[4] = _size(value)
            elif tag == _TAG_RPT_SEQ:
                current[5] = _int_field(tag, value)
            elif tag == _TAG_SYMBOL:
                current[0] = value
        elif tag == _TAG_SYMBOL:
            body_symbol = value
        elif tag == _TAG_RPT_SEQ:
            body_rpt_seq = _int_field(tag, value)
        elif tag == _TAG_MD_REQ_ID:
            md_req_id = value
        elif tag == _TAG_MD_REQ_REJ_REASON:
            rej_reason = value
        elif tag == _TAG_TEXT:
            text = value
    close_entry()

    body: SnapshotReceived | IncrementalReceived | RequestRejected
    if msg_type == "Y":
        body = RequestRejected(md_req_id=md_req_id, reason=rej_reason, text=text)
    else:
        if declared_entries >= 0 and declared_entries != len(entries):
            raise MarketDataError(f"NoMDEntries(268)={declared_entries} but {len(entries)} entries read")
        if msg_type == "W":
            if not body_symbol:
                raise MarketDataError("MarketDataSnapshotFullRefresh(35=W) without Symbol(55)")
            body = SnapshotReceived(symbol=body_symbol, rpt_seq=body_rpt_seq, entries=tuple(entries))
        elif msg_type == "X":
            for entry in entries:
                if not entry.symbol:
                    raise MarketDataError("MarketDataIncrementalRefresh(35=X) entry without Symbol(55)")
            body = IncrementalReceived(entries=tuple(entries))
        else:
            raise MarketDataError(f"not a market-data message: MsgType(35)={msg_type!r}")
    return MarketDataMessage(msg_type=msg_type, msg_seq_num=msg_seq_num, sending_time_ns=sent_ns, body=body)


def _size(value: str) -> int:
    # Sizes are integers on this venue; "100.0" is accepted, a fractional size is not.
    try:
        return int(value)
    except ValueError:
        whole, _, frac = value.partition(".")
        if whole.isdigit() and frac.strip("0") == "":
            return int(whole)
        raise MarketDataError(f"MDEntrySize(271) is not a whole number: {value!r}") from None
