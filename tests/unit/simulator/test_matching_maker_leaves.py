"""Price-time matching reports what is left of each resting order after its match."""

from __future__ import annotations

from simulator.book import BookSide, OrderBook
from simulator.matching import match


def test_each_match_reports_the_makers_leaves_after_it() -> None:
    # Arrange: two offers, 10 and 4
    book = OrderBook("ACME")
    book.add(order_id="a1", side=BookSide.ASK, price=101, qty=10, owner="X")
    book.add(order_id="a2", side=BookSide.ASK, price=102, qty=4, owner="X")

    # Act: buy 3, then 9 (takes the rest of a1 and 2 of a2)
    first = match(book, BookSide.BID, 102, 3)
    second = match(book, BookSide.BID, 102, 9)

    # Assert: (maker, traded, leaves)
    assert [(m.maker_order_id, m.qty, m.maker_leaves) for m in first] == [("a1", 3, 7)]
    assert [(m.maker_order_id, m.qty, m.maker_leaves) for m in second] == [("a1", 7, 0), ("a2", 2, 2)]
