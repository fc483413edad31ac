"""Executions: matching an accepted order, client fills and positions, trade busts and
corrections, and the venue's own background orders.

Takes a `WorkingOrder` (or a bust/correction of a fill by ExecID) and the books; gives, in the
`VenueResult`, the fills, the positions they move, the ExecutionReport(35=8) of each trade
(ExecType=F), bust (H) or correction (G), and the trades printed for market data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal

from fixcore.values import ExecType, OrdStatus, OrdType, TimeInForce
from simulator.book import BookSide
from simulator.matching import Match, executable_qty, match
from simulator.venue_records import FillRecord, position_from_fills
from simulator.venue_reports import VenueResult
from simulator.venue_rules import BACKGROUND_OWNER, VenueError, book_side
from simulator.venue_state import VenueState, WorkingOrder


class VenueFills(VenueState):
    """Matching, fills, positions, busts and corrections, background orders."""

    def _execute(self, result: VenueResult, order: WorkingOrder, now: int) -> None:
        """Match an accepted (or re-priced) order, then rest or cancel what is left."""
        book = self.books[order.symbol]
        wanted = order.order_qty - order.cum_qty
        if order.time_in_force == TimeInForce.FOK:
            available = executable_qty(book, book_side(order.side), order.price_ticks, wanted)
            if available < wanted:
                order.status = OrdStatus.CANCELED
                text = f"fill or kill: only {available} of {wanted} available"
                self._report(result, order, ExecType.CANCELED, now, text=text)
                return
        matches = match(book, book_side(order.side), order.price_ticks, wanted)
        self._apply_matches(result, order.symbol, matches, taker=order, now=now)
        if order.leaves_qty <= 0:
            return
        if order.ord_type == OrdType.MARKET or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            order.status = OrdStatus.CANCELED
            why = "market order" if order.ord_type == OrdType.MARKET else "immediate or cancel"
            self._report(result, order, ExecType.CANCELED, now, text=f"{why}: unfilled quantity canceled")
            return
        assert order.price_ticks is not None
        book.add(
            order_id=order.order_id,
            side=book_side(order.side),
            price=order.price_ticks,
            qty=order.leaves_qty,
            owner=order.account,
        )
        result.orders[order.order_id] = self._record(order)

    def _apply_matches(
        self,
        result: VenueResult,
        symbol: str,
        matches: Sequence[Match],
        *,
        taker: WorkingOrder | None,
        now: int,
    ) -> None:
        for item in matches:
            self._print_trade(result, symbol, item.price, item.qty)
            if taker is not None:
                self._client_fill(result, taker, item.price, item.qty, now)
            if item.maker_owner != BACKGROUND_OWNER:
                maker = self._orders[item.maker_order_id]
                self._client_fill(result, maker, item.price, item.qty, now)

    def _client_fill(self, result: VenueResult, order: WorkingOrder, price: int, qty: int, now: int) -> None:
        instrument = self.instruments[order.symbol]
        order.cum_qty += qty
        order.notional_ticks += qty * price
        order.status = order.working_status
        exec_id = self._next_exec_id()
        last_px = instrument.to_price(price)
        fill = FillRecord(
            exec_id=exec_id,
            account=order.account,
            session_key=order.session_key,
            order_id=order.order_id,
            cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            last_qty=qty,
            last_px=last_px,
            transact_ns=now,
        )
        self._store_fill(result, fill)
        key = (order.account, order.symbol)
        position = self._positions.get(key) or position_from_fills(order.account, order.symbol, ())
        self._positions[key] = position.with_fill(order.side, qty, last_px)
        result.positions[key] = self._positions[key]
        result.new_client_fills.append(exec_id)
        self._report(result, order, ExecType.TRADE, now, last_qty=qty, last_px=last_px, exec_id=exec_id)

    def _store_fill(self, result: VenueResult, fill: FillRecord) -> None:
        if fill.exec_id not in self._fills:
            self._fills_by_key.setdefault((fill.account, fill.symbol), []).append(fill.exec_id)
        self._fills[fill.exec_id] = fill
        result.fills[fill.exec_id] = fill

    def _recompute_position(self, result: VenueResult, account: str, symbol: str) -> None:
        key = (account, symbol)
        fills = (self._fills[e] for e in self._fills_by_key.get(key, []))
        self._positions[key] = position_from_fills(account, symbol, fills)
        result.positions[key] = self._positions[key]

    def _give_back(self, order: WorkingOrder) -> None:
        """After a bust or a smaller corrected quantity. A working order gets the quantity back
        (LeavesQty grows again, as in the FIX 4.4 trade-cancel matrices) and keeps resting at
        its price. A Filled order is not reinstated in the market: it ends Canceled, with
        CumQty what still stands."""
        if order.status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED):
            order.status = order.working_status
        elif order.status == OrdStatus.FILLED and order.cum_qty < order.order_qty:
            order.status = OrdStatus.CANCELED
            order.text = "trade busted or corrected; the order is not reinstated"

    def _rest_if_reopened(self, result: VenueResult, order: WorkingOrder, now: int) -> None:
        if order.is_final:
            return
        book = self.books[order.symbol]
        resting = book.order(order.order_id)
        if resting is not None and resting.qty == order.leaves_qty:
            return
        # The quantity grew: the order goes to the back of its level, and may now trade.
        book.remove(order.order_id)
        self._execute(result, order, now)

    def _print_trade(self, result: VenueResult, symbol: str, price: int, qty: int) -> None:
        self._last_trade[symbol] = (price, qty)
        self._pending_trades.append((symbol, price, qty))

    def bust(self, exec_id: str, text: str = "trade busted by the venue") -> VenueResult:
        """TradeCancel: ExecType=H with ExecRefID(19); the fill no longer counts."""
        result = VenueResult()
        fill = self._fills.get(exec_id)
        if fill is None or fill.busted:
            raise VenueError(f"no live fill with ExecID {exec_id}")
        now = self._clock_ns()
        order = self._orders[fill.order_id]
        instrument = self.instruments[fill.symbol]
        price_ticks = instrument.to_ticks(fill.last_px) or 0
        busted = dataclasses.replace(fill, busted=True)
        self._store_fill(result, busted)
        order.cum_qty -= fill.last_qty
        order.notional_ticks -= fill.last_qty * price_ticks
        self._give_back(order)
        self._recompute_position(result, fill.account, fill.symbol)
        self._report(
            result,
            order,
            ExecType.TRADE_CANCEL,
            now,
            text=text,
            exec_ref_id=exec_id,
        )
        self._rest_if_reopened(result, order, now)
        return self._finish(result)

    def correct(
        self,
        exec_id: str,
        *,
        last_px: Decimal | None = None,
        last_qty: int | None = None,
        text: str = "trade corrected by the venue",
    ) -> VenueResult:
        """TradeCorrect: ExecType=G with ExecRefID(19) and the corrected LastPx/LastQty."""
        result = VenueResult()
        fill = self._fills.get(exec_id)
        if fill is None or fill.busted:
            raise VenueError(f"no live fill with ExecID {exec_id}")
        instrument = self.instruments[fill.symbol]
        new_px = fill.last_px if last_px is None else last_px
        new_qty = fill.last_qty if last_qty is None else last_qty
        new_px_ticks = instrument.to_ticks(new_px)
        if new_px_ticks is None or new_px_ticks <= 0:
            raise VenueError(f"corrected price {new_px} is off the tick grid of {fill.symbol}")
        if not 0 < new_qty <= fill.last_qty:
            raise VenueError(f"corrected quantity must be between 1 and {fill.last_qty}")
        now = self._clock_ns()
        order = self._orders[fill.order_id]
        old_px_ticks = instrument.to_ticks(fill.last_px) or 0
        correction_id = self._next_exec_id()
        corrected = dataclasses.replace(fill, last_px=instrument.to_price(new_px_ticks), last_qty=new_qty)
        self._store_fill(result, dataclasses.replace(corrected, corrected_by=correction_id))
        order.cum_qty -= fill.last_qty - new_qty
        order.notional_ticks += new_qty * new_px_ticks - fill.last_qty * old_px_ticks
        self._give_back(order)
        self._recompute_position(result, fill.account, fill.symbol)
        self._report(
            result,
            order,
            ExecType.TRADE_CORRECT,
            now,
            text=text,
            exec_ref_id=exec_id,
            last_qty=new_qty,
            last_px=corrected.last_px,
            exec_id=correction_id,
        )
        self._rest_if_reopened(result, order, now)
        return self._finish(result)

    def place_background(
        self, symbol: str, side: BookSide, price: int, qty: int, *, immediate_or_cancel: bool = False
    ) -> tuple[str, VenueResult]:
        """A venue agent's limit order: matches like any order; its own fills are not recorded."""
        result = VenueResult()
        now = self._clock_ns()
        self._background_seq += 1
        order_id = f"bg{self._background_seq}"
        book = self.books[symbol]
        matches = match(book, side, price, qty)
        self._apply_matches(result, symbol, matches, taker=None, now=now)
        remaining = qty - sum(m.qty for m in matches)
        if remaining > 0 and not immediate_or_cancel:
            book.add(order_id=order_id, side=side, price=price, qty=remaining, owner=BACKGROUND_OWNER)
        return order_id, self._finish(result)

    def cancel_background(self, symbol: str, order_id: str) -> VenueResult:
        result = VenueResult()
        self.books[symbol].remove(order_id)
        return self._finish(result)
