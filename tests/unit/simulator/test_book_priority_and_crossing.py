"""The simulator's order book: a locked book is crossed, and restored orders keep their time
priority against each other and against orders added after them."""

from __future__ import annotations

from simulator.book import BookSide, OrderBook


def _ids(book: OrderBook, side: BookSide, price: int) -> list[str]:
    return [order.order_id for order in book.queue(side, price)]


def test_locked_book_counts_as_crossed() -> None:
    # Arrange
    book = OrderBook("ACME")

    # Act: bid and offer at the same price
    book.add(order_id="b", side=BookSide.BID, price=10_000, qty=10, owner="")
    book.add(order_id="a", side=BookSide.ASK, price=10_000, qty=10, owner="")

    # Assert
    assert book.is_crossed()


def test_restoring_out_of_order_sorts_the_level_by_priority() -> None:
    # Arrange: priorities 1 and 5 already at the level
    book = OrderBook("ACME")
    book.add(order_id="p1", side=BookSide.BID, price=10_000, qty=10, owner="", priority=1)
    book.add(order_id="p5", side=BookSide.BID, price=10_000, qty=10, owner="", priority=5)

    # Act: restore priority 3, between them
    book.add(order_id="p3", side=BookSide.BID, price=10_000, qty=10, owner="", priority=3)

    # Assert
    assert _ids(book, BookSide.BID, 10_000) == ["p1", "p3", "p5"]


def test_order_added_after_a_restore_queues_behind_the_restored_order() -> None:
    # Arrange: an order restored with priority 10 (from a store written before a restart)
    book = OrderBook("ACME")
    restored = book.add(order_id="old", side=BookSide.BID, price=10_000, qty=10, owner="", priority=10)

    # Act: a new order at the same price
    fresh = book.add(order_id="new", side=BookSide.BID, price=10_000, qty=10, owner="")

    # Assert
    assert fresh.priority > restored.priority
    assert _ids(book, BookSide.BID, 10_000) == ["old", "new"]
