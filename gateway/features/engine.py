"""Per-symbol feature state driven by the book: the same object computes features online (in
the decision sink) and offline (replaying a tick log), so both give the same bits.

Takes a `SymbolBook` with a two-sided top and the own-position inputs as exact integers; gives
the feature vector (float64, `kernels.FEATURE_NAMES` order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.features import kernels
from gateway.marketdata.book import SymbolBook
from gateway.marketdata.events import PX_SCALE


class FeatureEngine:
    def __init__(self) -> None:
        self._states: dict[str, npt.NDArray[np.float64]] = {}
        self._outs: dict[str, npt.NDArray[np.float64]] = {}

    def compute(
        self,
        book: SymbolBook,
        *,
        position_qty: int,
        avg_cost_e8: int,
        realized_pnl_e8: int,
        max_position: int,
    ) -> npt.NDArray[np.float64] | None:
        """Step the symbol's features. None (and no step) when the book has no two-sided top.

        The returned array is reused by the next call for the same symbol: copy it to keep it.
        """
        top = book.top()
        if top is None:
            return None
        state = self._states.get(book.symbol)
        if state is None:
            state = self._states[book.symbol] = kernels.new_state()
            self._outs[book.symbol] = np.zeros(kernels.N_FEATURES, dtype=np.float64)
        out = self._outs[book.symbol]
        bid_e8, bid_size, ask_e8, ask_size = top
        buy_volume, sell_volume = book.take_trade_flow()
        kernels.step(
            state,
            bid_e8 / PX_SCALE,
            ask_e8 / PX_SCALE,
            float(bid_size),
            float(ask_size),
            float(buy_volume),
            float(sell_volume),
            float(position_qty),
            avg_cost_e8 / PX_SCALE,
            realized_pnl_e8 / PX_SCALE,
            float(max_position),
            out,
        )
        return out
