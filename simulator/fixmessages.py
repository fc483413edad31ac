"""Venue values -> outgoing QuickFIX messages, and field reading helpers for incoming ones.

Serves `acceptor.py`: takes the venue's outbound values (execution reports, cancel rejects,
position reports, market data entries) and gives `quickfix.Message` objects ready for
`Session.sendToTarget`. Fields are set by tag number with string values, the cheapest way
through the SWIG layer (see the dependency notes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import quickfix as fix
import quickfix44 as fix44

from fixcore.timestamps import utc_timestamp
from simulator.instruments import Instrument
from simulator.venue import (
    BookSnapshot,
    CancelRejectOut,
    ExecutionReportOut,
    MarketDataEntry,
    MassCancelReportOut,
    MDEntryType,
    PositionAckOut,
    PositionReportOut,
    format_decimal,
)

UNKNOWN_TAG_DEFAULT = 9999


def field(message: fix.FieldMap, tag: int) -> str | None:
    """A field's raw string value, or None when absent."""
    if message.isSetField(tag):
        value: str = message.getField(tag)
        return value
    return None


def header_field(message: fix.Message, tag: int) -> str | None:
    return field(message.getHeader(), tag)


def _new(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(35, msg_type)
    return message


def execution_report(report: ExecutionReportOut, unknown_tag: int = 0) -> fix.Message:
    m = _new("8")
    m.setField(37, report.order_id)
    m.setField(11, report.cl_ord_id)
    if report.orig_cl_ord_id:
        m.setField(41, report.orig_cl_ord_id)
    m.setField(17, report.exec_id)
    m.setField(150, report.exec_type)
    m.setField(39, report.ord_status)
    if report.account:
        m.setField(1, report.account)
    if report.symbol:
        m.setField(55, report.symbol)
    m.setField(54, report.side)
    if report.ord_type:
        m.setField(40, report.ord_type)
    if report.price is not None:
        m.setField(44, str(report.price))
    if report.order_qty:
        m.setField(38, str(report.order_qty))
    if report.time_in_force:
        m.setField(59, report.time_in_force)
    m.setField(151, str(report.leaves_qty))
    m.setField(14, str(report.cum_qty))
    m.setField(6, format_decimal(report.avg_px))
    if report.last_qty is not None:
        m.setField(32, str(report.last_qty))
    if report.last_px is not None:
        m.setField(31, str(report.last_px))
    if report.exec_ref_id:
        m.setField(19, report.exec_ref_id)
    if report.ord_rej_reason:
        m.setField(103, report.ord_rej_reason)
    if report.mass_status_req_id is not None:
        m.setField(584, report.mass_status_req_id)
    if report.tot_num_reports is not None:
        m.setField(911, str(report.tot_num_reports))
    if report.last_rpt_requested:
        m.setField(912, "Y")
    if report.text:
        m.setField(58, report.text[:200])
    m.setField(60, utc_timestamp(report.transact_ns))
    if unknown_tag:
        tag = UNKNOWN_TAG_DEFAULT if unknown_tag == 1 else unknown_tag
        m.setField(tag, "fault-unknown-tag")
    return m


def cancel_reject(reject: CancelRejectOut) -> fix.Message:
    m = _new("9")
    m.setField(37, reject.order_id)
    m.setField(11, reject.cl_ord_id)
    m.setField(41, reject.orig_cl_ord_id)
    m.setField(39, reject.ord_status)
    if reject.account:
        m.setField(1, reject.account)
    m.setField(434, reject.response_to)
    m.setField(102, reject.reason)
    if reject.text:
        m.setField(58, reject.text[:200])
    m.setField(60, utc_timestamp(reject.transact_ns))
    return m


def mass_cancel_report(report: MassCancelReportOut) -> fix.Message:
    m = _new("r")
    m.setField(11, report.cl_ord_id)
    m.setField(37, report.order_id)
    m.setField(530, report.request_type)
    m.setField(531, report.response)
    if report.reject_reason is not None:
        m.setField(532, report.reject_reason)
    m.setField(533, str(report.total_affected))
    if report.symbol:
        m.setField(55, report.symbol)
    if report.side:
        m.setField(54, report.side)
    if report.text:
        m.setField(58, report.text[:200])
    m.setField(60, utc_timestamp(report.transact_ns))
    return m


def position_ack(ack: PositionAckOut) -> fix.Message:
    m = _new("AO")
    m.setField(721, ack.pos_maint_rpt_id)
    m.setField(710, ack.pos_req_id)
    m.setField(727, str(ack.total_num_reports))
    m.setField(728, ack.result)
    m.setField(729, ack.status)
    m.setField(1, ack.account)
    m.setField(581, "1")
    if ack.text:
        m.setField(58, ack.text)
    return m


def position_report(report: PositionReportOut) -> fix.Message:
    m = _new("AP")
    m.setField(721, report.pos_maint_rpt_id)
    m.setField(710, report.pos_req_id)
    m.setField(724, "0")
    m.setField(727, str(report.total_num_reports))
    m.setField(728, "0")
    m.setField(715, report.clearing_business_date)
    m.setField(1, report.account)
    m.setField(581, "1")
    m.setField(55, report.symbol)
    m.setField(730, format_decimal(report.settl_price))
    m.setField(731, "1")
    m.setField(734, format_decimal(report.settl_price))
    group = fix44.PositionReport.NoPositions()
    group.setField(703, "TQ")
    group.setField(704, str(report.long_qty))
    group.setField(705, str(report.short_qty))
    m.addGroup(group)
    return m


def market_data_snapshot(
    snapshot: BookSnapshot, md_req_id: str | None, instrument: Instrument
) -> fix.Message:
    m = _new("W")
    if md_req_id:
        m.setField(262, md_req_id)
    m.setField(55, snapshot.symbol)
    m.setField(83, str(snapshot.rpt_seq))
    entries: list[tuple[str, int, int]] = [(MDEntryType.BID, price, size) for price, size in snapshot.bids]
    entries += [(MDEntryType.OFFER, price, size) for price, size in snapshot.asks]
    if snapshot.last_trade is not None:
        entries.append((MDEntryType.TRADE, snapshot.last_trade[0], snapshot.last_trade[1]))
    for entry_type, price, size in entries:
        group = fix44.MarketDataSnapshotFullRefresh.NoMDEntries()
        group.setField(269, entry_type)
        group.setField(270, instrument.format_price(price))
        group.setField(271, str(size))
        m.addGroup(group)
    if not entries:
        m.setField(268, "0")
    return m


def market_data_incremental(
    entries: Sequence[MarketDataEntry], md_req_id: str | None, instruments: Mapping[str, Instrument]
) -> fix.Message:
    m = _new("X")
    if md_req_id:
        m.setField(262, md_req_id)
    for entry in entries:
        group = fix44.MarketDataIncrementalRefresh.NoMDEntries()
        group.setField(279, entry.action)
        group.setField(83, str(entry.rpt_seq))
        group.setField(269, entry.entry_type)
        group.setField(55, entry.symbol)
        group.setField(270, instruments[entry.symbol].format_price(entry.price))
        group.setField(271, str(entry.size))
        m.addGroup(group)
    return m


def market_data_reject(md_req_id: str, reason: str, text: str) -> fix.Message:
    m = _new("Y")
    m.setField(262, md_req_id)
    m.setField(281, reason)
    m.setField(58, text[:200])
    return m


def business_reject(
    ref_seq_num: str | None, ref_msg_type: str, reason: str, text: str, ref_id: str | None
) -> fix.Message:
    m = _new("j")
    if ref_seq_num:
        m.setField(45, ref_seq_num)
    m.setField(372, ref_msg_type)
    if ref_id:
        m.setField(379, ref_id)
    m.setField(380, reason)
    m.setField(58, text[:200])
    return m
