"""The order state table, walked row by row, and the FIX 4.4 matrices it encodes."""

from __future__ import annotations

import pytest

from gateway.domain.fix_values import ExecType, OrdStatus, is_final
from gateway.domain.order_states import HELD_BY_PENDING_REQUEST, ORDER_STATE_TABLE, apply_execution

ROWS = [
    (current, exec_type, reported, resulting)
    for (current, exec_type), outcomes in ORDER_STATE_TABLE.items()
    for reported, resulting in outcomes.items()
]


@pytest.mark.parametrize(("current", "exec_type", "reported", "resulting"), ROWS)
def test_every_table_entry_applies_as_written(current, exec_type, reported, resulting):
    transition = apply_execution(current, exec_type, reported)

    assert transition.fits
    assert transition.status is resulting
    held = (current, exec_type, reported) in HELD_BY_PENDING_REQUEST
    assert transition.late == (resulting is not reported and not held)
    assert transition.reason == ""


def test_table_never_leaves_a_final_state_except_by_bust_or_correction():
    for (current, exec_type), outcomes in ORDER_STATE_TABLE.items():
        if not is_final(current) or exec_type in (ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT):
            continue
        assert set(outcomes.values()) == {current}, (current, exec_type)


def test_every_non_final_state_can_be_cancelled_or_reach_a_final_state():
    for status in OrdStatus:
        if is_final(status) or not any(key[0] is status for key in ORDER_STATE_TABLE):
            continue
        reachable = {
            resulting
            for (current, _), outcomes in ORDER_STATE_TABLE.items()
            if current is status
            for resulting in outcomes.values()
        }
        assert any(is_final(s) for s in reachable), status


def test_a_1_a_filled_order_new_then_partial_then_fill():
    status = OrdStatus.PENDING_NEW
    for exec_type, reported in [
        (ExecType.NEW, OrdStatus.NEW),
        (ExecType.TRADE, OrdStatus.PARTIALLY_FILLED),
        (ExecType.TRADE, OrdStatus.FILLED),
    ]:
        transition = apply_execution(status, exec_type, reported)
        assert transition.fits
        status = transition.status
    assert status is OrdStatus.FILLED


def test_late_new_after_partial_fill_does_not_move_order_backwards():
    transition = apply_execution(OrdStatus.PARTIALLY_FILLED, ExecType.NEW, OrdStatus.NEW)

    assert transition.fits and transition.late
    assert transition.status is OrdStatus.PARTIALLY_FILLED


def test_fill_after_cancel_is_a_misfit_naming_the_state():
    transition = apply_execution(OrdStatus.CANCELED, ExecType.TRADE, OrdStatus.FILLED)

    assert not transition.fits
    assert transition.status is OrdStatus.CANCELED  # a final order keeps its state
    assert "CANCELED" in transition.reason and "OrdStatus(39)=2" in transition.reason


def test_unlisted_pair_in_live_state_adopts_the_venue_status():
    transition = apply_execution(OrdStatus.NEW, ExecType.SUSPENDED, OrdStatus.SUSPENDED)

    assert not transition.fits
    assert transition.status is OrdStatus.SUSPENDED
    assert "ExecType(150)=9" in transition.reason
