"""Offline feature rebuild: replay a tick log through the same codec, book and kernels as the
live sink, and give the feature vector of every recorded decision.

Takes a tick log (gateway.marketdata.ticklog); gives `ReplayedDecision`s in decision order. The
book's content depends only on the messages, and each DECISION record carries the own-position
inputs the live decision used, so the rebuilt features equal the stored ones bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.features.engine import FeatureEngine
from gateway.marketdata.book import MarketState
from gateway.marketdata.decoder import decode_raw
from gateway.marketdata.events import MarketDataError
from gateway.marketdata.ticklog import DecisionRecord, MessageRecord, read_ticklog


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayedDecision:
    decision_no: int
    symbol: str
    recv_ns: int
    mid_e8: int
    features: npt.NDArray[np.float64]


class ReplayError(Exception):
    """The tick log does not replay: a decision on a book that has no two-sided top."""


def replay_features(ticklog: Path) -> Iterator[ReplayedDecision]:
    # Staleness limits only decide usability, never book content: replay needs none.
    market = MarketState(max_md_age_ms=0, stale_after_ms=0)
    engine = FeatureEngine()
    for record in read_ticklog(ticklog):
        if isinstance(record, MessageRecord):
            try:
                message = decode_raw(record.raw)
            except MarketDataError:
                continue  # the live sink skipped it the same way
            market.apply(message, record.recv_ns)
        elif isinstance(record, DecisionRecord):
            book = market.book(record.symbol)
            vector = engine.compute(
                book,
                position_qty=record.position_qty,
                avg_cost_e8=record.avg_cost_e8,
                realized_pnl_e8=record.realized_pnl_e8,
                max_position=record.max_position,
            )
            if vector is None:
                raise ReplayError(f"decision {record.decision_no} on {record.symbol}: no two-sided book")
            yield ReplayedDecision(
                decision_no=record.decision_no,
                symbol=record.symbol,
                recv_ns=record.recv_ns,
                mid_e8=book.mid_e8() or 0,
                features=vector.copy(),
            )
