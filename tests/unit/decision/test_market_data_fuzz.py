"""Seeded, bounded fuzz of the market-data decoders and the book: hostile W/X messages (huge,
negative and malformed numbers, missing or repeated fields, text beyond latin-1, thousands of
entries, sequence numbers out of range) never raise anything but MarketDataError, the compiled
and the reference decoder agree whenever the compiled one answers, the live book (fed as the
decision sink feeds it) equals the replay book (fed as `features build` feeds it), and every
level a decision can read is a positive price and size within bounds."""

from __future__ import annotations

import math
import random

import pytest

from gateway.marketdata.book import MarketState
from gateway.marketdata.decoder import FastDecoder, decode_raw
from gateway.marketdata.events import MAX_ABS_PRICE_E8, MAX_ENTRY_SIZE, PX_SCALE, MarketDataError

SEED = 20261208
STREAMS = 100
MESSAGES_PER_STREAM = 50  # 5,000 messages, a few seconds
SOH = "\x01"
WEIRD_NUMBERS = ["", "-", ".", "+5", "1e3", "1_000", " 5", "\u0663", "0x10", "--1", "1.2.3", "-0", "00",
                 "9" * 19, "9" * 25, "9" * 400, "-" + "9" * 330, str(2**64), "-1", "-100", "0.000000001",
                 "NaN", "inf"]  # fmt: skip
WEIRD_SYMBOLS = ["", "ACM\u00e9", "\u682a", "AC\udcffME", "\U0001f4a9", "A" * 3000, "ACME\x00", "ACME=1"]
Fields = list[tuple[str, str]]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def px(self) -> str:
        return f"{self.rng.randint(9000, 11000) / 100:.2f}"

    def message(self, msg_type: str, seq: int, rpt: int, symbols: list[str]) -> Fields:
        rng = self.rng
        head = [
            ("8", "FIX.4.4"),
            ("9", "100"),
            ("35", msg_type),
            ("34", str(seq)),
            ("52", "20261208-10:00:00.000"),
        ]
        if msg_type == "W":
            n = rng.randint(0, 10)
            entries = [
                x
                for _ in range(n)
                for x in (
                    ("269", str(rng.choice([0, 1, 2]))),
                    ("270", self.px()),
                    ("271", str(rng.randint(1, 500))),
                )
            ]
            body = [("55", symbols[0]), ("83", str(rpt)), ("268", str(n)), *entries]
        else:
            n = rng.randint(1, 6)
            entries = [
                x
                for k in range(n)
                for x in (("279", str(rng.choice([0, 1, 2]))), ("269", str(rng.choice([0, 1, 2]))),
                          ("55", rng.choice(symbols)), ("270", self.px()), ("271", str(rng.randint(0, 500))),
                          ("83", str(rpt + k + 1)))
            ]  # fmt: skip
            body = [("268", str(n)), *entries]
        return head + body + [("10", "000")]

    def mutate(self, fields: Fields) -> str:
        rng = self.rng
        f = list(fields)
        kind = rng.choice(
            [
                "count",
                "many",
                "negative",
                "huge",
                "weird",
                "drop",
                "text",
                "empty",
                "dup",
                "enum",
                "rpt",
                "garble",
            ]
        )
        where = [i for i, (tag, _) in enumerate(f) if tag in ("270", "271", "83", "34", "268", "269", "279")]
        if kind == "count":
            for i in [i for i, (tag, _) in enumerate(f) if tag == "268"]:
                f[i] = ("268", rng.choice(["0", "1000000", str(2**63), "-1", "abc", "9" * 30]))
        elif kind == "many" and ("35", "X") in f:
            n = rng.randint(513, 1500)
            extra = [
                x
                for k in range(n)
                for x in (
                    ("279", "0"),
                    ("269", "0"),
                    ("55", "ACME"),
                    ("270", self.px()),
                    ("271", "1"),
                    ("83", str(k)),
                )
            ]
            f = [*f[:5], ("268", str(n)), *extra, ("10", "000")]
        elif kind in ("negative", "huge", "weird") and where:
            for i in rng.sample(where, k=min(len(where), rng.randint(1, 3))):
                tag, value = f[i]
                if kind == "negative":
                    f[i] = (tag, "-" + value)
                elif kind == "huge":
                    f[i] = (tag, str(rng.choice([2**63 - 1, 2**63, 10**18, 10**19, 10**40, 10**320])))
                else:
                    f[i] = (tag, rng.choice(WEIRD_NUMBERS))
        elif kind == "drop" and len(f) > 3:
            del f[rng.randrange(2, len(f) - 1)]
        elif kind == "text":
            for i in [i for i, (tag, _) in enumerate(f) if tag == "55"][:2]:
                f[i] = ("55", rng.choice(WEIRD_SYMBOLS))
            f.insert(len(f) - 1, ("58", "caf\u00e9 \u682a"))
        elif kind == "empty":
            i = rng.randrange(2, len(f) - 1)
            f[i] = (f[i][0], "")
        elif kind == "dup":
            i = rng.randrange(1, len(f) - 1)
            f.insert(i, f[i])
        elif kind == "enum":
            for i in [i for i, (tag, _) in enumerate(f) if tag in ("269", "279")][:2]:
                f[i] = (f[i][0], rng.choice(["3", "4", "9", "99", "B", str(2**40)]))
        elif kind == "rpt":
            for i in [i for i, (tag, _) in enumerate(f) if tag == "83"][:2]:
                f[i] = ("83", str(rng.choice([0, 1, 10**6, 2**62, 10**19, 10**30])))
        raw = SOH.join(f"{tag}={value}" for tag, value in f) + SOH
        if kind == "garble":
            pos = rng.randrange(len(raw))
            raw = raw[:pos] + rng.choice(["\x01", "=", "\x01\x01", "=\x01", "x"]) + raw[pos + 1 :]
        return raw


