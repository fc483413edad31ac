"""MarketDataSnapshotFullRefresh(35=W) / MarketDataIncrementalRefresh(35=X) built with quickfix
-> domain updates, read by tag number from one toString()."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import quickfix as fix
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.marketdata.decoder import decode_raw, sending_time_ns
from gateway.marketdata.events import (
    ACTION_DELETE,
    ENTRY_BID,
    ENTRY_OFFER,
    ENTRY_TRADE,
    IncrementalReceived,
    MarketDataError,
    SnapshotReceived,
    decimal_to_px_e8,
    px_e8_from_str,
    px_e8_to_decimal,
)
from tests.unit.decision.helpers import T0_NS, Inc, decode, incremental, snapshot

DICTIONARY = Path(__file__).resolve().parents[3] / "fix_specs" / "FIX44.xml"


def test_snapshot_gives_every_level_with_exact_prices_and_the_body_rpt_seq() -> None:
    message = snapshot(
        "BOLT",
        rpt_seq=41,
        bids=[("49.95", 100), ("49.90", 30)],
        asks=[("50.05", 70)],
        seq=9,
        sending_ns=T0_NS + 123_000_000,
        last_trade=("50.00", 10),
    )

    decoded = decode(message)

    assert decoded.msg_type == "W" and decoded.msg_seq_num == 9
    assert decoded.sending_time_ns == T0_NS + 123_000_000
    assert isinstance(decoded.body, SnapshotReceived)
    assert decoded.body.symbol == "BOLT" and decoded.body.rpt_seq == 41
    got = [(e.entry_type, e.px_e8, e.size) for e in decoded.body.entries]
    assert got == [
        (ENTRY_BID, 4_995_000_000, 100),
        (ENTRY_BID, 4_990_000_000, 30),
        (ENTRY_OFFER, 5_005_000_000, 70),
        (ENTRY_TRADE, 5_000_000_000, 10),
    ]


def test_incremental_gives_each_entry_with_its_symbol_action_and_rpt_seq() -> None:
    message = incremental(
        [Inc("0", "0", "ACME", "100.01", 5, 7), Inc("2", "1", "CRUX", "20.02", 0, 3)], seq=4, sending_ns=T0_NS
    )

    decoded = decode(message)

    assert isinstance(decoded.body, IncrementalReceived)
    first, second = decoded.body.entries
    assert (first.symbol, first.action, first.entry_type, first.px_e8, first.size, first.rpt_seq) == (
        "ACME",
        0,
        ENTRY_BID,
        10_001_000_000,
        5,
        7,
    )
    assert (second.symbol, second.action, second.rpt_seq) == ("CRUX", ACTION_DELETE, 3)


def test_message_parsed_with_the_data_dictionary_decodes_the_same() -> None:
    # In the engine, messages arrive parsed with fix_specs/FIX44.xml: group fields then follow
    # the dictionary's order, not tag order.
    built = incremental([Inc("1", "1", "ACME", "100.03", 9, 12)], seq=5, sending_ns=T0_NS)
    dictionary = fix.DataDictionary(str(DICTIONARY))
    parsed = fix.Message(built.toString(), dictionary, False)

    assert decode(parsed) == decode(built)


def test_entry_count_that_disagrees_with_the_entries_is_refused() -> None:
    raw = incremental([Inc("0", "0", "ACME", "1.00", 1, 1)], seq=2, sending_ns=T0_NS).toString()
    broken = raw.replace("\x01268=1\x01", "\x01268=2\x01")

    assert decode_raw(raw).msg_type == "X"
    with pytest.raises(MarketDataError, match="NoMDEntries"):
        decode_raw(broken)


@pytest.mark.parametrize("text", ["1.123456789", "abc", "", "1.2.3", "--1"])
def test_price_that_is_not_an_exact_decimal_is_refused(text: str) -> None:
    with pytest.raises(MarketDataError):
        px_e8_from_str(text)


@given(st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=8, allow_nan=False))
def test_price_string_round_trips_exactly(price: Decimal) -> None:
    text = format(price, "f")
    px_e8 = px_e8_from_str(text)
    assert px_e8 == decimal_to_px_e8(price)
    assert px_e8_to_decimal(px_e8) == price


def test_sending_time_accepts_milli_micro_and_nano_fractions() -> None:
    assert sending_time_ns("20261129-21:00:00") == T0_NS
    assert sending_time_ns("20261129-21:00:00.5") == T0_NS + 500_000_000
    assert sending_time_ns("20261129-21:00:00.000001") == T0_NS + 1_000
    with pytest.raises(MarketDataError):
        sending_time_ns("2026-11-29 03:00")


def _as_rows(decoded):
    body = decoded.body
    entries = body.entries
    symbol = body.symbol if isinstance(body, SnapshotReceived) else ""
    rpt_seq = body.rpt_seq if isinstance(body, SnapshotReceived) else -1
    return (
        decoded.msg_type, decoded.msg_seq_num, decoded.sending_time_ns, symbol, rpt_seq,
        [[e.action, e.entry_type, e.px_e8, e.size, e.rpt_seq] for e in entries], [e.symbol for e in entries],
    )  # fmt: skip


def _fast_rows(fast):
    return (
        fast.msg_type, fast.msg_seq_num, fast.sending_time_ns, fast.snapshot_symbol, fast.snapshot_rpt_seq,
        [row[:5] for row in fast.rows], fast.symbols,
    )  # fmt: skip


entry_strategy = st.tuples(
    st.sampled_from("012"), st.sampled_from("012"), st.sampled_from(["ACME", "BOLT", "CRUX", "X.Y"]),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2).map(lambda d: f"{d:f}"),
    st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=2**40),
)  # fmt: skip


_DICTIONARY_OBJECT = fix.DataDictionary(str(DICTIONARY))


@settings(max_examples=60, deadline=None)
@given(st.lists(entry_strategy, min_size=1, max_size=30), st.integers(min_value=1, max_value=2**31 - 1))
def test_fast_decoder_agrees_with_the_reference_decoder(entries, seq) -> None:
    from gateway.marketdata.decoder import FastDecoder

    message = incremental([Inc(*entry) for entry in entries], seq=seq, sending_ns=T0_NS + seq)
    dictionary_parsed = fix.Message(message.toString(), _DICTIONARY_OBJECT, False)
    for candidate in (message, dictionary_parsed):
        raw = candidate.toString()
        fast = FastDecoder().decode(raw)
        assert fast is not None
        assert _fast_rows(fast) == _as_rows(decode_raw(raw))


def test_fast_decoder_agrees_on_snapshots_and_defers_what_it_does_not_read() -> None:
    from gateway.marketdata.decoder import FastDecoder

    decoder = FastDecoder()
    w = snapshot(
        "BOLT",
        rpt_seq=41,
        bids=[("49.95", 100)],
        asks=[("50.05", 70)],
        seq=9,
        sending_ns=T0_NS,
        last_trade=("50.00", 10),
    ).toString()
    fast = decoder.decode(w)
    assert fast is not None and _fast_rows(fast) == _as_rows(decode_raw(w))
    odd_size = incremental([Inc("0", "0", "ACME", "1.00", 1, 1)], seq=2, sending_ns=T0_NS).toString()
    assert decoder.decode(odd_size.replace("271=1\x01", "271=1.0\x01")) is None  # the reference reads it
    assert decoder.decode(odd_size.replace("270=1.00", "270=1.x")) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789.-_ +e²", min_size=0, max_size=12))
def test_what_the_fast_decoder_accepts_the_reference_reads_the_same(price_text: str) -> None:
    from gateway.marketdata.decoder import FastDecoder

    raw = incremental([Inc("0", "0", "ACME", "1.00", 1, 1)], seq=2, sending_ns=T0_NS).toString()
    raw = raw.replace("270=1.00\x01", f"270={price_text}\x01")
    fast = FastDecoder().decode(raw)
    if fast is not None:
        assert _fast_rows(fast) == _as_rows(decode_raw(raw))


def test_numbers_out_of_range_are_refused_by_both_decoders() -> None:
    from gateway.marketdata.decoder import FastDecoder

    decoder = FastDecoder()
    base = incremental([Inc("0", "0", "ACME", "1.00", 1, 1)], seq=2, sending_ns=T0_NS).toString()
    for old, new in (
        ("270=1.00\x01", "270=100000000000\x01"),  # px_e8 1e19: past int64
        ("270=1.00\x01", "270=92233720368.5\x01"),  # past the largest whole part the fast path reads
        ("270=1.00\x01", "270=123456789012345678901234567890\x01"),
        ("271=1\x01", "271=99999999999999999999\x01"),
        ("83=1\x01", "83=99999999999999999999\x01"),
        ("34=2\x01", "34=99999999999999999999\x01"),
    ):
        raw = base.replace(old, new)
        assert raw != base
        assert decoder.decode(raw) is None, new
        with pytest.raises(MarketDataError):  # and the reference refuses it: out of range
            decode_raw(raw)
    largest = base.replace("270=1.00\x01", "270=1000000000\x01")  # MAX_ABS_PRICE_E8
    fast = decoder.decode(largest)
    assert fast is not None and fast.rows[0][2] == 1_000_000_000 * 100_000_000
    assert _fast_rows(fast) == _as_rows(decode_raw(largest))
    beyond = base.replace("270=1.00\x01", "270=1000000000.00000001\x01")
    assert decoder.decode(beyond) is None
    with pytest.raises(MarketDataError):
        decode_raw(beyond)
