"""Books per symbol from decoded W/X messages, with sequence and staleness checks.

Takes `MarketDataMessage` values and the receive time; gives, per message, the symbols whose
book changed and the problems found (`DataIssue`). The book's content depends only on the
messages (never on the clock or on configuration), so replaying the recorded messages rebuilds
exactly the books the live session saw:

- a snapshot W replaces the symbol's book and sets its RptSeq(83);
- an incremental entry with RptSeq = last + 1 is applied; RptSeq <= last is a duplicate (or
  already inside the snapshot) and skipped; RptSeq > last + 1 is a gap: the book stops taking
  increments until the next snapshot.

Whether the data is *usable* for a decision is a separate flag: a gap, a message older than
`max_md_age_ms` (SendingTime(52) vs receive time), no update for `stale_after_ms`, or the
session going down makes the symbol unusable until a fresh snapshot arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from gateway.marketdata.events import (
    ACTION_DELETE,
    ENTRY_BID,
    ENTRY_OFFER,
    ENTRY_TRADE,
    BookEntry,
    IncrementalReceived,
    MarketDataMessage,
    RequestRejected,
    SnapshotReceived,
)

REASON_GAP: Final = "sequence_gap"
REASON_STALE: Final = "stale_market_data"
REASON_NO_SNAPSHOT: Final = "no_snapshot"
REASON_SESSION_DOWN: Final = "session_down"
REASON_REQUEST_REJECTED: Final = "md_request_rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataIssue:
    """A symbol's data became unusable (or a request was rejected): logged and recorded."""

    symbol: str  # "" when the issue is not tied to one symbol
    reason: str
    detail: str
    needs_snapshot: bool


@dataclass(slots=True)
class SymbolBook:
    symbol: str
    bids: dict[int, int] = field(default_factory=dict)  # px_e8 -> aggregate size
    asks: dict[int, int] = field(default_factory=dict)
    rpt_seq: int = -1
    has_snapshot: bool = False
    in_gap: bool = False  # a gap was seen: increments are ignored until the next snapshot
    usable: bool = False
    unusable_reason: str = REASON_NO_SNAPSHOT
    last_update_ns: int = 0
    last_trade_px_e8: int = 0
    # Trade volume since the last decision on this symbol, signed by aggressor (inferred).
    buy_volume: int = 0
    sell_volume: int = 0
    _best_bid: int | None = None
    _best_ask: int | None = None
    _dirty: bool = True

    def best_bid(self) -> int | None:
        if self._dirty:
            self._refresh()
        return self._best_bid

    def best_ask(self) -> int | None:
        if self._dirty:
            self._refresh()
        return self._best_ask

    def _refresh(self) -> None:
        self._best_bid = max(self.bids) if self.bids else None
        self._best_ask = min(self.asks) if self.asks else None
        self._dirty = False

    def top(self) -> tuple[int, int, int, int] | None:
        """(bid_px_e8, bid_size, ask_px_e8, ask_size) of a two-sided, uncrossed book, else None."""
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is None or ask is None or bid >= ask:
            return None
        return bid, self.bids[bid], ask, self.asks[ask]

    def mid_e8(self) -> int | None:
        top = self.top()
        return None if top is None else (top[0] + top[2]) // 2

    def take_trade_flow(self) -> tuple[int, int]:
        flow = (self.buy_volume, self.sell_volume)
        self.buy_volume = 0
        self.sell_volume = 0
        return flow

    def _apply_level(self, entry: BookEntry) -> None:
        side = self.bids if entry.entry_type == ENTRY_BID else self.asks
        if entry.action == ACTION_DELETE or entry.size <= 0:
            side.pop(entry.px_e8, None)
        else:
            side[entry.px_e8] = entry.size
        self._dirty = True

    def _apply_trade(self, entry: BookEntry) -> None:
        # Aggressor inferred the usual way: above the mid a buy, below a sell, at the mid the
        # tick rule against the previous trade.
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is not None and ask is not None:
            twice_mid = bid + ask
            twice_px = 2 * entry.px_e8
            buy = twice_px > twice_mid or (twice_px == twice_mid and entry.px_e8 > self.last_trade_px_e8)
            sell = twice_px < twice_mid or (twice_px == twice_mid and entry.px_e8 < self.last_trade_px_e8)
        else:
            buy = entry.px_e8 > self.last_trade_px_e8 > 0
            sell = 0 < entry.px_e8 < self.last_trade_px_e8
        if buy:
            self.buy_volume += entry.size
        elif sell:
            self.sell_volume += entry.size
        self.last_trade_px_e8 = entry.px_e8