def _rows(message) -> list[tuple[int, int, int, int, int]]:
    return [(e.action, e.entry_type, e.px_e8, e.size, e.rpt_seq) for e in message.body.entries]


def _books(market: MarketState) -> dict[str, tuple[object, ...]]:
    return {
        symbol: (dict(book.bids), dict(book.asks), book.rpt_seq, book.in_gap, book.epoch)
        for symbol, book in market.books.items()
        if book.has_snapshot
    }


@pytest.mark.parametrize("stream", range(STREAMS))
def test_hostile_market_data_never_breaks_the_decoders_or_the_book(stream: int) -> None:
    generator = Generator(SEED + stream)
    fast = FastDecoder()
    symbols = ["ACME", "BOLT"]
    live = MarketState(max_md_age_ms=0, stale_after_ms=0, symbols=frozenset(symbols))
    replay = MarketState(max_md_age_ms=0, stale_after_ms=0, symbols=frozenset(symbols))
    rpt = 1
    for seq in range(2, 2 + MESSAGES_PER_STREAM):
        fields = generator.message(
            "W" if seq == 2 or generator.rng.random() < 0.15 else "X", seq, rpt, symbols
        )
        rpt += 10
        raw = (
            generator.mutate(fields)
            if generator.rng.random() < 0.7
            else SOH.join(f"{t}={v}" for t, v in fields) + SOH
        )

        fast_message = fast.decode(raw)  # None: the reference decoder decides
        try:
            reference = decode_raw(raw)
        except MarketDataError:
            reference = None
        if fast_message is not None:
            assert reference is not None, raw[:200]
            fast_rows = [tuple(row[:5]) for row in fast_message.rows]
            assert fast_rows == _rows(reference) if reference.msg_type == "X" or fast_rows else True, raw[
                :200
            ]
            live.apply_rows(
                fast_message.msg_type,
                fast_message.msg_seq_num,
                fast_message.sending_time_ns,
                fast_message.snapshot_symbol,
                fast_message.snapshot_rpt_seq,
                fast_message.rows,
                fast_message.symbols,
                seq,
            )
        elif reference is not None:
            live.apply(reference, seq)
        if reference is not None:
            replay.apply(reference, seq)

        assert _books(live) == _books(replay), raw[:200]
        assert set(live.books) <= set(symbols)
        for book in live.books.values():
            for side in (book.bids, book.asks):
                for px_e8, size in side.items():
                    assert 0 < px_e8 <= MAX_ABS_PRICE_E8 and 0 < size <= MAX_ENTRY_SIZE
                    assert math.isfinite(px_e8 / PX_SCALE) and math.isfinite(float(size))
