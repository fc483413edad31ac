"""Books per symbol: RptSeq(83) gaps, duplicates, staleness and snapshot recovery."""

from __future__ import annotations

from gateway.fix.marketdata_codec import decode
from gateway.marketdata.book import REASON_GAP, REASON_SESSION_DOWN, REASON_STALE, MarketState
from tests.unit.decision.helpers import T0_NS, Inc, incremental, snapshot


def _acme_snapshot(rpt_seq: int = 10, sending_ns: int = T0_NS):
    return decode(
        snapshot(
            "ACME",
            rpt_seq=rpt_seq,
            bids=[("99.99", 100), ("99.98", 50)],
            asks=[("100.01", 80)],
            seq=2,
            sending_ns=sending_ns,
        )
    )


def test_snapshot_then_in_sequence_increments_build_the_book() -> None:
    market = MarketState(max_md_age_ms=1000, stale_after_ms=0)
    market.apply(_acme_snapshot(), T0_NS)

    touched, issues = market.apply(
        decode(
            incremental(
                [
                    Inc("0", "0", "ACME", "100.00", 40, 11),
                    Inc("2", "1", "ACME", "100.01", 0, 12),
                    Inc("0", "1", "ACME", "100.02", 60, 13),
                ],
                seq=3,
                sending_ns=T0_NS,
            )
        ),
        T0_NS + 1,
    )

    book = market.books["ACME"]
    assert touched == ["ACME"] and issues == []
    assert book.top() == (10_000_000_000, 40, 10_002_000_000, 60)
    assert book.rpt_seq == 13 and book.usable


def test_increment_already_in_the_snapshot_is_skipped() -> None:
    market = MarketState(max_md_age_ms=1000, stale_after_ms=0)
    market.apply(_acme_snapshot(rpt_seq=10), T0_NS)

    touched, _ = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "100.00", 40, 10)], seq=3, sending_ns=T0_NS)), T0_NS
    )

    assert touched == [] and market.books["ACME"].best_bid() == 9_999_000_000


def test_gap_makes_the_symbol_unusable_until_a_fresh_snapshot() -> None:
    market = MarketState(max_md_age_ms=1000, stale_after_ms=0)
    market.apply(_acme_snapshot(rpt_seq=10), T0_NS)

    _, issues = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "100.00", 40, 12)], seq=3, sending_ns=T0_NS)), T0_NS
    )
    later, _ = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "100.00", 41, 13)], seq=4, sending_ns=T0_NS)), T0_NS
    )

    assert [(i.symbol, i.reason, i.needs_snapshot) for i in issues] == [("ACME", REASON_GAP, True)]
    assert "expected 11 got 12" in issues[0].detail
    assert later == [] and not market.books["ACME"].usable
    assert market.books["ACME"].best_bid() == 9_999_000_000  # nothing after the gap applied

    market.apply(_acme_snapshot(rpt_seq=13), T0_NS + 5)
    assert market.books["ACME"].usable


def test_message_older_than_max_age_makes_the_symbol_stale() -> None:
    market = MarketState(max_md_age_ms=100, stale_after_ms=0)
    market.apply(_acme_snapshot(), T0_NS)

    _, issues = market.apply(
        decode(incremental([Inc("0", "0", "ACME", "100.00", 40, 11)], seq=3, sending_ns=T0_NS)),
        T0_NS + 250_000_000,
    )

    assert [(i.reason, i.needs_snapshot) for i in issues] == [(REASON_STALE, True)]
    assert "250 ms old" in issues[0].detail
    assert not market.books["ACME"].usable


def test_quiet_symbol_goes_stale_after_the_limit() -> None:
    market = MarketState(max_md_age_ms=0, stale_after_ms=500)
    market.apply(_acme_snapshot(), T0_NS)

    assert market.check_quiet(T0_NS + 400_000_000) == []
    issues = market.check_quiet(T0_NS + 600_000_000)

    assert [(i.symbol, i.reason) for i in issues] == [("ACME", REASON_STALE)]


def test_session_down_makes_every_book_unusable() -> None:
    market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    market.apply(_acme_snapshot(), T0_NS)

    issues = market.session_down()

    assert [(i.symbol, i.reason) for i in issues] == [("ACME", REASON_SESSION_DOWN)]
    assert not market.books["ACME"].usable


def test_trades_are_signed_against_the_mid() -> None:
    market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    market.apply(_acme_snapshot(), T0_NS)

    market.apply(
        decode(
            incremental(
                [Inc("0", "2", "ACME", "100.01", 7, 11), Inc("0", "2", "ACME", "99.99", 3, 12)],
                seq=3,
                sending_ns=T0_NS,
            )
        ),
        T0_NS,
    )

    assert market.books["ACME"].take_trade_flow() == (7, 3)
    assert market.books["ACME"].take_trade_flow() == (0, 0)
