"""Background agents: the same seed replays the same market; the market stays sane."""

from __future__ import annotations

import time
from decimal import Decimal

from simulator.book import BookSide
from simulator.instruments import default_instruments
from simulator.liquidity import MarketAgents
from simulator.venue import MarketDataEntry, NewOrderRequest, Venue


def _run(seed: int, steps: int, *, client_order_at: int | None = None) -> tuple[list[MarketDataEntry], Venue]:
    instruments = default_instruments()
    ticks = iter(range(10**18, 10**18 + 10**12, 1000))
    venue = Venue(instruments, clock_ns=lambda: next(ticks))
    agents = MarketAgents(instruments, seed)
    entries: list[MarketDataEntry] = []
    for step in range(steps):
        entries += agents.step(venue).market_data
        if step == client_order_at:
            entries += venue.new_order(
                NewOrderRequest(
                    session_key="S",
                    account="FIXGW",
                    cl_ord_id="c1",
                    symbol="ACME",
                    side="1",
                    ord_type="2",
                    order_qty=Decimal(300),
                    price=Decimal("100.02"),
                )
            ).market_data
    return entries, venue


def test_same_seed_replays_the_same_market() -> None:
    first, venue_a = _run(11, 300, client_order_at=150)
    second, venue_b = _run(11, 300, client_order_at=150)
    assert first == second
    assert len(first) > 1000
    for symbol in venue_a.books:
        assert venue_a.snapshot(symbol) == venue_b.snapshot(symbol)
    assert [f.last_px for f in venue_a.fills()] == [f.last_px for f in venue_b.fills()]


def test_different_seeds_make_different_markets() -> None:
    first, _ = _run(11, 100)
    second, _ = _run(12, 100)
    assert first != second


def test_market_has_trades_stays_uncrossed_and_near_the_reference() -> None:
    entries, venue = _run(7, 500)
    assert any(e.entry_type == "2" for e in entries), "noise traders trade"
    for symbol, book in venue.books.items():
        assert not book.is_crossed()
        bid, ask = book.best(BookSide.BID), book.best(BookSide.ASK)
        assert bid is not None and ask is not None
        reference = venue.instruments[symbol].reference_ticks
        assert abs((bid + ask) / 2 - reference) < reference * 0.2
        assert len(book.depth(BookSide.BID)) >= 3


def test_many_agent_steps_keep_every_book_two_sided_and_uncrossed() -> None:
    # (how fast a step is belongs to bench/sim_bench.py, not to a timed test)
    instruments = default_instruments()
    venue = Venue(instruments, clock_ns=time.time_ns)
    agents = MarketAgents(instruments, 3)

    for _ in range(550):
        agents.step(venue)

    for book in venue.books.values():
        bid, ask = book.best(BookSide.BID), book.best(BookSide.ASK)
        assert bid is not None and ask is not None and not book.is_crossed()
