"""How `fixgw client` shows what it receives: one readable line per message, and a view of
each subscribed book.

Takes `Inbound` values (copied out of the engine by `client_session.py`); gives text lines
(`format_message`), and from MarketDataSnapshotFullRefresh(35=W) and
MarketDataIncrementalRefresh(35=X) the book's top line and the RptSeq(83) gaps to recover
(`MarketDataView`). No FIX engine here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

EXEC_TYPES = {
    "0": "New", "3": "DoneForDay", "4": "Canceled", "5": "Replaced", "6": "PendingCancel",
    "8": "Rejected", "A": "PendingNew", "C": "Expired", "D": "Restated", "E": "PendingReplace",
    "F": "Trade", "G": "TradeCorrect", "H": "TradeCancel", "I": "OrderStatus",
}  # fmt: skip
ORD_STATUSES = {
    "0": "New", "1": "PartiallyFilled", "2": "Filled", "3": "DoneForDay", "4": "Canceled",
    "5": "Replaced", "6": "PendingCancel", "8": "Rejected", "A": "PendingNew", "C": "Expired",
    "E": "PendingReplace",
}  # fmt: skip
SIDES = {"1": "Buy", "2": "Sell", "5": "SellShort"}
FINAL_ORD_STATUSES = frozenset({"2", "4", "8", "C"})
CXL_REJ_REASONS = {"0": "TooLate", "1": "UnknownOrder", "6": "DuplicateClOrdID", "99": "Other"}
MASS_CANCEL_RESPONSES = {"0": "Rejected", "1": "CancelSymbol", "7": "CancelAll"}
POS_REQ_RESULTS = {"0": "Valid", "1": "Invalid", "2": "NoPositions", "3": "NotAuthorized", "4": "Unsupported"}
MD_REJECT_REASONS = {
    "0": "UnknownSymbol",
    "1": "DuplicateMDReqID",
    "4": "UnsupportedSubscription",
    "5": "BadDepth",
}


@dataclass(frozen=True, slots=True)
class Inbound:
    """One received message: its type, its body fields and repeating-group entries, by tag."""

    msg_type: str
    fields: dict[int, str]
    groups: tuple[dict[int, str], ...] = ()

    def get(self, tag: int, default: str = "") -> str:
        return self.fields.get(tag, default)


def _named(value: str, names: dict[str, str]) -> str:
    name = names.get(value)
    return f"{value}({name})" if name else value


def _kv(message: Inbound, *pairs: tuple[str, int]) -> str:
    return " ".join(f"{name}={message.fields[tag]}" for name, tag in pairs if tag in message.fields)


def _text(message: Inbound) -> str:
    return f" Text={message.fields[58]!r}" if 58 in message.fields else ""


def format_execution_report(report: Inbound) -> str:
    parts = [
        "ExecutionReport(35=8)",
        _kv(report, ("ClOrdID", 11), ("OrigClOrdID", 41), ("OrderID", 37)),
        f"ExecType={_named(report.get(150), EXEC_TYPES)}",
        f"OrdStatus={_named(report.get(39), ORD_STATUSES)}",
        _kv(report, ("Symbol", 55)),
    ]
    if 54 in report.fields:
        parts.append(f"Side={_named(report.get(54), SIDES)}")
    parts.append(
        _kv(
            report,
            ("OrderQty", 38),
            ("Price", 44),
            ("LastQty", 32),
            ("LastPx", 31),
            ("CumQty", 14),
            ("LeavesQty", 151),
            ("AvgPx", 6),
            ("ExecRefID", 19),
            ("OrdRejReason", 103),
        )
    )
    return " ".join(p for p in parts if p) + _text(report)


def format_position_report(report: Inbound) -> str:
    long_qty = sum(int(g.get(704, "0") or 0) for g in report.groups)
    short_qty = sum(int(g.get(705, "0") or 0) for g in report.groups)
    return (
        f"PositionReport(35=AP) {report.get(55)} long {long_qty} short {short_qty} "
        f"avg {report.get(730) or '-'}"
    )


def format_message(message: Inbound) -> str:
    """One readable line for any answer except market data (see `MarketDataView`)."""
    t = message.msg_type
    if t == "8":
        return format_execution_report(message)
    if t == "AP":
        return format_position_report(message)
    if t == "9":
        return (
            f"OrderCancelReject(35=9) {_kv(message, ('ClOrdID', 11), ('OrigClOrdID', 41), ('OrderID', 37))} "
            f"OrdStatus={_named(message.get(39), ORD_STATUSES)} "
            f"CxlRejReason={_named(message.get(102), CXL_REJ_REASONS)}" + _text(message)
        )
    if t == "AO":
        return (
            f"RequestForPositionsAck(35=AO) PosReqID={message.get(710)} "
            f"PosReqResult={_named(message.get(728), POS_REQ_RESULTS)} "
            f"TotalNumPosReports={message.get(727)}" + _text(message)
        )
    if t == "r":
        return (
            f"OrderMassCancelReport(35=r) ClOrdID={message.get(11)} "
            f"MassCancelResponse={_named(message.get(531), MASS_CANCEL_RESPONSES)} "
            f"TotalAffectedOrders={message.get(533, '0')}"
            + (f" MassCancelRejectReason={message.fields[532]}" if 532 in message.fields else "")
            + _text(message)
        )
    if t == "Y":
        return (
            f"MarketDataRequestReject(35=Y) MDReqID={message.get(262)} "
            f"MDReqRejReason={_named(message.get(281), MD_REJECT_REASONS)}" + _text(message)
        )
    if t == "j":
        return (
            "BusinessMessageReject(35=j) "
            + _kv(message, ("RefMsgType", 372), ("BusinessRejectRefID", 379), ("BusinessRejectReason", 380))
            + _text(message)
        )
    if t == "3":
        return (
            f"Reject(35=3) {_kv(message, ('RefSeqNum', 45), ('RefTagID', 371), ('RefMsgType', 372))} "
            f"{_kv(message, ('SessionRejectReason', 373))}" + _text(message)
        )
    if t == "5":
        return "Logout(35=5)" + _text(message)
    return f"message 35={t} " + " ".join(f"{tag}={value}" for tag, value in message.fields.items())


@dataclass
class _Book:
    """One symbol's book as market data describes it: price -> aggregate size per side."""

    bids: dict[Decimal, int] = field(default_factory=dict)
    asks: dict[Decimal, int] = field(default_factory=dict)
    last: tuple[str, str] | None = None
    rpt_seq: int = 0
    awaiting_snapshot: bool = True


