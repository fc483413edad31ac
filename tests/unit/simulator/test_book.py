"""The order book and price-time matching: examples, then hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.book import BookError, BookSide, LevelAction, OrderBook
from simulator.matching import executable_qty, match


def _book_with(*orders: tuple[str, BookSide, int, int]) -> OrderBook:
    book = OrderBook("ACME")
    for order_id, side, price, qty in orders:
        book.add(order_id=order_id, side=side, price=price, qty=qty, owner="X")
    book.drain_changes()
    return book


def test_best_prices_and_depth_are_best_first() -> None:
    book = _book_with(
        ("b1", BookSide.BID, 99, 10),
        ("b2", BookSide.BID, 98, 5),
        ("b3", BookSide.BID, 99, 7),
        ("a1", BookSide.ASK, 101, 3),
        ("a2", BookSide.ASK, 102, 4),
    )
    assert book.best(BookSide.BID) == 99
    assert book.best(BookSide.ASK) == 101
    assert book.depth(BookSide.BID) == [(99, 17), (98, 5)]
    assert book.depth(BookSide.ASK, 1) == [(101, 3)]


def test_buy_sweeps_levels_oldest_first_and_prints_at_resting_prices() -> None:
    book = _book_with(
        ("a1", BookSide.ASK, 101, 3),
        ("a2", BookSide.ASK, 101, 4),
        ("a3", BookSide.ASK, 102, 10),
    )
    matches = match(book, BookSide.BID, 102, 9)
    assert [(m.maker_order_id, m.price, m.qty) for m in matches] == [
        ("a1", 101, 3),
        ("a2", 101, 4),
        ("a3", 102, 2),
    ]
    assert book.depth(BookSide.ASK) == [(102, 8)]


def test_limit_stops_at_the_limit_price() -> None:
    book = _book_with(("a1", BookSide.ASK, 101, 3), ("a2", BookSide.ASK, 103, 4))
    matches = match(book, BookSide.BID, 102, 10)
    assert sum(m.qty for m in matches) == 3
    assert book.best(BookSide.ASK) == 103


def test_market_order_walks_the_whole_side() -> None:
    book = _book_with(("b1", BookSide.BID, 99, 3), ("b2", BookSide.BID, 50, 4))
    matches = match(book, BookSide.ASK, None, 100)
    assert [(m.price, m.qty) for m in matches] == [(99, 3), (50, 4)]
    assert book.best(BookSide.BID) is None


def test_executable_qty_does_not_change_the_book() -> None:
    book = _book_with(("a1", BookSide.ASK, 101, 3), ("a2", BookSide.ASK, 102, 4))
    assert executable_qty(book, BookSide.BID, 101, 10) == 3
    assert executable_qty(book, BookSide.BID, None, 5) == 5
    assert book.depth(BookSide.ASK) == [(101, 3), (102, 4)]


def test_reduce_keeps_time_priority() -> None:
    book = _book_with(("a1", BookSide.ASK, 101, 10), ("a2", BookSide.ASK, 101, 10))
    book.reduce("a1", 4)
    assert [o.order_id for o in book.queue(BookSide.ASK, 101)] == ["a1", "a2"]
    assert book.level_size(BookSide.ASK, 101) == 16


def test_level_changes_report_new_change_and_delete() -> None:
    book = _book_with(("a1", BookSide.ASK, 101, 10))
    book.add(order_id="a2", side=BookSide.ASK, price=102, qty=5, owner="X")
    book.reduce("a1", 3)
    book.add(order_id="b1", side=BookSide.BID, price=99, qty=1, owner="X")
    book.remove("b1")
    changes = {(c.side, c.price): (c.action, c.size) for c in book.drain_changes()}
    assert changes == {
        (BookSide.ASK, 102): (LevelAction.NEW, 5),
        (BookSide.ASK, 101): (LevelAction.CHANGE, 7),
    }
    book.remove("a2")
    assert [(c.action, c.size) for c in book.drain_changes()] == [(LevelAction.DELETE, 0)]


def test_duplicate_order_id_and_bad_quantity_are_refused() -> None:
    book = _book_with(("a1", BookSide.ASK, 101, 10))
    with pytest.raises(BookError):
        book.add(order_id="a1", side=BookSide.ASK, price=101, qty=1, owner="X")
    with pytest.raises(BookError):
        book.add(order_id="a9", side=BookSide.ASK, price=101, qty=0, owner="X")
    with pytest.raises(BookError):
        book.reduce("a1", 11)


def test_restored_priority_goes_before_newer_orders() -> None:
    book = OrderBook("ACME")
    book.add(order_id="new", side=BookSide.BID, price=99, qty=1, owner="X", priority=50)
    book.add(order_id="old", side=BookSide.BID, price=99, qty=1, owner="X", priority=10)
    assert [o.order_id for o in book.queue(BookSide.BID, 99)] == ["old", "new"]


# ---------------------------------------------------------------------------------------------
# Properties

_order = st.tuples(
    st.sampled_from([BookSide.BID, BookSide.ASK]),
    st.integers(min_value=90, max_value=110),
    st.integers(min_value=1, max_value=50),
    st.booleans(),  # market order?
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_order, min_size=1, max_size=60))
def test_after_matching_the_book_is_never_crossed_and_quantity_is_conserved(
    orders: list[tuple[BookSide, int, int, bool]],
) -> None:
    book = OrderBook("ACME")
    submitted = traded = 0
    for number, (side, price, qty, is_market) in enumerate(orders):
        submitted += qty
        limit = None if is_market else price
        matches = match(book, side, limit, qty)
        filled = sum(m.qty for m in matches)
        assert filled <= qty
        traded += 2 * filled  # both sides of each match leave the book's accounting
        remaining = qty - filled
        if remaining and not is_market:
            book.add(order_id=f"o{number}", side=side, price=price, qty=remaining, owner="X")
        elif remaining:
            submitted -= remaining  # a market order's rest is canceled, never rests
        assert not book.is_crossed()
    resting = book.total_qty(BookSide.BID) + book.total_qty(BookSide.ASK)
    assert resting + traded == submitted


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(95, 100), st.integers(1, 20)), min_size=1, max_size=30),
    st.integers(1, 400),
)
def test_fills_respect_price_then_time_priority(asks: list[tuple[int, int]], buy_qty: int) -> None:
    book = OrderBook("ACME")
    for number, (price, qty) in enumerate(asks):
        book.add(order_id=f"a{number}", side=BookSide.ASK, price=price, qty=qty, owner="X")
    arrival = {f"a{n}": n for n in range(len(asks))}
    matches = match(book, BookSide.BID, None, buy_qty)
    keys = [(m.price, arrival[m.maker_order_id]) for m in matches]
    assert keys == sorted(keys), "better price first, then earlier arrival"
    # Whatever is left rests behind what traded: no untouched order beats a filled one.
    if matches:
        worst_filled = keys[-1]
        for order in book.orders():
            assert (order.price, arrival[order.order_id]) >= worst_filled
