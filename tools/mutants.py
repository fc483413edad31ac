"""The realistic mutants of the pure core that `make mutation` applies, one at a time.

Each mutant names a file, a text `old` found on exactly one line of it (or on the line that also
contains `near`, or on the `occurrence`-th such line), and the text `new` that replaces it there
(DELETE_LINE removes the whole line, for rows of a table). Mutants are found by text, not by line
number, so edits elsewhere in a file do not move them; a mutant whose text is gone is reported as
stale and left out of the score (update or drop it).

The list started as the mutation review of issue 13 (68 mutants: boundaries, signs, swapped
sides, dropped table rows, units); add one whenever a review finds a bug a test should have caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DELETE_LINE: Final = None


@dataclass(frozen=True, slots=True)
class Mutant:
    mutant_id: str
    path: str
    old: str
    new: str | None  # None (DELETE_LINE): remove the line
    description: str
    near: str = ""  # the line must also contain this (when `old` occurs on several lines)
    occurrence: int = 0  # 0: the matching line must be unique; n: take the n-th matching line
    equivalent: str = ""  # why no test can tell it from the code: listed, not run, not scored


OS = "gateway/domain/order_states.py"
PO = "gateway/domain/positions.py"
RK = "gateway/risk/checks.py"
FB = "gateway/decision/fallback.py"
PL = "gateway/execution/planner.py"
MB = "gateway/marketdata/book.py"
SB = "simulator/book.py"
SM = "simulator/matching.py"
SVR = "simulator/venue_records.py"
SVS = "simulator/venue_state.py"
SVE = "simulator/venue_entry.py"
SVF = "simulator/venue_fills.py"

MUTANTS: Final[tuple[Mutant, ...]] = (
    Mutant(
        "OS1",
        OS,
        "{S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED}",
        "{S.PARTIALLY_FILLED: S.PARTIALLY_FILLED}",
        "PendingNew+Trade: drop FILLED (aggressive order filled before its New becomes a misfit)",
        near="(S.PENDING_NEW, E.TRADE)",
    ),
    Mutant(
        "OS2",
        OS,
        "{S.NEW: S.PARTIALLY_FILLED}",
        "{S.NEW: S.NEW}",
        "late New on a PartiallyFilled order moves it back to New",
    ),
    Mutant(
        "OS3",
        OS,
        "{S.PARTIALLY_FILLED: S.FILLED, S.FILLED: S.FILLED}",
        "{S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED}",
        "late partial fill after the final fill moves a Filled order back to PartiallyFilled",
    ),
    Mutant(
        "OS4",
        OS,
        "S.PARTIALLY_FILLED: S.PENDING_CANCEL",
        "S.PARTIALLY_FILLED: S.PARTIALLY_FILLED",
        "partial fill during PendingCancel drops the pending-cancel state",
    ),
    Mutant(
        "OS5",
        OS,
        "{S.NEW: S.NEW, S.PARTIALLY_FILLED: S.PARTIALLY_FILLED}",
        "{S.PARTIALLY_FILLED: S.PARTIALLY_FILLED}",
        "bust of the only fill of a PartiallyFilled order (back to New) no longer fits",
    ),
    Mutant(
        "OS6",
        OS,
        "S.PARTIALLY_FILLED: S.CANCELED",
        "S.PARTIALLY_FILLED: S.PARTIALLY_FILLED",
        "late partial fill resurrects a Canceled order (wrong transition)",
        occurrence=1,
    ),
    Mutant(
        "OS7",
        OS,
        "(S.PENDING_REPLACE, E.CANCELED): {S.CANCELED: S.CANCELED},  # unsolicited",
        DELETE_LINE,
        "drop row (PendingReplace, Canceled): unsolicited cancel during replace is a misfit",
    ),
    Mutant(
        "OS8",
        OS,
        "status=current if is_final(current) else reported",
        "status=reported",
        "misfit (unknown pair) moves a final order to the venue's status",
        occurrence=1,
    ),
    Mutant(
        "PO1",
        PO,
        "if qty == 0 or (qty > 0) == (delta > 0):",
        "if (qty > 0) == (delta > 0):",
        "opening a position from flat goes through the closing branch",
        equivalent="apply_fill returns early on delta == 0, so from flat the closing branch gives "
        "the same position (average cost the fill price, nothing realized)",
    ),
    Mutant(
        "PO2",
        PO,
        "fill.px * abs(delta)",
        "fill.px * delta",
        "adding to a short: signed quantity in total cost (wrong avg cost)",
    ),
    Mutant(
        "PO3",
        PO,
        "rounding=ROUND_HALF_EVEN",
        "rounding=ROUND_HALF_UP",
        "avg cost rounding half-even -> half-up",
    ),
    Mutant(
        "PO4",
        PO,
        "direction = 1 if qty > 0 else -1",
        "direction = 1",
        "realized PnL sign ignores short positions",
    ),
    Mutant(
        "PO5",
        PO,
        "closed = min(abs(qty), abs(delta))",
        "closed = abs(delta)",
        "flip realizes PnL on the whole fill, not only the closed part",
    ),
    Mutant(
        "PO6",
        PO,
        "avg = position.avg_cost",
        "avg = fill.px",
        "partial close resets average cost to the fill price",
    ),
    Mutant(
        "PO7",
        PO,
        "avg = fill.px",
        "avg = position.avg_cost",
        "flip keeps the old average cost for the new opposite position",
    ),
    Mutant(
        "PO8",
        PO,
        "(self.mark_px - self.avg_cost) * self.qty",
        "(self.mark_px - self.avg_cost) * abs(self.qty)",
        "unrealized PnL ignores sign of position (short PnL wrong sign)",
    ),
    Mutant(
        "RK1",
        RK,
        "if kill_switch:",
        "if False and kill_switch:",
        "kill switch check skipped",
    ),
    Mutant(
        "RK2",
        RK,
        "if qty <= 0:",
        "if qty < 0:",
        "zero quantity allowed",
    ),
    Mutant(
        "RK3",
        RK,
        "if qty > limits.max_order_qty:",
        "if qty >= limits.max_order_qty:",
        "order of exactly max_order_qty denied (off by one)",
    ),
    Mutant(
        "RK4",
        RK,
        "if notional > limits.max_notional:",
        "if notional >= limits.max_notional:",
        "notional exactly at max denied (boundary)",
    ),
    Mutant(
        "RK5",
        RK,
        "side_sign * (working_same_side_qty + qty)",
        "side_sign * qty",
        "position check ignores working orders on the same side",
    ),
    Mutant(
        "RK6",
        RK,
        " and not moves_toward_zero(position_qty, worst_position)",
        "",
        "reducing orders denied when the position is already beyond the limit",
    ),
    Mutant(
        "RK7",
        RK,
        "position_qty + side_sign",
        "position_qty - side_sign",
        "buy/sell sign swapped in worst-case position",
    ),
    Mutant(
        "FB1",
        FB,
        "return max(0, position_qty - step)",
        "return position_qty - step",
        "reduce_only on a long can go past flat (turns short)",
    ),
    Mutant(
        "FB2",
        FB,
        "return min(0, position_qty + step)",
        "return min(0, position_qty - step)",
        "reduce_only on a short grows the short (sign error)",
    ),
    Mutant(
        "FB3",
        FB,
        "step = reduce_step_lots * lot_size",
        "step = reduce_step_lots",
        "reduce step in lots, not shares (unit bug)",
    ),
    Mutant(
        "FB4",
        FB,
        "return position_qty",
        "return 0",
        "hold policy flattens instead of holding",
    ),
    Mutant(
        "FB5",
        FB,
        "lots = round(output_bps / full_position_bps * max_position_lots)",
        "lots = int(output_bps / full_position_bps * max_position_lots)",
        "target lots truncated instead of rounded",
    ),
    Mutant(
        "FB6",
        FB,
        "lots = max(-max_position_lots, min(max_position_lots, lots))",
        "lots = min(max_position_lots, lots)",
        "no lower clamp: short target beyond max position",
    ),
    Mutant(
        "PL1",
        PL,
        "price = bid if side == BUY else ask",
        "price = ask if side == BUY else bid",
        "passive order priced at the far touch (crosses the spread)",
    ),
    Mutant(
        "PL2",
        PL,
        "price = ask + cap if side == BUY else bid - cap",
        "price = bid + cap if side == BUY else ask - cap",
        "marketable price cap from the near touch (bid vs ask)",
    ),
    Mutant(
        "PL3",
        PL,
        "wanted = (abs(needed) // lot) * lot",
        "wanted = abs(needed)",
        "no lot rounding: odd-lot quantities sent",
    ),
    Mutant(
        "PL5",
        PL,
        "for o in working if not o.pending]",
        "for o in working]",
        "at target: cancels orders with a request in flight too",
    ),
    Mutant(
        "PL6",
        PL,
        "if order.leaves_qty <= excess:",
        "if order.leaves_qty < excess:",
        "order exactly equal to the excess replaced to 0 instead of canceled",
    ),
    Mutant(
        "PL7",
        PL,
        "qty=order.cum_qty + leaves",
        "qty=leaves",
        "replace OrderQty forgets CumQty (FIX 38 = cum + leaves)",
    ),
    Mutant(
        "PL8",
        PL,
        "residual = wanted - working_leaves",
        "residual = wanted",
        "working orders not counted: over-sends each decision",
    ),
    Mutant(
        "PL9",
        PL,
        'tif = "3"',
        "tif = execution.tif",
        "marketable order not IOC: it may rest",
    ),
    Mutant(
        "PL10",
        PL,
        'if execution.style == "passive" and may_reprice:',
        'if execution.style == "passive":',
        "reprice ignores the min_replace_interval gate",
    ),
    Mutant(
        "MB1",
        MB,
        "bid >= ask else",
        "bid > ask else",
        "locked book (bid == ask) treated as a valid top",
    ),
    Mutant(
        "MB2",
        MB,
        "if action == ACTION_DELETE or size <= 0:",
        "if action == ACTION_DELETE or size < 0:",
        "zero-size level kept in the book",
    ),
    Mutant(
        "MB3",
        MB,
        "buy = twice_px > twice_mid or",
        "buy = twice_px >= twice_mid or",
        "trade at the mid always counted as a buy",
    ),
    Mutant(
        "MB4",
        MB,
        "side = self.bids if entry_type == ENTRY_BID else self.asks",
        "side = self.asks if entry_type == ENTRY_BID else self.bids",
        "slow path: bid/ask sides swapped",
    ),
    Mutant(
        "MB5",
        MB,
        "if rpt_seq <= book.rpt_seq:",
        "if rpt_seq < book.rpt_seq:",
        "duplicate RptSeq treated as a gap",
    ),
    Mutant(
        "MB6",
        MB,
        "if rpt_seq != book.rpt_seq + 1:",
        "if rpt_seq > book.rpt_seq + 2:",
        "gap of one message not detected (off by one)",
    ),
    Mutant(
        "MB7",
        MB,
        "and rpt_seq == book.rpt_seq + 1",
        "and rpt_seq >= book.rpt_seq + 1",
        "fast path applies gapped increments silently",
    ),
    Mutant(
        "MB9",
        MB,
        "book.in_gap = False",
        "pass",
        "snapshot does not clear the gap flag: book never recovers",
    ),
    Mutant(
        "SB1",
        SB,
        "ordered = reversed(prices) if side is BookSide.BID else iter(prices)",
        "ordered = iter(prices)",
        "bid levels listed worst first",
    ),
    Mutant(
        "SB2",
        SB,
        "bid >= ask",
        "bid > ask",
        "locked book not reported crossed",
    ),
    Mutant(
        "SB3",
        SB,
        "if queue and queue[-1].priority > priority:",
        "if queue and queue[0].priority > priority:",
        "restore out of order compares with the head, not the tail (queue unsorted)",
    ),
    Mutant(
        "SB4",
        SB,
        "self._next_priority = max(self._next_priority, priority) + 1",
        "self._next_priority += 1",
        "restored priorities not reserved: later orders can share a priority",
    ),
    Mutant(
        "SB5",
        SB,
        "self._sizes[order.side][order.price] -= by_qty",
        "pass",
        "partial reduce leaves the level's aggregate size unchanged",
    ),
    Mutant(
        "SM1",
        SM,
        "return resting_price <= limit",
        "return resting_price < limit",
        "buy limit does not match an ask at exactly its limit",
    ),
    Mutant(
        "SM2",
        SM,
        "return resting_price >= limit",
        "return resting_price > limit",
        "sell limit does not match a bid at exactly its limit",
    ),
    Mutant(
        "SM3",
        SM,
        "for price, size in book.levels(aggressor_side.opposite):",
        "for price, size in book.levels(aggressor_side):",
        "FOK availability counted on the aggressor's own side",
    ),
    Mutant(
        "SM4",
        SM,
        "price=best,",
        "price=limit if limit is not None else best,",
        "trade prints at the aggressor's limit, not the resting price",
    ),
    Mutant(
        "SM5",
        SM,
        "maker_leaves=maker.qty,",
        "maker_leaves=maker.qty - traded,",
        "maker leaves reduced twice",
    ),
    Mutant(
        "SV1",
        SVR,
        "signed = qty if side == Side.BUY else -qty",
        "signed = -qty if side == Side.SELL else qty",
        "venue position: SellShort (54=5) counted as a buy",
    ),
    Mutant(
        "SV2",
        SVR,
        "direction = 1 if current > 0 else -1",
        "direction = 1",
        "venue realized PnL sign ignores shorts",
    ),
    Mutant(
        "SV3",
        SVS,
        "if self.cum_qty >= self.order_qty:",
        "if self.cum_qty > self.order_qty:",
        "fully filled order reported PartiallyFilled",
    ),
    Mutant(
        "SV4",
        SVS,
        "if self.cum_qty > 0 else",
        "if self.cum_qty >= 0 else",
        "unfilled order reported PartiallyFilled",
    ),
    Mutant(
        "SV5",
        SVS,
        "return 0 if self.is_final else self.order_qty - self.cum_qty",
        "return self.order_qty - self.cum_qty",
        "canceled/expired order still reports LeavesQty",
    ),
    Mutant(
        "SV6",
        SVE,
        "loses_priority = new_price != order.price_ticks or new_leaves > old_leaves",
        "loses_priority = new_price != order.price_ticks",
        "replace up in size keeps time priority",
    ),
    Mutant(
        "SV7",
        SVF,
        "if available < wanted:",
        "if available <= wanted:",
        "FOK killed even when exactly fillable",
    ),
    Mutant(
        "SV8",
        SVF,
        "order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)",
        "order.time_in_force in (TimeInForce.FOK,)",
        "IOC remainder rests instead of being canceled",
    ),
    Mutant(
        "SV9",
        SVF,
        "order.cum_qty < order.order_qty",
        "order.cum_qty <= order.order_qty",
        "price-only correction of a Filled order cancels it",
    ),
    Mutant(
        "SV10",
        SVF,
        "order.notional_ticks += qty * price",
        "order.notional_ticks = qty * price",
        "AvgPx becomes last price x cum (notional overwritten)",
    ),
    Mutant(
        "SV11",
        SVF,
        "order.cum_qty -= fill.last_qty - new_qty",
        "order.cum_qty -= new_qty - fill.last_qty",
        "qty correction changes CumQty with the wrong sign",
    ),
    Mutant(
        "SV12",
        SVE,
        "if new_qty <= order.cum_qty:",
        "if new_qty < order.cum_qty:",
        "replace down to the filled quantity accepted (zero leaves)",
    ),
)