class MarketState:
    """All books of one market-data feed."""

    def __init__(self, *, max_md_age_ms: int, stale_after_ms: int) -> None:
        self.books: dict[str, SymbolBook] = {}
        self.waiting: set[str] = set()  # symbols that need a snapshot to be usable again
        self._max_age_ns = max_md_age_ms * 1_000_000
        self._stale_after_ns = stale_after_ms * 1_000_000

    def book(self, symbol: str) -> SymbolBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook(symbol)
        return book

    def apply(self, message: MarketDataMessage, recv_ns: int) -> tuple[list[str], list[DataIssue]]:
        """Apply one message. Returns (symbols whose book changed, in first-touch order; issues)."""
        body = message.body
        issues: list[DataIssue] = []
        touched: list[str] = []
        if isinstance(body, SnapshotReceived):
            self._apply_snapshot(body, recv_ns)
            touched.append(body.symbol)
        elif isinstance(body, IncrementalReceived):
            for entry in body.entries:
                if self._apply_increment(entry, recv_ns, issues) and entry.symbol not in touched:
                    touched.append(entry.symbol)
        elif isinstance(body, RequestRejected):
            issues.append(
                DataIssue(
                    symbol="",
                    reason=REASON_REQUEST_REJECTED,
                    detail=f"MDReqID(262)={body.md_req_id} reason={body.reason} {body.text}".strip(),
                    needs_snapshot=False,
                )
            )
        if self._max_age_ns > 0 and message.sending_time_ns > 0:
            age_ns = recv_ns - message.sending_time_ns
            if age_ns > self._max_age_ns:
                for symbol in touched:
                    self._mark_unusable(
                        symbol,
                        REASON_STALE,
                        f"message MsgSeqNum(34)={message.msg_seq_num} is {age_ns // 1_000_000} ms old",
                        issues,
                    )
        return touched, issues

    def check_quiet(self, now_ns: int) -> list[DataIssue]:
        """Symbols with no update for stale_after_ms become unusable (stale) until a snapshot."""
        issues: list[DataIssue] = []
        if self._stale_after_ns <= 0:
            return issues
        # list(): the recorder thread runs this while the callback thread may add a book.
        for book in list(self.books.values()):
            if book.usable and now_ns - book.last_update_ns > self._stale_after_ns:
                quiet_ms = (now_ns - book.last_update_ns) // 1_000_000
                self._mark_unusable(book.symbol, REASON_STALE, f"no update for {quiet_ms} ms", issues)
        return issues

    def session_down(self) -> list[DataIssue]:
        issues: list[DataIssue] = []
        for symbol in list(self.books):
            self._mark_unusable(symbol, REASON_SESSION_DOWN, "market-data session dropped", issues)
        return issues

    def _mark_unusable(self, symbol: str, reason: str, detail: str, issues: list[DataIssue]) -> None:
        book = self.book(symbol)
        self.waiting.add(symbol)
        if book.usable:
            book.usable = False
            book.unusable_reason = reason
            issues.append(DataIssue(symbol=symbol, reason=reason, detail=detail, needs_snapshot=True))

    def _apply_snapshot(self, body: SnapshotReceived, recv_ns: int) -> None:
        book = self.book(body.symbol)
        book.bids = {}
        book.asks = {}
        book._dirty = True
        for entry in body.entries:
            if entry.entry_type in (ENTRY_BID, ENTRY_OFFER):
                book._apply_level(entry)
            elif entry.entry_type == ENTRY_TRADE:
                # The last trade restated: a price reference, not new flow.
                book.last_trade_px_e8 = entry.px_e8
        book.rpt_seq = body.rpt_seq
        self.waiting.discard(body.symbol)
        book.has_snapshot = True
        book.in_gap = False
        book.usable = True
        book.unusable_reason = ""
        book.last_update_ns = recv_ns

    def _apply_increment(self, entry: BookEntry, recv_ns: int, issues: list[DataIssue]) -> bool:
        book = self.book(entry.symbol)
        if not book.has_snapshot:
            self.waiting.add(entry.symbol)
            if not issues_has(issues, entry.symbol):
                issues.append(
                    DataIssue(
                        symbol=entry.symbol,
                        reason=REASON_NO_SNAPSHOT,
                        detail="incremental before any snapshot",
                        needs_snapshot=True,
                    )
                )
            return False
        if book.in_gap:
            return False
        if entry.rpt_seq >= 0 and book.rpt_seq >= 0:
            if entry.rpt_seq <= book.rpt_seq:
                return False
            if entry.rpt_seq != book.rpt_seq + 1:
                book.in_gap = True
                self.waiting.add(entry.symbol)
                detail = f"RptSeq(83) expected {book.rpt_seq + 1} got {entry.rpt_seq}"
                if book.usable:
                    self._mark_unusable(entry.symbol, REASON_GAP, detail, issues)
                else:
                    issues.append(
                        DataIssue(symbol=entry.symbol, reason=REASON_GAP, detail=detail, needs_snapshot=True)
                    )
                book.unusable_reason = REASON_GAP
                return False
        if entry.rpt_seq >= 0:
            book.rpt_seq = entry.rpt_seq
        if entry.entry_type == ENTRY_TRADE:
            book._apply_trade(entry)
        elif entry.entry_type in (ENTRY_BID, ENTRY_OFFER):
            book._apply_level(entry)
        book.last_update_ns = recv_ns
        return True


def issues_has(issues: list[DataIssue], symbol: str) -> bool:
    return any(issue.symbol == symbol for issue in issues)