def _level(levels: dict[Decimal, int], best: Callable[..., Decimal]) -> str:
    if not levels:
        return "-"
    price = best(levels)
    return f"{price} x {levels[price]}"


class MarketDataView:
    """Keeps each subscribed symbol's book from W and X, notices RptSeq(83) gaps, and renders a
    compact top-of-book line per change."""

    def __init__(self) -> None:
        self.books: dict[str, _Book] = {}

    def top_line(self, symbol: str) -> str:
        book = self.books[symbol]
        last = f"  last {book.last[0]} x {book.last[1]}" if book.last else ""
        return f"{symbol:<5} bid {_level(book.bids, max)} | ask {_level(book.asks, min)}{last}"

    def apply_snapshot(self, message: Inbound) -> list[str]:
        symbol = message.get(55)
        book = self.books.setdefault(symbol, _Book())
        book.bids.clear()
        book.asks.clear()
        for entry in message.groups:
            price, size = entry.get(270, ""), entry.get(271, "0")
            if entry.get(269) == "0":
                book.bids[Decimal(price)] = int(size)
            elif entry.get(269) == "1":
                book.asks[Decimal(price)] = int(size)
            elif entry.get(269) == "2":
                book.last = (price, size)
        book.rpt_seq = int(message.get(83, "0") or 0)
        book.awaiting_snapshot = False
        bids = ", ".join(f"{p} x {book.bids[p]}" for p in sorted(book.bids, reverse=True)) or "-"
        asks = ", ".join(f"{p} x {book.asks[p]}" for p in sorted(book.asks)) or "-"
        return [
            f"MarketDataSnapshotFullRefresh(35=W) {self.top_line(symbol)}  RptSeq={book.rpt_seq}",
            f"  bids {bids}",
            f"  asks {asks}",
        ]

    def apply_incremental(self, message: Inbound) -> tuple[list[str], list[str]]:
        """Lines to print, and symbols whose book has a gap and needs a new snapshot."""
        changed: list[str] = []
        gaps: list[str] = []
        lines: list[str] = []
        for entry in message.groups:
            symbol = entry.get(55, "")
            book = self.books.get(symbol)
            if book is None or book.awaiting_snapshot:
                continue  # before or during a snapshot request: the snapshot will include it
            rpt_seq = int(entry.get(83, "0") or 0)
            if rpt_seq and rpt_seq <= book.rpt_seq:
                continue  # already in the snapshot
            if rpt_seq and rpt_seq != book.rpt_seq + 1:
                lines.append(
                    f"{symbol}: RptSeq(83) gap (expected {book.rpt_seq + 1}, got {rpt_seq}): new snapshot"
                )
                book.awaiting_snapshot = True
                gaps.append(symbol)
                continue
            book.rpt_seq = rpt_seq or book.rpt_seq
            price, size, action, kind = (
                entry.get(270, ""),
                entry.get(271, "0"),
                entry.get(279, ""),
                entry.get(269, ""),
            )
            if kind == "2":
                book.last = (price, size)
            elif kind in ("0", "1"):
                side = book.bids if kind == "0" else book.asks
                if action == "2" or int(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = int(size)
            if symbol not in changed:
                changed.append(symbol)
        lines += [self.top_line(symbol) for symbol in changed if not self.books[symbol].awaiting_snapshot]
        return lines, gaps


# ---------------------------------------------------------------------------------------------
# The client
