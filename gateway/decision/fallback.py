"""Safe fallback: why the model was not followed, and what target replaces its output.

Causes (the `reason` recorded in fallback_events and decisions.fallback_reason):
inference_error, budget_overrun, nan_output, output_out_of_range, feature_schema_mismatch,
stale_market_data (also sequence_gap, session_down, no_snapshot), model_missing, model_corrupt,
kill_switch, invalid_input (a feature NaN or infinite, or outside the range the model was trained
on), features_warming_up (the book restarted: the feature series is too short to trust yet),
feature_store_unwritable (the decision record cannot be kept: the decision is not taken).
"""

from __future__ import annotations

from typing import Final

INFERENCE_ERROR: Final = "inference_error"
BUDGET_OVERRUN: Final = "budget_overrun"
NAN_OUTPUT: Final = "nan_output"
OUTPUT_OUT_OF_RANGE: Final = "output_out_of_range"
FEATURE_SCHEMA_MISMATCH: Final = "feature_schema_mismatch"
MODEL_MISSING: Final = "model_missing"
INVALID_INPUT: Final = "invalid_input"
FEATURES_WARMING_UP: Final = "features_warming_up"
STORE_UNWRITABLE: Final = "feature_store_unwritable"


def safe_target_qty(policy: str, *, position_qty: int, lot_size: int, reduce_step_lots: int) -> int:
    """flat: 0. hold: the current position. reduce_only: one step toward 0, never past it."""
    if policy == "flat":
        return 0
    if policy == "hold":
        return position_qty
    step = reduce_step_lots * lot_size
    if position_qty > 0:
        return max(0, position_qty - step)
    if position_qty < 0:
        return min(0, position_qty + step)
    return 0


def target_from_output(
    output_bps: float, *, full_position_bps: float, max_position_lots: int, lot_size: int
) -> int:
    """Model output (predicted forward return, bps) -> target quantity, a whole number of lots."""
    lots = round(output_bps / full_position_bps * max_position_lots)
    lots = max(-max_position_lots, min(max_position_lots, lots))
    return int(lots) * lot_size
