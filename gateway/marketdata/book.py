"""Books per symbol from decoded W/X messages, with sequence and staleness checks.

Takes `MarketDataMessage` values and the receive time; gives, per message, the symbols whose
book changed and the problems found (`DataIssue`). The book's content depends only on the
messages (never on the clock or on configuration), so replaying the recorded messages rebuilds
exactly the books the live session saw:

- a snapshot W replaces the symbol's book and sets its RptSeq(83);
- an incremental entry with RptSeq = last + 1 is applied; RptSeq <= last is a duplicate (or
  already inside the snapshot) and skipped; RptSeq > last + 1 is a gap: the book stops taking
  increments until the next snapshot;
- a RptSeq far below the last one (more than `RPT_SEQ_RESET_DROP` below it, or back at 1) is the
  venue starting its sequence over (a failover, a new day), not a duplicate: handled like a gap;
- every snapshot after the first starts a new *epoch* of the book: the series the features are
  computed over restarts there (what came before the snapshot is not continuous with it), and
  the trade flow counted before it is dropped.

Whether the data is *usable* for a decision is a separate flag: a gap, a message older than
`max_md_age_ms` (SendingTime(52) vs receive time), no update for `stale_after_ms`, or the
session going down makes the symbol unusable until a fresh snapshot arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from gateway.marketdata.events import (
    ACTION_DELETE,
    ACTION_NEW,
    ENTRY_BID,
    ENTRY_OFFER,
    ENTRY_TRADE,
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
REASON_BAD_DATA: Final = "bad_market_data"  # a bid or offer at a price of zero or below
REASON_DECISION_ERROR: Final = "decision_error"  # a decision on the book raised
# A duplicate entry is a resend of something recent; a RptSeq(83) this far below the last one
# (or back at 1) means the venue's sequence started over.
RPT_SEQ_RESET_DROP: Final = 1000


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
    epoch: int = 0  # snapshots after the first: a new epoch restarts the feature series
    # Trade volume since the last decision on this symbol, signed by aggressor (inferred).
    buy_volume: int = 0
    sell_volume: int = 0
    _best_bid: int | None = None
    _best_ask: int | None = None
    _top: tuple[int, int, int, int] | None = None
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
        bids = self.bids
        asks = self.asks
        bid = self._best_bid = max(bids) if bids else None
        ask = self._best_ask = min(asks) if asks else None
        # The top is read several times per decision (features, planner, records): built once
        # per change instead of once per read.
        self._top = None if bid is None or ask is None or bid >= ask else (bid, bids[bid], ask, asks[ask])
        self._dirty = False

    def top(self) -> tuple[int, int, int, int] | None:
        """(bid_px_e8, bid_size, ask_px_e8, ask_size) of a two-sided, uncrossed book, else None."""
        if self._dirty:
            self._refresh()
        return self._top

    def mid_e8(self) -> int | None:
        top = self.top()
        return None if top is None else (top[0] + top[2]) // 2

    def take_trade_flow(self) -> tuple[int, int]:
        flow = (self.buy_volume, self.sell_volume)
        self.buy_volume = 0
        self.sell_volume = 0
        return flow

    def _apply_level(self, entry_type: int, action: int, px_e8: int, size: int) -> None:
        side = self.bids if entry_type == ENTRY_BID else self.asks
        if action == ACTION_DELETE or size <= 0:
            side.pop(px_e8, None)
        else:
            side[px_e8] = size
        self._dirty = True

    def _apply_trade(self, px_e8: int, size: int) -> None:
        # Aggressor inferred the usual way: above the mid a buy, below a sell, at the mid the
        # tick rule against the previous trade.
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is not None and ask is not None:
            twice_mid = bid + ask
            twice_px = 2 * px_e8
            buy = twice_px > twice_mid or (twice_px == twice_mid and px_e8 > self.last_trade_px_e8)
            sell = twice_px < twice_mid or (twice_px == twice_mid and px_e8 < self.last_trade_px_e8)
        else:
            buy = px_e8 > self.last_trade_px_e8 > 0
            sell = 0 < px_e8 < self.last_trade_px_e8
        if buy:
            self.buy_volume += size
        elif sell:
            self.sell_volume += size
        self.last_trade_px_e8 = px_e8


class MarketState:
    """All books of one market-data feed."""

    def __init__(
        self, *, max_md_age_ms: int, stale_after_ms: int, symbols: frozenset[str] | None = None
    ) -> None:
        """`symbols`: the instruments this feed is for; entries for any other symbol are dropped
        and counted (`foreign_entries`), so a venue (or a peer) naming thousands of symbols
        nobody asked for cannot grow the books. None keeps every symbol (replay)."""
        self.books: dict[str, SymbolBook] = {}
        self._symbols = symbols
        self.foreign_entries = 0
        self.rejected_entries = 0  # bids or offers at a price of zero or below
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
            if self.apply_snapshot_rows(
                body.symbol,
                body.rpt_seq,
                [[e.action, e.entry_type, e.px_e8, e.size, e.rpt_seq] for e in body.entries],
                recv_ns,
            ):
                touched.append(body.symbol)
        elif isinstance(body, IncrementalReceived):
            for entry in body.entries:
                applied = self._apply_increment(
                    entry.symbol, entry.action, entry.entry_type, entry.px_e8, entry.size, entry.rpt_seq,
                    recv_ns, issues,
                )  # fmt: skip
                if applied and entry.symbol not in touched:
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
        self._check_age(message.sending_time_ns, message.msg_seq_num, recv_ns, touched, issues)
        return touched, issues

    def apply_rows(
        self,
        msg_type: str,
        msg_seq_num: int,
        sending_time_ns: int,
        snapshot_symbol: str,
        snapshot_rpt_seq: int,
        rows: list[list[int]],
        symbols: list[str],
        recv_ns: int,
    ) -> tuple[list[str], list[DataIssue]]:
        """`apply` for the fast decoder's rows ([action, entry_type, px_e8, size, rpt_seq, ...]):
        the same rules, without an object per entry."""
        issues: list[DataIssue] = []
        touched: list[str] = []
        if msg_type == "W":
            if self.apply_snapshot_rows(snapshot_symbol, snapshot_rpt_seq, rows, recv_ns):
                touched.append(snapshot_symbol)
        else:
            # The common case inlined (a level update in sequence on a healthy book): about
            # half the cost of a method call per entry. Anything else takes _apply_increment,
            # which holds all the rules; both give the same book.
            apply_increment = self._apply_increment
            books = self.books
            book: SymbolBook | None = None
            book_symbol = ""
            for row, symbol in zip(rows, symbols, strict=True):
                if symbol != book_symbol:
                    book = books.get(symbol)
                    book_symbol = symbol
                rpt_seq = row[4]
                entry_type = row[1]
                if (
                    book is not None
                    and book.has_snapshot
                    and not book.in_gap
                    and rpt_seq >= 0
                    and rpt_seq == book.rpt_seq + 1
                    and book.rpt_seq >= 0
                    and entry_type in (ENTRY_BID, ENTRY_OFFER)
                    and (row[2] > 0 or row[0] == ACTION_DELETE)
                ):
                    book.rpt_seq = rpt_seq
                    side = book.bids if entry_type == ENTRY_BID else book.asks
                    size = row[3]
                    if row[0] == ACTION_DELETE or size <= 0:
                        side.pop(row[2], None)
                    else:
                        side[row[2]] = size
                    book._dirty = True
                    book.last_update_ns = recv_ns
                    applied = True
                else:
                    applied = apply_increment(
                        symbol, row[0], entry_type, row[2], row[3], rpt_seq, recv_ns, issues
                    )
                    book = books.get(symbol)
                if applied and symbol not in touched:
                    touched.append(symbol)
        self._check_age(sending_time_ns, msg_seq_num, recv_ns, touched, issues)
        return touched, issues

    def _check_age(
        self,
        sending_time_ns: int,
        msg_seq_num: int,
        recv_ns: int,
        touched: list[str],
        issues: list[DataIssue],
    ) -> None:
        if self._max_age_ns > 0 and sending_time_ns > 0:
            age_ns = recv_ns - sending_time_ns
            if age_ns > self._max_age_ns:
                for symbol in touched:
                    self._mark_unusable(
                        symbol,
                        REASON_STALE,
                        f"message MsgSeqNum(34)={msg_seq_num} is {age_ns // 1_000_000} ms old",
                        issues,
                    )

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

    def mark_unusable(self, symbol: str, reason: str, detail: str, issues: list[DataIssue]) -> None:
        """Unusable until a fresh snapshot (the decision path found the book unusable)."""
        self._mark_unusable(symbol, reason, detail, issues)
        book = self.books.get(symbol)
        if book is not None:
            book.in_gap = True  # stop applying increments to a book that is being replaced

    def _mark_unusable(self, symbol: str, reason: str, detail: str, issues: list[DataIssue]) -> None:
        book = self.book(symbol)
        self.waiting.add(symbol)
        if book.usable:
            book.usable = False
            book.unusable_reason = reason
            issues.append(DataIssue(symbol=symbol, reason=reason, detail=detail, needs_snapshot=True))

    def apply_snapshot_rows(self, symbol: str, rpt_seq: int, rows: list[list[int]], recv_ns: int) -> bool:
        """Replace the symbol's book; False (nothing done) for a symbol this feed is not for."""
        if self._symbols is not None and symbol not in self._symbols:
            self.foreign_entries += len(rows) or 1
            return False
        book = self.book(symbol)
        if any(row[1] in (ENTRY_BID, ENTRY_OFFER) and row[2] <= 0 for row in rows):
            # a book with a level at zero or below is not a market: wait for a sane snapshot
            issues: list[DataIssue] = []
            self._mark_unusable(
                symbol, REASON_BAD_DATA, "snapshot with a bid or offer at or below zero", issues
            )
            book.in_gap = True
            self.rejected_entries += 1
            return False
        book.bids = {}
        book.asks = {}
        book._dirty = True
        for row in rows:
            entry_type = row[1]
            if entry_type in (ENTRY_BID, ENTRY_OFFER):
                book._apply_level(entry_type, ACTION_NEW, row[2], row[3])
            elif entry_type == ENTRY_TRADE:
                # The last trade restated: a price reference, not new flow.
                book.last_trade_px_e8 = row[2]
        book.rpt_seq = rpt_seq
        if book.has_snapshot:
            book.epoch += 1
        # flow counted before the snapshot belongs to the series the snapshot ends
        book.buy_volume = 0
        book.sell_volume = 0
        self.waiting.discard(symbol)
        book.has_snapshot = True
        book.in_gap = False
        book.usable = True
        book.unusable_reason = ""
        book.last_update_ns = recv_ns
        return True

    def _start_gap(self, book: SymbolBook, detail: str, issues: list[DataIssue]) -> None:
        """The book's sequence broke (a gap, or RptSeq starting over): it takes no increment
        until a snapshot, and the issue is raised."""
        book.in_gap = True
        self.waiting.add(book.symbol)
        if book.usable:
            self._mark_unusable(book.symbol, REASON_GAP, detail, issues)
        else:
            issues.append(
                DataIssue(symbol=book.symbol, reason=REASON_GAP, detail=detail, needs_snapshot=True)
            )
        book.unusable_reason = REASON_GAP

    def _apply_increment(
        self,
        symbol: str,
        action: int,
        entry_type: int,
        px_e8: int,
        size: int,
        rpt_seq: int,
        recv_ns: int,
        issues: list[DataIssue],
    ) -> bool:
        book = self.books.get(symbol)
        if book is None:
            if self._symbols is not None and symbol not in self._symbols:
                self.foreign_entries += 1
                return False
            book = self.book(symbol)
        if not book.has_snapshot:
            self.waiting.add(symbol)
            if not issues_has(issues, symbol):
                issues.append(
                    DataIssue(
                        symbol=symbol,
                        reason=REASON_NO_SNAPSHOT,
                        detail="incremental before any snapshot",
                        needs_snapshot=True,
                    )
                )
            return False
        if book.in_gap:
            return False
        if rpt_seq >= 0 and book.rpt_seq >= 0:
            if rpt_seq <= book.rpt_seq:
                if book.rpt_seq - rpt_seq > RPT_SEQ_RESET_DROP or (rpt_seq <= 1 < book.rpt_seq - 1):
                    self._start_gap(book, f"RptSeq(83) started over: {rpt_seq} after {book.rpt_seq}", issues)
                return False
            if rpt_seq != book.rpt_seq + 1:
                self._start_gap(book, f"RptSeq(83) expected {book.rpt_seq + 1} got {rpt_seq}", issues)
                return False
        if entry_type in (ENTRY_BID, ENTRY_OFFER) and px_e8 <= 0 and action != ACTION_DELETE:
            self.rejected_entries += 1
            book.in_gap = True
            detail = f"a {'bid' if entry_type == ENTRY_BID else 'offer'} at {px_e8 / 1e8:g}"
            if book.usable:
                self._mark_unusable(symbol, REASON_BAD_DATA, detail, issues)
            else:
                self.waiting.add(symbol)
            return False
        if rpt_seq >= 0:
            book.rpt_seq = rpt_seq
        if entry_type == ENTRY_TRADE:
            book._apply_trade(px_e8, size)
        elif entry_type in (ENTRY_BID, ENTRY_OFFER):
            book._apply_level(entry_type, action, px_e8, size)
        book.last_update_ns = recv_ns
        return True


def issues_has(issues: list[DataIssue], symbol: str) -> bool:
    return any(issue.symbol == symbol for issue in issues)
