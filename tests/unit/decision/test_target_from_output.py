"""Model output (bps) -> target quantity: rounded to the nearest lot, not truncated toward zero."""

from __future__ import annotations

import pytest

from gateway.decision.fallback import target_from_output


@pytest.mark.parametrize(("output_bps", "expected_qty"), [(13.0, 300), (-13.0, -300), (11.0, 200)])
def test_target_is_rounded_to_the_nearest_lot(output_bps: float, expected_qty: int) -> None:
    # Act: 13 bps of a 50 bps full position on 10 lots is 2.6 lots
    qty = target_from_output(output_bps, full_position_bps=50.0, max_position_lots=10, lot_size=100)

    # Assert
    assert qty == expected_qty
