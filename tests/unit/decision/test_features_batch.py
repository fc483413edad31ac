"""The sink steps every symbol of a decision in one compiled call (`step_many`); replay steps
them one by one (`FeatureEngine.compute`). Both must give the same bits."""

from __future__ import annotations

import numpy as np

from gateway.features import kernels
from gateway.features.engine import FeatureEngine
from gateway.marketdata.book import SymbolBook
from gateway.marketdata.events import PX_SCALE


def test_step_many_gives_the_same_bits_as_stepping_each_symbol() -> None:
    rng = np.random.default_rng(3)
    symbols = ("ACME", "BOLT", "CRUX", "DUNE", "EPIC")  # more than the table's first size
    one_by_one = FeatureEngine()
    batched = FeatureEngine()
    inputs = np.zeros((len(symbols), kernels.N_STEP_INPUTS))
    outs = np.zeros((len(symbols), kernels.N_FEATURES))
    model_inputs = np.zeros((len(symbols), kernels.MODEL_N_INPUTS), dtype=np.float32)
    for _ in range(200):
        chosen = [s for s in symbols if rng.random() < 0.7]
        expected = []
        for i, symbol in enumerate(chosen):
            bid_e8 = int(rng.integers(9_900, 10_000)) * 1_000_000
            ask_e8 = bid_e8 + int(rng.integers(1, 5)) * 1_000_000
            bid_size, ask_size = int(rng.integers(1, 900)), int(rng.integers(1, 900))
            buy, sell = int(rng.integers(0, 50)), int(rng.integers(0, 50))
            qty, avg_e8, realized_e8 = (
                int(rng.integers(-500, 500)),
                bid_e8 + 12_345,
                int(rng.integers(-(10**9), 10**9)),
            )
            book = SymbolBook(symbol, bids={bid_e8: bid_size}, asks={ask_e8: ask_size}, buy_volume=buy,
                              sell_volume=sell)  # fmt: skip
            vector = one_by_one.compute(
                book, position_qty=qty, avg_cost_e8=avg_e8, realized_pnl_e8=realized_e8, max_position=500
            )
            assert vector is not None
            expected.append(vector.copy())
            inputs[i] = (batched.row_of(symbol), bid_e8 / PX_SCALE, ask_e8 / PX_SCALE, float(bid_size),
                         float(ask_size), float(buy), float(sell), float(qty), avg_e8 / PX_SCALE,
                         realized_e8 / PX_SCALE, 500.0)  # fmt: skip
        assert batched.step_many(inputs, len(chosen), outs, model_inputs) == -1
        for i, vector in enumerate(expected):
            assert np.array_equal(outs[i].view(np.uint64), vector.view(np.uint64))
            tail = vector[kernels.MODEL_INPUT_SLICE].astype(np.float32)
            assert np.array_equal(model_inputs[i].view(np.uint32), tail.view(np.uint32))
