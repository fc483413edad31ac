"""A report whose CumQty(14) exceeds the fills booked for its order (a fill made while its report
was lost: after a logout, a sequence reset) books the difference as an inferred fill, at the
price AvgPx(6) implies, marked, with the report as evidence; the real fill, if it comes later,
replaces the inference instead of adding to it."""

from __future__ import annotations

from decimal import Decimal

from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from gateway.domain.fix_values import Side
from tests.unit.gateway.factories import SESSION, make_oms, present, report


def _working(oms, qty: int = 100, price: str = "50") -> str:
    cl = present(oms.submit(symbol="ACME", side="2", qty=qty, ord_type="2", price=Decimal(price)).cl_ord_id)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=qty, side=Side.SELL))
    return cl


def _inferred_rows(ledger):
    return ledger._db.execute(
        "SELECT last_qty, last_px, inferred, evidence_report_id, superseded_by FROM fills WHERE inferred = 1"
    ).fetchall()


def test_a_status_reply_saying_filled_books_the_missing_fill_as_inferred(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = _working(oms)
    # the venue filled the order after the logout; the report died with the sequence reset
    restarted, _, _ = make_oms(tmp_path, ledger=ledger)
    restarted.on_session_logon(SESSION)

    restarted.on_execution_report(
        report(cl, E.ORDER_STATUS, S.FILLED, exec_id="0", cum_qty=100, avg_px="50.25")
    )

    ((qty, px, inferred, evidence, superseded),) = _inferred_rows(ledger)
    assert (qty, Decimal(px), inferred, superseded) == (100, Decimal("50.25"), 1, None)
    assert ledger._db.execute(
        "SELECT ord_status FROM execution_reports WHERE id=?", (evidence,)
    ).fetchone() == ("2",)
    assert restarted.position("ACME").qty == -100
    assert present(restarted.order(cl)).status is S.FILLED
    kinds = [r[0] for r in ledger._db.execute("SELECT kind FROM anomalies")]
    assert kinds == ["inferred_fill"]


def test_the_inferred_price_is_what_avg_px_implies_beyond_the_booked_fills(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = _working(oms)
    oms.on_execution_report(
        report(
            cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=40, last_px="50", cum_qty=40, leaves_qty=60, avg_px="50"
        )
    )

    # 40 booked at 50; the venue says 100 at an average of 51.2: 60 more at 52
    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.FILLED, exec_id="0", cum_qty=100, avg_px="51.2"))

    ((qty, px, *_),) = _inferred_rows(ledger)
    assert (qty, Decimal(px)) == (60, Decimal("52"))
    position = oms.positions()["ACME"]
    assert position.qty == -100 and position.avg_cost == Decimal("51.2")


def test_the_real_fill_arriving_later_replaces_the_inference(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = _working(oms)
    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.FILLED, exec_id="0", cum_qty=100, avg_px="50"))
    assert oms.position("ACME").qty == -100

    # the real report after all (a drop copy, a late resend): it must not count twice
    late = oms.on_execution_report(
        report(cl, E.TRADE, S.FILLED, exec_id="T7", last_qty=100, last_px="50", cum_qty=100)
    )

    assert late.fill_recorded
    assert oms.position("ACME").qty == -100
    ((qty, _, _, _, superseded),) = _inferred_rows(ledger)
    assert (qty, superseded) == (0, "T7")
    # and after a restart the ledger still says -100
    restarted, _, _ = make_oms(tmp_path, ledger=ledger)
    assert restarted.position("ACME").qty == -100


def test_real_fills_replace_an_inference_piece_by_piece(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = _working(oms)
    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.FILLED, exec_id="0", cum_qty=100, avg_px="50"))

    for n, (qty, cum) in enumerate([(30, 30), (70, 100)]):
        oms.on_execution_report(
            report(cl, E.TRADE, S.FILLED, exec_id=f"R{n}", last_qty=qty, last_px="50", cum_qty=cum)
        )

    assert oms.position("ACME").qty == -100
    assert [r[0] for r in _inferred_rows(ledger)] == [0]


def test_a_status_reply_that_matches_the_booked_fills_infers_nothing(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = _working(oms)
    oms.on_execution_report(
        report(cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=40, last_px="50", cum_qty=40, leaves_qty=60)
    )

    oms.on_execution_report(
        report(cl, E.ORDER_STATUS, S.PARTIALLY_FILLED, exec_id="0", cum_qty=40, leaves_qty=60, avg_px="50")
    )

    assert _inferred_rows(ledger) == []
    assert ledger.count("anomalies") == 0


def test_an_inferred_price_within_avg_px_rounding_of_the_limit_is_the_limit(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = present(oms.submit(symbol="ACME", side="1", qty=7, ord_type="2", price=Decimal("100.01")).cl_ord_id)
    oms.on_execution_report(
        report(cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=3, last_px="100.00", cum_qty=3, leaves_qty=4)
    )

    # the venue rounds AvgPx to 8 decimals: (3 x 100.00 + 4 x 100.01) / 7 = 100.005714285...
    oms.on_execution_report(
        report(cl, E.ORDER_STATUS, S.FILLED, exec_id="0", cum_qty=7, avg_px="100.00571429")
    )

    ((qty, px, *_),) = _inferred_rows(ledger)
    assert (qty, Decimal(px)) == (4, Decimal("100.01"))
