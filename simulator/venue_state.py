"""The state the exchange rules work on, and the helpers they share.

`WorkingOrder` is the venue's mutable view of one client order; `VenueState` holds every book,
order, fill and position, and gives ids (OrderIDs are an HMAC of a per-run secret and a counter:
unique, and no session can guess another's), the trading date, the read-only queries
(`order`, `orders`, `fills`, `positions`, `snapshot`) and the helpers that write records,
execution reports and market data into a `VenueResult`. The rules themselves are in
`venue_entry.py`, `venue_fills.py` and `venue_queries.py`; `venue.py` puts them together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from fixcore.values import ExecType, OrdStatus
from simulator.book import BookSide, OrderBook
from simulator.instruments import Instrument
from simulator.venue_records import AVG_PX_QUANTUM, FillRecord, OrderRecord, Position
from simulator.venue_reports import (
    BookSnapshot,
    ExecutionReportOut,
    MarketDataEntry,
    MDEntryType,
    VenueResult,
)
from simulator.venue_rules import FINAL_STATUSES


@dataclass(slots=True, kw_only=True)
class WorkingOrder:
    order_id: str
    account: str
    session_key: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: str  # Side(54) as received: a rejected order keeps the value it was rejected for
    ord_type: str
    price_ticks: int | None
    order_qty: int
    time_in_force: str
    trading_date: str
    created_ns: int
    updated_ns: int
    status: OrdStatus = OrdStatus.NEW
    cum_qty: int = 0
    notional_ticks: int = 0  # sum of last_qty * last_px in ticks: AvgPx stays exact
    text: str = ""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def leaves_qty(self) -> int:
        return 0 if self.is_final else self.order_qty - self.cum_qty

    @property
    def working_status(self) -> OrdStatus:
        if self.cum_qty >= self.order_qty:
            return OrdStatus.FILLED
        return OrdStatus.PARTIALLY_FILLED if self.cum_qty > 0 else OrdStatus.NEW


class VenueState:
    """The venue's state and what every rule needs: books, client orders, fills and
    positions; ids and time; read-only queries; finding an order; writing an execution report;
    turning printed trades and touched book levels into market data.

    Not thread-safe: the caller serialises access (one lock in the server).
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        *,
        clock_ns: Callable[[], int],
        id_prefix: str = "1",
        account_owners: Mapping[str, frozenset[str]] | None = None,
        id_key: bytes | None = None,
    ) -> None:
        """`account_owners`: session key -> the accounts it may name; None lets every session
        name every account (unit tests of the order rules). `id_key`: the secret OrderIDs are
        derived from; random unless given (a test that wants the same ids twice gives one)."""
        self.instruments = dict(instruments)
        self.books: dict[str, OrderBook] = {symbol: OrderBook(symbol) for symbol in self.instruments}
        self._clock_ns = clock_ns
        self._id_prefix = id_prefix
        self._account_owners = None if account_owners is None else dict(account_owners)
        self._id_key = id_key if id_key is not None else secrets.token_bytes(32)
        self._exec_seq = 0
        self._order_seq = 0
        self._report_seq = 0
        self._background_seq = 0
        self._orders: dict[str, WorkingOrder] = {}
        self._by_cl_ord_id: dict[tuple[str, str], str] = {}
        self._fills: dict[str, FillRecord] = {}
        self._fills_by_key: dict[tuple[str, str], list[str]] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._rpt_seq: dict[str, int] = dict.fromkeys(self.instruments, 0)
        self._last_trade: dict[str, tuple[int, int]] = {}
        self._pending_trades: list[tuple[str, int, int]] = []

    # -- ids and time ----------------------------------------------------------------------

    def _next_exec_id(self) -> str:
        self._exec_seq += 1
        return f"{self._id_prefix}-E{self._exec_seq}"

    def _next_order_id(self) -> str:
        """`<boot>-<16 hex digits>`: an HMAC of the counter under a per-run secret, so OrderIDs
        are unique (the boot prefix across restarts, the counter within one) and a session that
        sees its own cannot work out another's."""
        while True:
            self._order_seq += 1
            digest = hmac.new(self._id_key, f"O{self._order_seq}".encode(), hashlib.sha256).hexdigest()
            order_id = f"{self._id_prefix}-{digest[:16]}"
            if order_id not in self._orders:
                return order_id

    def _next_report_id(self, kind: str) -> str:
        self._report_seq += 1
        return f"{self._id_prefix}-{kind}{self._report_seq}"

    def now_ns(self) -> int:
        return self._clock_ns()

    def trading_date(self, now_ns: int | None = None) -> str:
        stamp = self._clock_ns() if now_ns is None else now_ns
        return dt.datetime.fromtimestamp(stamp / 1e9, tz=dt.UTC).strftime("%Y%m%d")

    def instrument(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol)

    def order(self, order_id: str) -> OrderRecord | None:
        order = self._orders.get(order_id)
        return None if order is None else self._record(order)

    def orders(self, account: str | None = None) -> list[OrderRecord]:
        return [self._record(o) for o in self._orders.values() if account is None or o.account == account]

    def fills(self, account: str | None = None) -> list[FillRecord]:
        return [f for f in self._fills.values() if account is None or f.account == account]

    def fill(self, exec_id: str) -> FillRecord | None:
        return self._fills.get(exec_id)

    def positions(self, account: str) -> dict[str, Position]:
        return {symbol: p for (acct, symbol), p in sorted(self._positions.items()) if acct == account}

    def working_client_orders(self) -> list[OrderRecord]:
        working = [o for o in self._orders.values() if not o.is_final]
        return [self._record(o) for o in working]

    def snapshot(self, symbol: str, depth: int = 0) -> BookSnapshot:
        book = self.books[symbol]
        return BookSnapshot(
            symbol=symbol,
            bids=book.depth(BookSide.BID, depth),
            asks=book.depth(BookSide.ASK, depth),
            last_trade=self._last_trade.get(symbol),
            rpt_seq=self._rpt_seq[symbol],
        )

    def _find(
        self,
        account: str,
        cl_ord_id: str,
        order_id: str | None,
        result: VenueResult | None = None,
        session_key: str = "",
    ) -> WorkingOrder | None:
        found = self._by_cl_ord_id.get((account, cl_ord_id))
        if found is None and order_id:
            candidate = self._orders.get(order_id)
            if candidate is not None and candidate.account == account:
                found = candidate.order_id
            elif candidate is not None and result is not None:
                # Answered as an unknown order (nothing confirms that it exists), but logged.
                result.refusals.append(
                    f"{session_key}: OrderID(37) {order_id} belongs to account {candidate.account}, "
                    f"not {account}: treated as an unknown order"
                )
        return None if found is None else self._orders.get(found)

    def _not_own_account(self, result: VenueResult, session_key: str, account: str, what: str) -> str | None:
        """None when the session may name `account`, else the Text(58) of the refusal (also put
        in `result.refusals` for the log)."""
        if self._account_owners is None or account in self._account_owners.get(session_key, ()):
            return None
        text = f"Account(1) {account} is not an account of this session"
        result.refusals.append(f"{session_key}: {what} refused: {text}")
        return text

    def _claim_cl_ord_id(self, result: VenueResult, order: WorkingOrder, cl_ord_id: str) -> None:
        self._by_cl_ord_id[(order.account, cl_ord_id)] = order.order_id
        result.cl_ord_ids.append((order.account, cl_ord_id, order.order_id))

    def _report(
        self,
        result: VenueResult,
        order: WorkingOrder,
        exec_type: ExecType,
        now: int,
        *,
        text: str = "",
        ord_rej_reason: str | None = None,
        last_qty: int | None = None,
        last_px: Decimal | None = None,
        exec_ref_id: str | None = None,
        exec_id: str | None = None,
        session_key: str | None = None,
        mass_status_req_id: str | None = None,
        tot_num_reports: int | None = None,
        last_rpt_requested: bool = False,
    ) -> None:
        instrument = self.instruments.get(order.symbol)
        if exec_type not in (ExecType.ORDER_STATUS,):
            order.updated_ns = now
            result.orders[order.order_id] = self._record(order)
        price = None
        if order.price_ticks is not None and instrument is not None:
            price = instrument.to_price(order.price_ticks)
        result.messages.append(
            ExecutionReportOut(
                session_key=session_key or order.session_key,
                account=order.account,
                order_id=order.order_id,
                cl_ord_id=order.cl_ord_id,
                orig_cl_ord_id=order.orig_cl_ord_id,
                exec_id=exec_id or self._next_exec_id(),
                exec_type=exec_type,
                ord_status=order.status,
                symbol=order.symbol,
                side=order.side,
                ord_type=order.ord_type,
                price=price,
                order_qty=order.order_qty,
                time_in_force=order.time_in_force,
                leaves_qty=order.leaves_qty,
                cum_qty=order.cum_qty,
                avg_px=self._avg_px(order),
                transact_ns=now,
                last_qty=last_qty,
                last_px=last_px,
                text=text or (order.text if exec_type == ExecType.ORDER_STATUS else ""),
                ord_rej_reason=ord_rej_reason,
                exec_ref_id=exec_ref_id,
                mass_status_req_id=mass_status_req_id,
                tot_num_reports=tot_num_reports,
                last_rpt_requested=last_rpt_requested,
            )
        )

    def _avg_px(self, order: WorkingOrder) -> Decimal:
        if order.cum_qty <= 0:
            return Decimal(0)
        instrument = self.instruments.get(order.symbol)
        tick = instrument.tick_size if instrument is not None else Decimal(1)
        return (Decimal(order.notional_ticks) * tick / order.cum_qty).quantize(AVG_PX_QUANTUM)

    def _record(self, order: WorkingOrder) -> OrderRecord:
        instrument = self.instruments.get(order.symbol)
        price = None
        if order.price_ticks is not None and instrument is not None:
            price = instrument.to_price(order.price_ticks)
        resting = self.books[order.symbol].order(order.order_id) if order.symbol in self.books else None
        return OrderRecord(
            order_id=order.order_id,
            account=order.account,
            session_key=order.session_key,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.orig_cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            ord_type=order.ord_type,
            price=price,
            order_qty=order.order_qty,
            time_in_force=order.time_in_force,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=self._avg_px(order),
            status=order.status,
            priority=resting.priority if resting is not None else None,
            trading_date=order.trading_date,
            created_ns=order.created_ns,
            updated_ns=order.updated_ns,
            text=order.text,
        )

    def _finish(self, result: VenueResult) -> VenueResult:
        """Turn the trades printed and the book levels touched into market data entries."""
        for symbol, price, qty in self._pending_trades:
            self._rpt_seq[symbol] += 1
            result.market_data.append(
                MarketDataEntry(
                    symbol=symbol,
                    entry_type=MDEntryType.TRADE,
                    action="0",
                    price=price,
                    size=qty,
                    rpt_seq=self._rpt_seq[symbol],
                )
            )
        self._pending_trades.clear()
        for symbol, book in self.books.items():
            for change in book.drain_changes():
                self._rpt_seq[symbol] += 1
                result.market_data.append(
                    MarketDataEntry(
                        symbol=symbol,
                        entry_type=change.side.value,
                        action=change.action.value,
                        price=change.price,
                        size=change.size,
                        rpt_seq=self._rpt_seq[symbol],
                    )
                )
        return result
