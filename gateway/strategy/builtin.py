"""The built-in strategy: the market-data sink used when the config has no [decision] table.

Takes MarketDataSnapshotFullRefresh(35=W) / MarketDataIncrementalRefresh(35=X) messages, keeps
the price levels of each symbol (a dict per side, enough for the touch), and trades through the
`OrderPort` on the same callback thread: a simple mean-reversion rule around an EMA of the mid
(buy below it, sell above it, always back towards flat at the position limit), one order per
symbol at a time, alternating an aggressive price (crossing the spread: fills now) with a passive
one (joining the touch: rests, then is repriced with a cancel/replace, then cancelled). It exists
so `fixgw demo` and `fixgw run` trade out of the box and exercise every order path; the decision
path's model replaces it through [decision].
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.config import StrategySection
from gateway.domain.ports import OrderPort

log = logging.getLogger("fixgw.strategy")
SOH = "\x01"
# Lot sizes of the bundled simulator's symbols; others trade in lots of one.
DEFAULT_LOT_SIZES: Mapping[str, int] = {"ACME": 1, "BOLT": 10, "CRUX": 100}


@dataclass(slots=True)
class Book:
    bids: dict[Decimal, int] = field(default_factory=dict)
    asks: dict[Decimal, int] = field(default_factory=dict)

    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None


def parse_entries(raw: str) -> tuple[str | None, list[dict[str, str]]]:
    """(body Symbol(55), entries) of a W or X message; an entry starts at 269 (W) or 279 (X)."""
    symbol: str | None = None
    entries: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    in_group = False
    for pair in raw.split(SOH):
        tag, _, value = pair.partition("=")
        if tag == "268":
            in_group = True
            continue
        if not in_group:
            if tag == "55":
                symbol = value
            continue
        if tag in ("279",) or (tag == "269" and (current is None or "269" in current)):
            current = {}
            entries.append(current)
        if current is not None and tag != "10":
            current[tag] = value
    return symbol, entries


class BuiltinStrategy:
    """A `MarketDataSink` that trades the book it sees."""

    def __init__(
        self,
        *,
        orders: OrderPort,
        config: StrategySection,
        symbols: list[str],
        clock_ns: Callable[[], int],
        on_mark: Callable[[str, Decimal], None] | None = None,
    ) -> None:
        self._orders = orders
        self._config = config
        self._symbols = set(symbols)
        self._clock_ns = clock_ns
        self._on_mark = on_mark
        self._books: dict[str, Book] = {s: Book() for s in symbols}
        self._ema: dict[str, float] = {}
        self._last_action_ns: dict[str, int] = {}
        self._sent_ns: dict[str, int] = {}  # cl_ord_id -> when placed or last repriced
        self._repriced: set[str] = set()
        self._style_counter = itertools.count()
        self._alternate_side: dict[str, int] = {}
        self.decisions = 0

    # --- MarketDataSink ------------------------------------------------------------------------

    def on_market_data(self, message: Any, session_key: str, recv_ns: int) -> None:
        try:
            raw = message.toString() if not isinstance(message, str) else message
            msg_type = _msg_type(raw)
            if msg_type == "Y":
                log.warning("%s: MarketDataRequestReject(35=Y) %s", session_key, raw.replace(SOH, "|"))
                return
            touched = self._apply(raw, snapshot=msg_type == "W")
            for symbol in touched:
                self._decide(symbol)
        except Exception:
            log.exception("built-in strategy failed on a market data message")

    def on_session_down(self, session_key: str) -> None:
        for book in self._books.values():
            book.bids.clear()
            book.asks.clear()

    def close(self) -> None:
        pass

    # --- book ------------------------------------------------------------------------------------

    def _apply(self, raw: str, *, snapshot: bool) -> set[str]:
        body_symbol, entries = parse_entries(raw)
        touched: set[str] = set()
        if snapshot and body_symbol in self._books:
            self._books[body_symbol] = Book()
        for entry in entries:
            symbol = entry.get("55", body_symbol)
            if symbol not in self._books:
                continue
            side = entry.get("269")
            if side not in ("0", "1") or "270" not in entry:
                continue
            levels = self._books[symbol].bids if side == "0" else self._books[symbol].asks
            price = Decimal(entry["270"])
            action = entry.get("279", "0")
            size = int(Decimal(entry.get("271", "0") or "0"))
            if action == "2" or size <= 0:
                levels.pop(price, None)
            else:
                levels[price] = size
            touched.add(symbol)
        return touched

    # --- decisions -------------------------------------------------------------------------------

    def _decide(self, symbol: str) -> None:
        book = self._books[symbol]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None or bid >= ask:
            return
        mid = (bid + ask) / 2
        if self._on_mark is not None:
            self._on_mark(symbol, mid)
        alpha = self._config.ema_alpha
        previous = self._ema.get(symbol, float(mid))
        ema = previous + alpha * (float(mid) - previous)
        self._ema[symbol] = ema
        now = self._clock_ns()
        if now - self._last_action_ns.get(symbol, 0) < self._config.order_interval_ms * 1_000_000:
            return
        self._last_action_ns[symbol] = now
        if not self._config.enabled:
            return
        working = list(self._orders.working_orders(symbol))
        if working:
            self._manage(working, bid, ask, now)
            return
        lot = DEFAULT_LOT_SIZES.get(symbol, 1)
        qty = lot * self._config.lots_per_order
        limit = lot * self._config.max_position_lots
        position = self._orders.position(symbol).qty
        if self._config.style == "alternating":
            turn = self._alternate_side.get(symbol, 0)
            self._alternate_side[symbol] = turn + 1
            side = "1" if turn % 2 == 0 else "2"
        else:
            side = "1" if float(mid) <= ema else "2"
        if position + qty > limit:
            side = "2"
        elif position - qty < -limit:
            side = "1"
        aggressive = next(self._style_counter) % 3 != 2
        crosses = (side == "1") == aggressive  # a buy at the ask / a sell at the bid crosses
        price = ask if crosses else bid
        result = self._orders.submit(
            symbol=symbol,
            side=side,
            qty=qty,
            ord_type="2",
            price=price,
            tif="0",
            decision_id=f"builtin-{self.decisions}",
        )
        self.decisions += 1
        if result.accepted and result.cl_ord_id:
            self._sent_ns[result.cl_ord_id] = now

    def _manage(self, working: list[Any], bid: Decimal, ask: Decimal, now: int) -> None:
        for order in working:
            if order.pending:
                continue
            sent = self._sent_ns.setdefault(order.cl_ord_id, now)
            age_ms = (now - sent) / 1_000_000
            if age_ms >= self._config.cancel_after_ms or order.cl_ord_id in self._repriced:
                if age_ms >= self._config.replace_after_ms:
                    self._orders.cancel(order.cl_ord_id)
            elif age_ms >= self._config.replace_after_ms:
                price = ask if order.side == "1" else bid  # cross the spread now
                result = self._orders.replace(order.cl_ord_id, price=price)
                if result.accepted and result.cl_ord_id:
                    self._sent_ns[result.cl_ord_id] = now
                    self._repriced.add(result.cl_ord_id)


def _msg_type(raw: str) -> str:
    start = raw.find(SOH + "35=")
    if start < 0:
        return ""
    end = raw.find(SOH, start + 4)
    return raw[start + 4 : end]
