"""One symbol's limit order book: price levels of resting orders in time priority.

Pure: takes integer tick prices and integer quantities, never talks to FIX or SQLite. Every
change is remembered per level so the caller can publish exactly the levels that changed
(`drain_changes`) as MarketDataIncrementalRefresh(35=X) entries.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum


class BookSide(Enum):
    BID = "0"  # MDEntryType(269)=0
    ASK = "1"  # MDEntryType(269)=1

    @property
    def opposite(self) -> BookSide:
        return BookSide.ASK if self is BookSide.BID else BookSide.BID


class LevelAction(Enum):
    NEW = "0"  # MDUpdateAction(279)
    CHANGE = "1"
    DELETE = "2"


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelChange:
    side: BookSide
    price: int
    size: int  # aggregate size at the level after the change; 0 on DELETE
    action: LevelAction


class BookError(ValueError):
    """A book operation that would break the book (duplicate id, non-positive quantity)."""


class RestingOrder:
    """An order sitting in the book. Mutable on purpose: fills reduce `qty` in place."""

    __slots__ = ("order_id", "owner", "price", "priority", "qty", "side")

    def __init__(
        self, *, order_id: str, side: BookSide, price: int, qty: int, priority: int, owner: str
    ) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.priority = priority
        self.owner = owner  # the client account, or "" for the venue's background agents

    def __repr__(self) -> str:
        return (
            f"RestingOrder({self.order_id!r}, {self.side.name}, px={self.price}, qty={self.qty}, "
            f"prio={self.priority}, owner={self.owner!r})"
        )


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._queues: dict[BookSide, dict[int, deque[RestingOrder]]] = {BookSide.BID: {}, BookSide.ASK: {}}
        self._sizes: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
        # Ascending prices per side: best bid is the last, best ask the first.
        self._prices: dict[BookSide, list[int]] = {BookSide.BID: [], BookSide.ASK: []}
        self._orders: dict[str, RestingOrder] = {}
        self._size_before: dict[tuple[BookSide, int], int] = {}
        self._next_priority = 1

    # -- queries -------------------------------------------------------------------------------

    def best(self, side: BookSide) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side is BookSide.BID else prices[0]

    def level_size(self, side: BookSide, price: int) -> int:
        return self._sizes[side].get(price, 0)

    def levels(self, side: BookSide) -> Iterator[tuple[int, int]]:
        """(price, aggregate size), best price first."""
        prices = self._prices[side]
        ordered = reversed(prices) if side is BookSide.BID else iter(prices)
        sizes = self._sizes[side]
        for price in ordered:
            yield price, sizes[price]

    def depth(self, side: BookSide, max_levels: int = 0) -> list[tuple[int, int]]:
        """The best `max_levels` levels (all of them when max_levels <= 0)."""
        result: list[tuple[int, int]] = []
        for level in self.levels(side):
            if 0 < max_levels <= len(result):
                break
            result.append(level)
        return result

    def queue(self, side: BookSide, price: int) -> tuple[RestingOrder, ...]:
        return tuple(self._queues[side].get(price, ()))

    def head(self, side: BookSide, price: int) -> RestingOrder:
        """The oldest order at a price level that exists."""
        return self._queues[side][price][0]

    def order(self, order_id: str) -> RestingOrder | None:
        return self._orders.get(order_id)

    def orders(self) -> Iterator[RestingOrder]:
        return iter(self._orders.values())

    def is_crossed(self) -> bool:
        bid, ask = self.best(BookSide.BID), self.best(BookSide.ASK)
        return bid is not None and ask is not None and bid >= ask

    def total_qty(self, side: BookSide) -> int:
        return sum(self._sizes[side].values())

    def __len__(self) -> int:
        return len(self._orders)

    # -- changes -------------------------------------------------------------------------------

    def add(
        self, *, order_id: str, side: BookSide, price: int, qty: int, owner: str, priority: int | None = None
    ) -> RestingOrder:
        """Rest an order at the back of its price level (or at `priority`, when restoring)."""
        if qty <= 0:
            raise BookError(f"{order_id}: resting quantity must be positive, got {qty}")
        if order_id in self._orders:
            raise BookError(f"{order_id}: already in the book")
        if priority is None:
            priority = self._next_priority
        self._next_priority = max(self._next_priority, priority) + 1
        order = RestingOrder(
            order_id=order_id, side=side, price=price, qty=qty, priority=priority, owner=owner
        )
        self._remember(side, price)
        queue = self._queues[side].get(price)
        if queue is None:
            queue = deque()
            self._queues[side][price] = queue
            bisect.insort(self._prices[side], price)
            self._sizes[side][price] = 0
        if queue and queue[-1].priority > priority:
            # Restoring out of order: keep the queue sorted by priority.
            items = sorted([*queue, order], key=lambda resting: resting.priority)
            queue.clear()
            queue.extend(items)
        else:
            queue.append(order)
        self._sizes[side][price] += qty
        self._orders[order_id] = order
        return order

    def remove(self, order_id: str) -> RestingOrder | None:
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        self._remember(order.side, order.price)
        queue = self._queues[order.side][order.price]
        queue.remove(order)
        self._sizes[order.side][order.price] -= order.qty
        if not queue:
            self._drop_level(order.side, order.price)
        return order

    def reduce(self, order_id: str, by_qty: int) -> RestingOrder:
        """Take `by_qty` off a resting order, keeping its time priority; removes it at zero."""
        order = self._orders.get(order_id)
        if order is None:
            raise BookError(f"{order_id}: not in the book")
        if by_qty <= 0 or by_qty > order.qty:
            raise BookError(f"{order_id}: cannot reduce {order.qty} by {by_qty}")
        if by_qty == order.qty:
            self.remove(order_id)
            order.qty = 0
            return order
        self._remember(order.side, order.price)
        order.qty -= by_qty
        self._sizes[order.side][order.price] -= by_qty
        return order

    def drain_changes(self) -> list[LevelChange]:
        """Levels whose aggregate size changed since the last drain, in the order first touched."""
        changes: list[LevelChange] = []
        for (side, price), before in self._size_before.items():
            after = self._sizes[side].get(price, 0)
            if after == before:
                continue
            if before == 0:
                action = LevelAction.NEW
            elif after == 0:
                action = LevelAction.DELETE
            else:
                action = LevelAction.CHANGE
            changes.append(LevelChange(side=side, price=price, size=after, action=action))
        self._size_before.clear()
        return changes

    def _remember(self, side: BookSide, price: int) -> None:
        key = (side, price)
        if key not in self._size_before:
            self._size_before[key] = self._sizes[side].get(price, 0)

    def _drop_level(self, side: BookSide, price: int) -> None:
        del self._queues[side][price]
        del self._sizes[side][price]
        prices = self._prices[side]
        del prices[bisect.bisect_left(prices, price)]
