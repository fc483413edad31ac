"""The gateway's market-data book at its edges: a locked book has no top, a trade at the mid takes
the tick rule, a repeated RptSeq(83) is a duplicate, not a gap."""

from __future__ import annotations

from gateway.marketdata.book import MarketState
from tests.unit.decision.helpers import T0_NS, Inc, decode, incremental, snapshot


def _market_after_snapshot(
    *, bid: str = "99.99", ask: str = "100.01", last_trade: tuple[str, int] | None = None
) -> MarketState:
    market = MarketState(max_md_age_ms=1000, stale_after_ms=0)
    message = snapshot(
        "ACME",
        rpt_seq=10,
        bids=[(bid, 100)],
        asks=[(ask, 80)],
        seq=2,
        sending_ns=T0_NS,
        last_trade=last_trade,
    )
    market.apply(decode(message), T0_NS)
    return market


def test_locked_book_has_no_top_and_no_mid() -> None:
    # Act: bid and offer at the same price
    market = _market_after_snapshot(bid="100.00", ask="100.00")

    # Assert
    book = market.books["ACME"]
    assert book.top() is None
    assert book.mid_e8() is None


def test_trade_at_the_mid_below_the_last_trade_counts_as_a_sell() -> None:
    # Arrange: mid 100.00, last trade 100.02
    market = _market_after_snapshot(last_trade=("100.02", 5))

    # Act: a trade of 10 at the mid, a down-tick
    market.apply(
        decode(incremental([Inc("0", "2", "ACME", "100.00", 10, 11)], seq=3, sending_ns=T0_NS)), T0_NS
    )

    # Assert: (buy volume, sell volume)
    assert market.books["ACME"].take_trade_flow() == (0, 10)


def test_repeated_rpt_seq_is_a_duplicate_and_leaves_the_book_usable() -> None:
    # Arrange
    market = _market_after_snapshot()

    # Act: an entry carrying the snapshot's own RptSeq, then the next one in sequence
    _, duplicate_issues = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "100.00", 40, 10)], seq=3, sending_ns=T0_NS)), T0_NS
    )
    touched, issues = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "100.00", 40, 11)], seq=4, sending_ns=T0_NS)), T0_NS
    )

    # Assert
    book = market.books["ACME"]
    assert duplicate_issues == [] and issues == []
    assert touched == ["ACME"]
    assert book.usable and not book.in_gap
    assert book.best_bid() == 10_000_000_000
