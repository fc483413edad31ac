"""Slippage of every fill of the decision path, against the mid at decision time and at arrival.

Takes the gateway ledger (read-only: its `fills`, `orders` and `execution_reports`) and the
decision path's feature store (`decisions` mids, `orders_sent`); gives a `Summary`, stores one
row per fill in the store's `slippage` table (keyed by cl_ord_id + exec_id, so re-running is
harmless), and `render()` writes it as text, JSON and a PNG.

- decision mid: the mid of the book the decision that sent (or last replaced) the order saw;
- arrival mid: the last mid the decision path saw on the symbol at or before the venue's
  acknowledgement of that order version (ExecutionReport New/Replaced receive time), or at
  the send time when no acknowledgement is recorded.

Slippage is signed as a cost, in bps of the reference mid: (fill - mid) / mid for a buy,
(mid - fill) / mid for a sell; positive means worse than the mid.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.features.store import connect as connect_store
from gateway.marketdata.events import PX_SCALE


@dataclass(frozen=True, slots=True, kw_only=True)
class FillSlippage:
    cl_ord_id: str
    exec_id: str
    symbol: str
    side: str
    last_qty: int
    last_px: str
    decision_mid: str
    arrival_mid: str
    vs_decision_bps: float
    vs_arrival_bps: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolSummary:
    symbol: str
    fills: int
    qty: int
    mean_vs_decision_bps: float
    mean_vs_arrival_bps: float
    qty_weighted_vs_decision_bps: float
    qty_weighted_vs_arrival_bps: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    fills: int
    qty: int
    unmatched_fills: int  # decision-path fills whose decision or mid could not be found
    mean_vs_decision_bps: float
    mean_vs_arrival_bps: float
    p50_vs_decision_bps: float
    p90_vs_decision_bps: float
    qty_weighted_vs_decision_bps: float
    qty_weighted_vs_arrival_bps: float
    by_symbol: list[SymbolSummary] = field(default_factory=list)
    rows: list[FillSlippage] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rows")
        return data

    def text(self) -> str:
        if self.fills == 0:
            return f"slippage: no decision-path fills ({self.unmatched_fills} unmatched)"
        lines = [
            f"slippage of {self.fills} fills ({self.qty} shares), bps, positive = worse than mid:",
            f"  vs mid at decision: mean {self.mean_vs_decision_bps:+.2f}  qty-weighted "
            f"{self.qty_weighted_vs_decision_bps:+.2f}  p50 {self.p50_vs_decision_bps:+.2f}  "
            f"p90 {self.p90_vs_decision_bps:+.2f}",
            f"  vs mid at arrival:  mean {self.mean_vs_arrival_bps:+.2f}  qty-weighted "
            f"{self.qty_weighted_vs_arrival_bps:+.2f}",
        ]
        for item in self.by_symbol:
            lines.append(
                f"  {item.symbol:<6} {item.fills:>5} fills {item.qty:>7} qty  decision "
                f"{item.mean_vs_decision_bps:+.2f}  arrival {item.mean_vs_arrival_bps:+.2f}"
            )
        if self.unmatched_fills:
            lines.append(f"  ({self.unmatched_fills} fills without a recorded decision mid)")
        return "\n".join(lines)


def _cost_bps(side: str, px: Decimal, mid_e8: int) -> float:
    mid = Decimal(mid_e8) / PX_SCALE
    sign = 1 if side == "1" else -1
    return float(sign * (px - mid) / mid * 10_000)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _weighted(values: list[float], weights: list[int]) -> float:
    total = sum(weights)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total if total else 0.0


def summarize(ledger_path: Path, store_path: Path) -> Summary:
    ledger = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True)
    try:
        fills = ledger.execute(
            "SELECT f.cl_ord_id, f.exec_id, f.symbol, f.side, f.last_qty, f.last_px, o.decision_id,"
            " o.cl_ord_id"
            " FROM fills f JOIN orders o ON o.order_key = f.order_key"
            " WHERE f.busted = 0 AND o.decision_id IS NOT NULL ORDER BY f.id"
        ).fetchall()
        acks = {
            row[0]: row[1]
            for row in ledger.execute(
                "SELECT cl_ord_id, min(recv_ns) FROM execution_reports"
                " WHERE exec_type IN ('0', '5') AND cl_ord_id IS NOT NULL GROUP BY cl_ord_id"
            )
        }
    finally:
        ledger.close()

    store = connect_store(store_path)
    try:
        sent = {
            row[0]: (row[1], row[2])
            for row in store.execute("SELECT cl_ord_id, decision_id, sent_ns FROM orders_sent")
        }
        decision_mid = dict(store.execute("SELECT decision_id, mid_e8 FROM decisions"))
        series: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for symbol, ts_ns, mid_e8 in store.execute(
            "SELECT symbol, ts_ns, mid_e8 FROM decisions ORDER BY symbol, ts_ns"
        ):
            times, mids = series[symbol]
            times.append(ts_ns)
            mids.append(mid_e8)

        rows: list[FillSlippage] = []
        unmatched = 0
        for cl_ord_id, exec_id, symbol, side, last_qty, last_px, order_decision, _ in fills:
            decision_id, sent_ns = sent.get(cl_ord_id, (order_decision, None))
            mid_at_decision = decision_mid.get(decision_id)
            arrival_ns = acks.get(cl_ord_id, sent_ns)
            times, mids = series.get(symbol, ([], []))
            index = bisect.bisect_right(times, arrival_ns) - 1 if arrival_ns is not None else -1
            if mid_at_decision is None or mid_at_decision <= 0 or index < 0:
                unmatched += 1
                continue
            mid_at_arrival = mids[index]
            px = Decimal(last_px)
            rows.append(
                FillSlippage(
                    cl_ord_id=cl_ord_id,
                    exec_id=exec_id,
                    symbol=symbol,
                    side=side,
                    last_qty=int(last_qty),
                    last_px=last_px,
                    decision_mid=str(Decimal(mid_at_decision) / PX_SCALE),
                    arrival_mid=str(Decimal(mid_at_arrival) / PX_SCALE),
                    vs_decision_bps=_cost_bps(side, px, mid_at_decision),
                    vs_arrival_bps=_cost_bps(side, px, mid_at_arrival),
                )
            )
        with store:
            store.execute("BEGIN")
            store.executemany(
                "INSERT OR REPLACE INTO slippage VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (r.cl_ord_id, r.exec_id, r.symbol, r.side, r.last_qty, r.last_px, r.decision_mid,
                     r.arrival_mid, r.vs_decision_bps, r.vs_arrival_bps)
                    for r in rows
                ],
            )  # fmt: skip
    finally:
        store.close()

    by_symbol: list[SymbolSummary] = []
    for symbol in sorted({r.symbol for r in rows}):
        mine = [r for r in rows if r.symbol == symbol]
        qty = [r.last_qty for r in mine]
        by_symbol.append(
            SymbolSummary(
                symbol=symbol,
                fills=len(mine),
                qty=sum(qty),
                mean_vs_decision_bps=_mean([r.vs_decision_bps for r in mine]),
                mean_vs_arrival_bps=_mean([r.vs_arrival_bps for r in mine]),
                qty_weighted_vs_decision_bps=_weighted([r.vs_decision_bps for r in mine], qty),
                qty_weighted_vs_arrival_bps=_weighted([r.vs_arrival_bps for r in mine], qty),
            )
        )
    decision_bps = [r.vs_decision_bps for r in rows]
    arrival_bps = [r.vs_arrival_bps for r in rows]
    quantities = [r.last_qty for r in rows]
    return Summary(
        fills=len(rows),
        qty=sum(quantities),
        unmatched_fills=unmatched,
        mean_vs_decision_bps=_mean(decision_bps),
        mean_vs_arrival_bps=_mean(arrival_bps),
        p50_vs_decision_bps=_percentile(decision_bps, 0.5),
        p90_vs_decision_bps=_percentile(decision_bps, 0.9),
        qty_weighted_vs_decision_bps=_weighted(decision_bps, quantities),
        qty_weighted_vs_arrival_bps=_weighted(arrival_bps, quantities),
        by_symbol=by_symbol,
        rows=rows,
    )


def render(summary: Summary, out_dir: Path, *, stem: str = "slippage") -> dict[str, Path]:
    """Write <stem>.txt, <stem>.json and <stem>.png (histogram per reference) into out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "text": out_dir / f"{stem}.txt",
        "json": out_dir / f"{stem}.json",
        "png": out_dir / f"{stem}.png",
    }
    paths["text"].write_text(summary.text() + "\n")
    paths["json"].write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, (label, values) in zip(
        axes,
        (
            ("vs mid at decision", [r.vs_decision_bps for r in summary.rows]),
            ("vs mid at arrival", [r.vs_arrival_bps for r in summary.rows]),
        ),
        strict=True,
    ):
        if values:
            axis.hist(values, bins=min(40, max(5, len(values) // 3)), color="#3b6ea5")
            axis.axvline(
                _mean(values), color="#c0392b", linestyle="--", label=f"mean {_mean(values):+.2f} bps"
            )
            axis.legend()
        axis.set_title(f"slippage {label}")
        axis.set_xlabel("bps (positive = worse than mid)")
    axes[0].set_ylabel("fills")
    figure.suptitle(f"fixgw decision path: {summary.fills} fills, {summary.qty} shares")
    figure.tight_layout()
    figure.savefig(paths["png"], dpi=100)
    plt.close(figure)
    return paths


def report_for_demo(
    ledger_path: Path, decision_state_dir: Path, out_dir: Path
) -> tuple[Summary, dict[str, Path]]:
    """What the end of the main job calls: summarise (`<decision_state_dir>/features.sqlite`),
    print-ready text, and the files written by `render`."""
    summary = summarize(ledger_path, decision_state_dir / "features.sqlite")
    return summary, render(summary, out_dir)
