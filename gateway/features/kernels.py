"""Feature kernels compiled with numba: one definition used online (in the FIX callback) and
offline (`fixgw features build`).

A symbol's feature state is one float64 array (`new_state()`): a few scalars followed by ring
buffers of mids and signed trade volume, one slot per decision step. `step()` pushes the book's
top and the trade flow seen since the previous step, then writes the feature vector into `out`.
It reads only its arguments and the state built from earlier steps, so a feature at decision
time t uses only data received at or before t. No fastmath: the offline rebuild must match the
online values bit for bit, and reassociated sums would not.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

import numpy as np
import numpy.typing as npt
from numba import njit

FEATURE_SCHEMA_VERSION: Final = 1
RING: Final = 64  # steps kept per symbol
RETURN_HORIZONS: Final = (1, 8, 32)  # steps
RVOL_WINDOW: Final = 32  # steps of one-step returns
FLOW_WINDOW: Final = 16  # steps of trade volume
EMA_FAST_ALPHA: Final = 0.2
EMA_SLOW_ALPHA: Final = 0.02

FEATURE_NAMES: Final = (
    "mid",  # price units
    "microprice",  # size-weighted mid, price units
    "spread_bps",
    "book_imbalance",  # (bid size - ask size) / (bid size + ask size) at the touch
    "microprice_dev_bps",
    "ret_1_bps",  # log return of the mid over 1, 8 and 32 steps
    "ret_8_bps",
    "ret_32_bps",
    "rvol_32_bps",  # realized volatility: root of the sum of squared one-step returns
    "trade_flow_imbalance_16",  # (buy - sell) / (buy + sell) volume over 16 steps
    "ema_fast_dev_bps",  # mid vs EMA(alpha 0.2) of the mid
    "ema_slow_dev_bps",  # mid vs EMA(alpha 0.02)
    "position_frac",  # own position / max position
    "pnl_bps",  # own realized + unrealized PnL / (max position * mid)
)
N_FEATURES: Final = len(FEATURE_NAMES)
# Raw price levels differ per symbol and say nothing about direction: models see the rest.
MODEL_INPUT_NAMES: Final = tuple(name for name in FEATURE_NAMES if name not in ("mid", "microprice"))
MODEL_INPUT_INDEX: Final = np.array([FEATURE_NAMES.index(name) for name in MODEL_INPUT_NAMES], dtype=np.int64)
# The model inputs are the vector's tail: a slice (a view) is cheaper than fancy indexing.
MODEL_INPUT_SLICE: Final = slice(2, len(FEATURE_NAMES))
assert FEATURE_NAMES[MODEL_INPUT_SLICE] == MODEL_INPUT_NAMES
MODEL_N_INPUTS: Final = len(MODEL_INPUT_NAMES)

# State layout
_S_COUNT: Final = 0
_S_HEAD: Final = 1
_S_EMA_FAST: Final = 2
_S_EMA_SLOW: Final = 3
_S_MIDS: Final = 8
_S_BUY: Final = _S_MIDS + RING
_S_SELL: Final = _S_BUY + RING
STATE_SIZE: Final = _S_SELL + RING


def feature_schema() -> dict[str, object]:
    return {
        "version": FEATURE_SCHEMA_VERSION,
        "features": list(FEATURE_NAMES),
        "model_inputs": list(MODEL_INPUT_NAMES),
        "ring": RING,
        "return_horizons_steps": list(RETURN_HORIZONS),
        "rvol_window_steps": RVOL_WINDOW,
        "flow_window_steps": FLOW_WINDOW,
        "ema_alphas": [EMA_FAST_ALPHA, EMA_SLOW_ALPHA],
    }


def feature_schema_hash() -> str:
    """sha256 of the schema's canonical JSON: a model trained on another schema is refused."""
    canonical = json.dumps(feature_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_state() -> npt.NDArray[np.float64]:
    return np.zeros(STATE_SIZE, dtype=np.float64)


@njit(cache=True)
def _ring_back(state: npt.NDArray[np.float64], base: int, head: int, back: int) -> float:
    # Value `back` steps before the newest (back=0 is the newest).
    return float(state[base + (head - back) % RING])


@njit(cache=True)
def step(
    state: npt.NDArray[np.float64],
    bid: float,
    ask: float,
    bid_size: float,
    ask_size: float,
    buy_volume: float,
    sell_volume: float,
    position_qty: float,
    avg_cost: float,
    realized_pnl: float,
    max_position: float,
    out: npt.NDArray[np.float64],
) -> None:
    mid = (bid + ask) * 0.5
    size_sum = bid_size + ask_size
    if size_sum > 0.0:
        microprice = (bid * ask_size + ask * bid_size) / size_sum
        imbalance = (bid_size - ask_size) / size_sum
    else:
        microprice = mid
        imbalance = 0.0

    count = int(state[_S_COUNT]) + 1
    head = (int(state[_S_HEAD]) + 1) % RING if count > 1 else 0
    state[_S_COUNT] = count
    state[_S_HEAD] = head
    state[_S_MIDS + head] = mid
    state[_S_BUY + head] = buy_volume
    state[_S_SELL + head] = sell_volume

    if count == 1:
        state[_S_EMA_FAST] = mid
        state[_S_EMA_SLOW] = mid
    else:
        state[_S_EMA_FAST] += EMA_FAST_ALPHA * (mid - state[_S_EMA_FAST])
        state[_S_EMA_SLOW] += EMA_SLOW_ALPHA * (mid - state[_S_EMA_SLOW])

    out[0] = mid
    out[1] = microprice
    out[2] = (ask - bid) / mid * 1e4
    out[3] = imbalance
    out[4] = (microprice - mid) / mid * 1e4
    for k in range(3):
        horizon = RETURN_HORIZONS[k]
        if count > horizon:
            out[5 + k] = np.log(mid / _ring_back(state, _S_MIDS, head, horizon)) * 1e4
        else:
            out[5 + k] = 0.0

    n_returns = min(count - 1, RVOL_WINDOW)
    squares = 0.0
    for back in range(n_returns):
        r = np.log(_ring_back(state, _S_MIDS, head, back) / _ring_back(state, _S_MIDS, head, back + 1))
        squares += r * r
    out[8] = np.sqrt(squares) * 1e4

    n_flow = min(count, FLOW_WINDOW)
    buys = 0.0
    sells = 0.0
    for back in range(n_flow):
        buys += _ring_back(state, _S_BUY, head, back)
        sells += _ring_back(state, _S_SELL, head, back)
    out[9] = (buys - sells) / (buys + sells) if buys + sells > 0.0 else 0.0

    out[10] = (mid - state[_S_EMA_FAST]) / mid * 1e4
    out[11] = (mid - state[_S_EMA_SLOW]) / mid * 1e4
    out[12] = position_qty / max_position if max_position > 0.0 else 0.0
    pnl = realized_pnl + position_qty * (mid - avg_cost)
    out[13] = pnl / (max_position * mid) * 1e4 if max_position > 0.0 else 0.0


# Columns of `step_many`'s inputs, one row per symbol decided on
IN_ROW: Final = 0  # the symbol's row in the state table
IN_BID, IN_ASK, IN_BID_SIZE, IN_ASK_SIZE, IN_BUY, IN_SELL = 1, 2, 3, 4, 5, 6
IN_POSITION, IN_AVG_COST, IN_REALIZED, IN_MAX_POSITION = 7, 8, 9, 10
N_STEP_INPUTS: Final = 11


@njit(cache=True)
def step_many(
    states: npt.NDArray[np.float64],
    inputs: npt.NDArray[np.float64],
    count: int,
    outs: npt.NDArray[np.float64],
    model_inputs: npt.NDArray[np.float32],
    low: npt.NDArray[np.float32],
    high: npt.NDArray[np.float32],
) -> int:
    """`step` for the first `count` rows of `inputs` in one call from Python (one dispatch
    instead of one per symbol), writing each feature vector to `outs[i]` and its model inputs
    (the vector's tail, as float32) to `model_inputs[i]`. The same `step` runs, so the values
    are the same bits as calling it row by row. Returns the first row with a model input that
    is not finite or outside [low, high] (the input guard, in the same dispatch), or -1."""
    first_input = N_FEATURES - MODEL_N_INPUTS
    first_bad = -1
    for i in range(count):
        row = inputs[i]
        out = outs[i]
        step(
            states[int(row[0])],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            row[10],
            out,
        )
        for k in range(MODEL_N_INPUTS):
            value = np.float32(out[first_input + k])
            model_inputs[i, k] = value
            if first_bad < 0 and (not np.isfinite(value) or value < low[k] or value > high[k]):
                first_bad = i
    return first_bad


def warm() -> None:
    """Compile (or load from numba's cache) every kernel, so the first live tick pays nothing."""
    state = new_state()
    out = np.zeros(N_FEATURES, dtype=np.float64)
    for i in range(3):
        step(state, 100.0, 100.02 + i * 0.01, 5.0, 7.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, out)
    states = np.zeros((2, STATE_SIZE), dtype=np.float64)
    inputs = np.zeros((2, N_STEP_INPUTS), dtype=np.float64)
    inputs[:, IN_BID] = 100.0
    inputs[:, IN_ASK] = 100.02
    inputs[1, IN_ROW] = 1
    unbounded = np.full(MODEL_N_INPUTS, np.inf, dtype=np.float32)
    model_inputs = np.zeros((2, MODEL_N_INPUTS), dtype=np.float32)
    step_many(states, inputs, 2, np.zeros((2, N_FEATURES)), model_inputs, -unbounded, unbounded)
