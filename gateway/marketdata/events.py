"""Market-data values decoded from MarketDataSnapshotFullRefresh(35=W),
MarketDataIncrementalRefresh(35=X) and MarketDataRequestReject(35=Y).

Prices are exact integers in units of 1e-8 (`px_e8`): the wire's decimal string is converted
without passing through a binary float, so a book level is keyed by the exact venue price and a
recorded session replays bit for bit. Sizes are integers. Time is integer nanoseconds UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

PX_SCALE: Final = 100_000_000  # px_e8 units per 1.0 of price

# MDEntryType(269)
ENTRY_BID: Final = 0
ENTRY_OFFER: Final = 1
ENTRY_TRADE: Final = 2

# MDUpdateAction(279)
ACTION_NEW: Final = 0
ACTION_CHANGE: Final = 1
ACTION_DELETE: Final = 2


# Sanity bounds on what a venue may send, whatever the instrument: a price of up to 10^9 and a size
# of up to 10^12 fit every market the gateway trades, convert to a float64 exactly enough, and
# keep a hostile 400-digit number out of the book (it would overflow float() in the features).
MAX_ABS_PRICE_E8: Final = 1_000_000_000 * PX_SCALE
MAX_ENTRY_SIZE: Final = 1_000_000_000_000


class MarketDataError(ValueError):
    """A market-data message that cannot be read (bad number, missing symbol, bad entry)."""


def px_e8_from_str(text: str) -> int:
    """Exact decimal string -> integer price in 1e-8 units ("100.01" -> 10_001_000_000).

    Rejects more than 8 decimals rather than rounding: a price off the grid is a venue error.
    """
    negative = text.startswith("-")
    body = text[1:] if negative else text
    whole, _, frac = body.partition(".")
    # isascii: str.isdigit also accepts digits of other scripts, which int() may then refuse.
    if (
        not body.isascii()
        or len(frac) > 8
        or not (whole or frac)
        or not (whole.isdigit() or whole == "")
        or not (frac.isdigit() or frac == "")
    ):
        raise MarketDataError(f"bad price {text!r}")
    if len(whole) > 10:
        raise MarketDataError(f"price out of range: {text[:24]!r}... ({len(text)} characters)")
    value = int(whole or "0") * PX_SCALE + (int(frac.ljust(8, "0")) if frac else 0)
    if value > MAX_ABS_PRICE_E8:
        raise MarketDataError(f"price out of range: {text!r}")
    return -value if negative else value


def px_e8_to_decimal(px_e8: int, tick_size: Decimal | None = None) -> Decimal:
    """Exact; with a tick size, written with the tick's decimals ("100.00", not "1E+2")."""
    value = Decimal(px_e8).scaleb(-8)
    return value.quantize(tick_size) if tick_size is not None else value.normalize()


def decimal_to_px_e8(price: Decimal) -> int:
    scaled = price.scaleb(8)
    if scaled != scaled.to_integral_value():
        raise MarketDataError(f"price {price} has more than 8 decimals")
    return int(scaled)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookEntry:
    """One price level or trade of a snapshot, or one entry of an incremental refresh."""

    symbol: str
    entry_type: int  # MDEntryType(269): 0 bid, 1 offer, 2 trade
    action: int  # MDUpdateAction(279); snapshot entries carry ACTION_NEW
    px_e8: int
    size: int  # MDEntrySize(271): aggregate size at the level, or the trade size
    rpt_seq: int  # RptSeq(83) of the entry; -1 when the venue did not send one


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotReceived:
    """MarketDataSnapshotFullRefresh(35=W): the whole book of one symbol."""

    symbol: str
    rpt_seq: int  # body RptSeq(83): the last incremental included; -1 when absent
    entries: tuple[BookEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class IncrementalReceived:
    """MarketDataIncrementalRefresh(35=X): entries for one or more symbols, in wire order."""

    entries: tuple[BookEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRejected:
    """MarketDataRequestReject(35=Y)."""

    md_req_id: str
    reason: str  # MDReqRejReason(281) code, "" when absent
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketDataMessage:
    """A decoded W/X/Y with the header fields the decision record keeps."""

    msg_type: str  # "W" | "X" | "Y"
    msg_seq_num: int  # MsgSeqNum(34)
    sending_time_ns: int  # SendingTime(52), venue clock
    body: SnapshotReceived | IncrementalReceived | RequestRejected
