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

# the bounds of a model that recorded no input ranges: only non-finite inputs are refused
UNBOUNDED_HIGH = np.full(kernels.MODEL_N_INPUTS, np.inf, dtype=np.float32)
UNBOUNDED_LOW = -UNBOUNDED_HIGH


class FeatureEngine:
    """Feature state of every symbol, one row each of a state table (`kernels.new_state()`
    layout), so that a decision on several symbols steps them all in one compiled call."""

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}
        self._epochs: dict[str, int] = {}  # the book epoch each symbol's state belongs to
        self._states: npt.NDArray[np.float64] = np.zeros((4, kernels.STATE_SIZE), dtype=np.float64)
        self._outs: dict[str, npt.NDArray[np.float64]] = {}

    def row_of(self, symbol: str) -> int:
        """The symbol's row in the state table (a fresh state on first use)."""
        row = self._rows.get(symbol)
        if row is None:
            row = self._rows[symbol] = len(self._rows)
            if row >= len(self._states):
                grown = np.zeros((2 * len(self._states), kernels.STATE_SIZE), dtype=np.float64)
                grown[: len(self._states)] = self._states
                self._states = grown
        return row

    def row_for(self, book: SymbolBook) -> int:
        """The symbol's row, started over when the book began a new epoch (a snapshot after a
        gap, a session drop or a stale feed): returns over the outage would span it as one step."""
        return self.row_and_restart(book)[0]

    def row_and_restart(self, book: SymbolBook) -> tuple[int, bool]:
        """`row_for`, and whether the series started over just now (the decision path's warm-up
        counts from there)."""
        row = self.row_of(book.symbol)
        if self._epochs.get(book.symbol, 0) == book.epoch:
            return row, False
        self._epochs[book.symbol] = book.epoch
        self._states[row] = 0.0
        return row, True

    def steps(self, row: int) -> int:
        """Steps taken in the row's current series."""
        return int(self._states[row, 0])

    def step_many(
        self,
        inputs: npt.NDArray[np.float64],
        count: int,
        outs: npt.NDArray[np.float64],
        model_inputs: npt.NDArray[np.float32],
        low: npt.NDArray[np.float32] = UNBOUNDED_LOW,
        high: npt.NDArray[np.float32] = UNBOUNDED_HIGH,
    ) -> int:
        """Step the first `count` rows of `inputs` (`kernels.IN_*` columns; `IN_ROW` from
        `row_of`): the same values as `compute` on each symbol in turn, in one call. Returns the
        first row whose model inputs are not finite or outside [low, high], or -1."""
        first_bad: int = kernels.step_many(self._states, inputs, count, outs, model_inputs, low, high)
        return first_bad

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
        row = self.row_for(book)
        out = self._outs.get(book.symbol)
        if out is None:
            out = self._outs[book.symbol] = np.zeros(kernels.N_FEATURES, dtype=np.float64)
        bid_e8, bid_size, ask_e8, ask_size = top
        buy_volume, sell_volume = book.take_trade_flow()
        kernels.step(
            self._states[row],
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
