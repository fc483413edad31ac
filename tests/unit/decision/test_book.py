"""Books per symbol: RptSeq(83) gaps, duplicates, staleness and snapshot recovery."""

from __future__ import annotations

from gateway.marketdata.book import REASON_GAP, REASON_SESSION_DOWN, REASON_STALE, MarketState
from tests.unit.decision.helpers import T0_NS, Inc, decode, incremental, snapshot


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


def test_fast_rows_build_the_same_books_as_the_reference_path_on_a_messy_feed() -> None:
    """The live sink applies the fast decoder's rows with an inlined in-sequence path; replay
    applies the reference decoder's entries. On a feed with duplicates, deletes, trades, a gap
    and a recovering snapshot over three symbols, both must give the same books and issues."""
    import random

    from gateway.marketdata.decoder import FastDecoder

    rng = random.Random(5)
    symbols = ("ACME", "BOLT", "CRUX")
    rpt = dict.fromkeys(symbols, 10)
    feed = []
    seq = 2
    for symbol in symbols:
        feed.append(snapshot(symbol, rpt_seq=10, bids=[("99.99", 100)], asks=[("100.01", 80)], seq=seq,
                             sending_ns=T0_NS))  # fmt: skip
        seq += 1
    for step in range(300):
        entries = []
        for _ in range(rng.randint(1, 6)):
            symbol = rng.choice(symbols)
            roll = rng.random()
            if roll < 0.05:
                number = rpt[symbol] - rng.randint(0, 2)  # duplicate
            elif roll < 0.07 and step > 100:
                number = rpt[symbol] + 3  # gap
                rpt[symbol] = number
            else:
                number = rpt[symbol] = rpt[symbol] + 1
            ticks = rng.randint(9_990, 10_010)
            entries.append(
                Inc(
                    action=rng.choice("0112"),
                    entry_type=rng.choice("0012"),
                    symbol=symbol,
                    px=f"{ticks / 100:.2f}",
                    size=rng.choice((0, 10, 50, 100)),
                    rpt_seq=number,
                )
            )
        feed.append(incremental(entries, seq=seq, sending_ns=T0_NS + step))
        seq += 1
        if step % 97 == 96:
            symbol = rng.choice(symbols)
            feed.append(snapshot(symbol, rpt_seq=rpt[symbol], bids=[("99.95", 10)], asks=[("100.05", 20)],
                                 seq=seq, sending_ns=T0_NS + step))  # fmt: skip
            seq += 1

    reference = MarketState(max_md_age_ms=0, stale_after_ms=0)
    fast_market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    decoder = FastDecoder()
    gaps = 0
    for recv_ns, message in enumerate(feed, start=T0_NS):
        raw = message.toString()
        expected = reference.apply(decode(message), recv_ns)
        fast = decoder.decode(raw)
        assert fast is not None
        got = fast_market.apply_rows(fast.msg_type, fast.msg_seq_num, fast.sending_time_ns,
                                     fast.snapshot_symbol, fast.snapshot_rpt_seq, fast.rows, fast.symbols,
                                     recv_ns)  # fmt: skip
        assert got == expected
        gaps += sum(issue.reason == REASON_GAP for issue in got[1])
        for symbol in symbols:
            ref_book, fast_book = reference.book(symbol), fast_market.book(symbol)
            assert (fast_book.bids, fast_book.asks, fast_book.rpt_seq, fast_book.usable, fast_book.top()) == (
                ref_book.bids, ref_book.asks, ref_book.rpt_seq, ref_book.usable, ref_book.top()
            )  # fmt: skip
            assert (fast_book.buy_volume, fast_book.sell_volume, fast_book.last_update_ns) == (
                ref_book.buy_volume, ref_book.sell_volume, ref_book.last_update_ns
            )  # fmt: skip
    assert gaps > 0  # the feed really exercised the slow path's rules
