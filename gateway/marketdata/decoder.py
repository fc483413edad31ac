"""MarketDataSnapshotFullRefresh(35=W), MarketDataIncrementalRefresh(35=X) and
MarketDataRequestReject(35=Y) -> gateway.marketdata.events values.

Pure: takes a message's raw tag=value text and gives a `MarketDataMessage`; no quickfix, no I/O.
The FIX edge reads the message with one SWIG call (`toString()`, about 1 us) and this parses it
by tag number, because each
typed getter or group accessor crosses SWIG at about 40 us per field (bench/decision_latency.py
measures both). QuickFIX has already validated the message against the data dictionary, so this
parser only walks tag=value pairs in wire order; repeating-group entries start at their
delimiter tag: MDEntryType(269) for W, MDUpdateAction(279) for X.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numba import njit

from gateway.marketdata.events import (
    ACTION_NEW,
    MAX_ABS_PRICE_E8,
    MAX_ENTRY_SIZE,
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
    # Plain ASCII digits only: int() would also take "1_000", " 7" or other scripts' digits.
    # At most 18 digits: every integer field fits an int64, as in the compiled path.
    if len(value) > 18:
        raise MarketDataError(f"tag {tag}: integer out of range ({len(value)} digits)")
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise MarketDataError(f"tag {tag} is not an integer: {value!r}")
    return int(value)


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
    whole, _, frac = value.partition(".")
    if value.isascii() and whole.isdigit() and (frac == "" or (frac.strip("0") == "" and frac.isdigit())):
        if len(whole) > 13 or int(whole) > MAX_ENTRY_SIZE:
            raise MarketDataError(f"MDEntrySize(271) out of range: {value[:24]!r} ({len(value)} characters)")
        return int(whole)
    raise MarketDataError(f"MDEntrySize(271) is not a whole number: {value[:24]!r}")


# ----------------------------------------------------------------------------------------------
# Fast path: the same parse compiled with numba over the message's bytes.
#
# Python walks about 40 fields of a typical simulator X at roughly 1 us each on this machine;
# the compiled walk does the whole message in a few microseconds and gives plain integer rows.
# `decode_raw` stays the reference (replay uses it; a test checks both agree message for
# message); anything unusual (MarketDataRequestReject(35=Y), more entries than the buffer,
# a field it cannot read) makes the fast path return None and the caller uses `decode_raw`.

# Row columns of `FastMessage.rows`
COL_ACTION, COL_TYPE, COL_PX, COL_SIZE, COL_RPT_SEQ, COL_SYM_START, COL_SYM_END = range(7)
_ROW_WIDTH: Final = 8
MAX_FAST_ENTRIES: Final = 512
# header slots
_H_MSG_TYPE, _H_SEQ, _H_SENT, _H_RPT_SEQ, _H_SYM_START, _H_SYM_END, _H_DECLARED, _H_ERROR = range(8)


# The largest whole part whose px_e8 (x 1e8 plus 8 fraction digits) still fits in an int64.
_MAX_WHOLE_PRICE: Final = (2**63 - 1) // 100_000_000 - 1
# out of these bounds the fast path hands the message to the reference decoder, which refuses it
_MAX_ENTRY_SIZE: Final = MAX_ENTRY_SIZE
_MAX_ABS_PRICE_E8: Final = MAX_ABS_PRICE_E8


@njit(cache=True)
def _parse_uint(buf: npt.NDArray[np.uint8], start: int, end: int) -> int:
    # -1 for an empty or non-digit field (callers treat it as unreadable)
    if start >= end or end - start > 18:
        return -1  # more than 18 digits could overflow int64: the reference decoder reads it
    value = 0
    for i in range(start, end):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        value = value * 10 + (c - 48)
    return value


@njit(cache=True)
def _parse_px_e8(buf: npt.NDArray[np.uint8], start: int, end: int) -> tuple[int, bool]:
    negative = start < end and buf[start] == 45
    if negative:
        start += 1
    whole = 0
    frac = 0
    frac_digits = 0
    seen_dot = False
    digits = 0
    for i in range(start, end):
        c = buf[i]
        if c == 46:
            if seen_dot:
                return 0, False
            seen_dot = True
        elif 48 <= c <= 57:
            digits += 1
            if seen_dot:
                frac_digits += 1
                if frac_digits > 8:
                    return 0, False
                frac = frac * 10 + (c - 48)
            else:
                whole = whole * 10 + (c - 48)
                if whole > _MAX_WHOLE_PRICE:
                    return 0, False  # px_e8 would overflow int64: the reference decoder reads it
        else:
            return 0, False
    if digits == 0:
        return 0, False
    for _ in range(8 - frac_digits):
        frac *= 10
    value = whole * 100_000_000 + frac
    return (-value if negative else value), True


@njit(cache=True)
def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True)
def _parse_time_ns(buf: npt.NDArray[np.uint8], start: int, end: int) -> int:
    if end - start < 17 or buf[start + 8] != 45:
        return -1
    y = _parse_uint(buf, start, start + 4)
    mo = _parse_uint(buf, start + 4, start + 6)
    d = _parse_uint(buf, start + 6, start + 8)
    hh = _parse_uint(buf, start + 9, start + 11)
    mm = _parse_uint(buf, start + 12, start + 14)
    ss = _parse_uint(buf, start + 15, start + 17)
    if y < 0 or mo < 1 or mo > 12 or d < 1 or d > 31 or hh < 0 or mm < 0 or ss < 0:
        return -1
    frac_ns = 0
    if end - start > 18:
        digits = 0
        for i in range(start + 18, end):
            c = buf[i]
            if c < 48 or c > 57:
                return -1
            if digits < 9:
                frac_ns = frac_ns * 10 + (c - 48)
                digits += 1
        for _ in range(9 - digits):
            frac_ns *= 10
    seconds = _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss
    return seconds * 1_000_000_000 + frac_ns


@njit(cache=True)
def _parse_md(buf: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64], header: npt.NDArray[np.int64]) -> int:
    """Fill header and rows; return the number of entries, or -1 (header[_H_ERROR] says why)."""
    n = len(buf)
    header[_H_MSG_TYPE] = 0
    header[_H_SEQ] = 0
    header[_H_SENT] = 0
    header[_H_RPT_SEQ] = -1
    header[_H_SYM_START] = 0
    header[_H_SYM_END] = 0
    header[_H_DECLARED] = -1
    header[_H_ERROR] = 0
    count = 0
    current = -1
    in_group = False
    msg_type = 0
    pos = 0
    while pos < n:
        tag = 0
        tag_digits = 0
        while pos < n and buf[pos] != 61:
            c = buf[pos]
            if c < 48 or c > 57:
                header[_H_ERROR] = 1  # tag not a number
                return -1
            tag = tag * 10 + (c - 48)
            tag_digits += 1
            pos += 1
        if pos >= n or tag_digits == 0:
            header[_H_ERROR] = 1
            return -1
        pos += 1
        start = pos
        while pos < n and buf[pos] != 1:
            pos += 1
        end = pos
        pos += 1
        if tag == 35:
            if end - start != 1:
                header[_H_ERROR] = 2  # not a single-character MsgType
                return -1
            msg_type = buf[start]
            header[_H_MSG_TYPE] = msg_type
            if msg_type != 87 and msg_type != 88:  # 'W', 'X'
                header[_H_ERROR] = 2
                return -1
        elif tag == 34:
            seq = _parse_uint(buf, start, end)
            if seq < 0:
                header[_H_ERROR] = 5  # unreadable or too long: the reference decoder decides
                return -1
            header[_H_SEQ] = seq
        elif tag == 52:
            sent = _parse_time_ns(buf, start, end)
            if sent < 0:
                header[_H_ERROR] = 3
                return -1
            header[_H_SENT] = sent
        elif tag == 268:
            declared = _parse_uint(buf, start, end)
            if declared < 0:
                header[_H_ERROR] = 5  # unreadable or too long: the reference decoder decides
                return -1
            header[_H_DECLARED] = declared
            in_group = True
        elif in_group and ((msg_type == 87 and tag == 269) or (msg_type == 88 and tag == 279)):
            if count >= rows.shape[0]:
                header[_H_ERROR] = 4  # more entries than the buffer: the caller falls back
                return -1
            current = count
            count += 1
            rows[current, 0] = 0
            rows[current, 1] = -1
            rows[current, 2] = 0
            rows[current, 3] = 0
            rows[current, 4] = -1
            rows[current, 5] = 0
            rows[current, 6] = 0
            value = _parse_uint(buf, start, end)
            if value < 0:
                header[_H_ERROR] = 5
                return -1
            if tag == 269:
                rows[current, 1] = value
            else:
                rows[current, 0] = value
        elif current >= 0:
            if tag == 269:
                value = _parse_uint(buf, start, end)
                if value < 0:
                    header[_H_ERROR] = 5
                    return -1
                rows[current, 1] = value
            elif tag == 270:
                px, ok = _parse_px_e8(buf, start, end)
                if not ok or px > _MAX_ABS_PRICE_E8 or px < -_MAX_ABS_PRICE_E8:
                    header[_H_ERROR] = 6
                    return -1
                rows[current, 2] = px
            elif tag == 271:
                size = _parse_uint(buf, start, end)
                if size < 0 or size > _MAX_ENTRY_SIZE:
                    header[_H_ERROR] = 7  # e.g. "100.0": the reference decoder reads it
                    return -1
                rows[current, 3] = size
            elif tag == 83:
                value = _parse_uint(buf, start, end)
                if value < 0:
                    header[_H_ERROR] = 5
                    return -1
                rows[current, 4] = value
            elif tag == 55:
                rows[current, 5] = start
                rows[current, 6] = end
        elif tag == 55:
            header[_H_SYM_START] = start
            header[_H_SYM_END] = end
        elif tag == 83:
            rpt_seq = _parse_uint(buf, start, end)
            if rpt_seq < 0:
                header[_H_ERROR] = 5
                return -1
            header[_H_RPT_SEQ] = rpt_seq
    if msg_type == 0:
        header[_H_ERROR] = 2  # no MsgType(35): the reference decoder refuses it
        return -1
    for i in range(count):
        if rows[i, 1] < 0:
            header[_H_ERROR] = 8  # MDEntryType(269) missing
            return -1
    if header[_H_DECLARED] >= 0 and header[_H_DECLARED] != count:
        header[_H_ERROR] = 9
        return -1
    return count


@dataclass(slots=True)
class FastMessage:
    """A decoded W or X as plain values: no per-entry objects on the hot path."""

    msg_type: str
    msg_seq_num: int
    sending_time_ns: int
    snapshot_symbol: str  # W: Symbol(55); X: ""
    snapshot_rpt_seq: int  # W: body RptSeq(83), -1 when absent
    rows: list[list[int]]  # [action, entry_type, px_e8, size, rpt_seq, ...] per entry
    symbols: list[str]  # per entry (X), or the snapshot symbol repeated (W)


class FastDecoder:
    """Reusable buffers for `_parse_md`; one per thread (the FIX callback thread)."""

    def __init__(self) -> None:
        self._rows = np.zeros((MAX_FAST_ENTRIES, _ROW_WIDTH), dtype=np.int64)
        self._header = np.zeros(8, dtype=np.int64)

    def decode(self, raw: str) -> FastMessage | None:
        """None when the reference decoder must handle the message (Y, unusual or bad input)."""
        try:
            encoded = raw.encode("latin-1")
        except UnicodeEncodeError:
            return None  # text beyond latin-1 (in a Text(58), a symbol): the reference decoder reads it
        buf = np.frombuffer(encoded, dtype=np.uint8)
        count = _parse_md(buf, self._rows, self._header)
        if count < 0:
            return None
        header = self._header.tolist()
        msg_type = chr(header[_H_MSG_TYPE])
        rows = self._rows[:count].tolist()
        if msg_type == "W":
            symbol = raw[header[_H_SYM_START] : header[_H_SYM_END]]
            if not symbol:
                return None
            symbols = [symbol] * count
        else:
            symbol = ""
            symbols = []
            last_start = -1
            last_symbol = ""
            for row in rows:
                start = row[COL_SYM_START]
                if start != last_start:
                    last_symbol = raw[start : row[COL_SYM_END]]
                    last_start = start
                if not last_symbol:
                    return None
                symbols.append(last_symbol)
        return FastMessage(
            msg_type=msg_type,
            msg_seq_num=header[_H_SEQ],
            sending_time_ns=header[_H_SENT],
            snapshot_symbol=symbol,
            snapshot_rpt_seq=header[_H_RPT_SEQ],
            rows=rows,
            symbols=symbols,
        )

    def warm(self) -> None:
        sample = (
            "8=FIX.4.4\x019=1\x0135=X\x0134=2\x0152=20260101-00:00:00.000\x01268=1\x01279=0\x01269=0\x01"
            "55=A\x01270=1.5\x01271=1\x0183=1\x0110=000\x01"
        )
        self.decode(sample)
