"""Order state changes written out from the FIX 4.4 matrices (Volume 4, Appendix D), not read back
from the table: a fill racing a cancel, a bust of the only fill, an unsolicited cancel during a
replace."""

from __future__ import annotations

from gateway.domain.fix_values import ExecType, OrdStatus
from gateway.domain.order_states import apply_execution


def test_b_1_c_partial_fill_while_cancel_pending_keeps_the_order_pending_cancel() -> None:
    # Arrange: a cancel was requested and acknowledged as PendingCancel
    current = OrdStatus.PENDING_CANCEL

    # Act: a fill that beat the cancel arrives, reported PartiallyFilled
    transition = apply_execution(current, ExecType.TRADE, OrdStatus.PARTIALLY_FILLED)

    # Assert: the cancel is still in flight, and the fill is current, not late
    assert transition.fits
    assert transition.status is OrdStatus.PENDING_CANCEL
    assert not transition.late


def test_d_2_bust_of_the_only_fill_returns_a_partially_filled_order_to_new() -> None:
    # Arrange
    current = OrdStatus.PARTIALLY_FILLED

    # Act: TradeCancel(150=H) of its only fill, the venue reporting it New again
    transition = apply_execution(current, ExecType.TRADE_CANCEL, OrdStatus.NEW)

    # Assert
    assert transition.fits, transition.reason
    assert transition.status is OrdStatus.NEW
    assert not transition.late


def test_e_1_unsolicited_cancel_during_a_pending_replace_ends_the_order_canceled() -> None:
    # Arrange: a replace was requested and is pending at the venue
    current = OrdStatus.PENDING_REPLACE

    # Act: the venue cancels the order on its own
    transition = apply_execution(current, ExecType.CANCELED, OrdStatus.CANCELED)

    # Assert: an expected report, not a misfit
    assert transition.fits, transition.reason
    assert transition.status is OrdStatus.CANCELED
