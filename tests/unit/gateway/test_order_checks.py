"""Every order-changing command goes through the same checks (a replace is an order too), and an
order that moves the position toward zero is always allowed, however far over its limit the
position is."""

from __future__ import annotations

from decimal import Decimal

from gateway.config import LimitsSection
from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from tests.unit.gateway.factories import make_oms, present, report

TIGHT = LimitsSection(max_position_qty=15, max_order_qty=100)


def _working(oms, qty: int, side: str = "1") -> str:
    result = oms.submit(symbol="ACME", side=side, qty=qty, ord_type="2", price=Decimal("100"))
    assert result.accepted, result.reason
    cl = present(result.cl_ord_id)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=qty))
    return cl


def _long(tmp_path, qty: int, limits: LimitsSection):
    """A long position of `qty` on a ledger, then an order manager on it with `limits` (as after
    a restart with a lowered limit)."""
    oms, ledger, _ = make_oms(tmp_path, limits=LimitsSection(max_position_qty=qty, max_order_qty=qty))
    cl = _working(oms, qty)
    oms.on_execution_report(report(cl, E.TRADE, S.FILLED, last_qty=qty, last_px="100", cum_qty=qty))
    return make_oms(tmp_path, ledger=ledger, limits=limits)


def test_replace_beyond_the_position_limit_is_refused_like_a_new_order(tmp_path):
    oms, _, sender = make_oms(tmp_path, limits=TIGHT)
    cl = _working(oms, 10)

    new_order = oms.submit(symbol="ACME", side="1", qty=50, ord_type="2", price=Decimal("100"))
    replaced = oms.replace(cl, qty=50)

    assert not new_order.accepted and not replaced.accepted
    assert "max_position_qty" in replaced.reason
    assert sender.of_type("G") == []


def test_replace_within_the_limit_counts_only_the_new_remaining_quantity(tmp_path):
    oms, _, sender = make_oms(tmp_path, limits=TIGHT)
    cl = _working(oms, 10)

    assert oms.replace(cl, qty=15).accepted
    assert sender.of_type("G")[0][38] == "15"


def test_replace_beyond_max_order_qty_is_refused(tmp_path):
    oms, _, _ = make_oms(tmp_path, limits=LimitsSection(max_order_qty=20))
    cl = _working(oms, 10)

    assert "max_order_qty" in oms.replace(cl, qty=21).reason


def test_replace_while_halted_is_refused_and_cancel_still_goes(tmp_path):
    oms, _, sender = make_oms(tmp_path)
    cl = _working(oms, 10)
    oms.halt("kill switch")

    replaced = oms.replace(cl, qty=1000)
    cancelled = oms.cancel(cl)

    assert not replaced.accepted and "halted" in replaced.reason
    assert cancelled.accepted
    assert sender.of_type("G") == [] and len(sender.of_type("F")) == 1


def test_a_position_over_its_limit_can_be_reduced_in_steps(tmp_path):
    oms, _, _ = _long(tmp_path, 30, LimitsSection(max_position_qty=15, max_order_qty=10))

    steps = [oms.submit(symbol="ACME", side="2", qty=5, ord_type="2", price=Decimal("100")) for _ in range(3)]

    assert all(step.accepted for step in steps), [s.reason for s in steps]


def test_a_position_over_its_limit_may_not_grow(tmp_path):
    oms, _, _ = _long(tmp_path, 30, LimitsSection(max_position_qty=15, max_order_qty=10))

    bigger = oms.submit(symbol="ACME", side="1", qty=1, ord_type="2", price=Decimal("100"))

    assert not bigger.accepted and "max_position_qty" in bigger.reason


def test_reducing_orders_may_not_overshoot_past_the_limit_on_the_other_side(tmp_path):
    oms, _, _ = _long(tmp_path, 30, LimitsSection(max_position_qty=15, max_order_qty=100))

    flip_within = oms.submit(symbol="ACME", side="2", qty=45, ord_type="2", price=Decimal("100"))
    flip_beyond = oms.submit(symbol="ACME", side="2", qty=1, ord_type="2", price=Decimal("100"))

    assert flip_within.accepted  # 30 - 45 = -15: at the limit
    assert not flip_beyond.accepted  # working sells 45 + 1 would reach -16
