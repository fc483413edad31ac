"""Market data over loopback: snapshots, incremental refresh with RptSeq, rejects, freezing."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from simulator.control import SimulatorControl
from simulator.server import SimulatorServer
from tests.support.fix_client import FixTestClient, Received, market_data_request, unique_id

Book = dict[tuple[str, Decimal], int]  # (MDEntryType, price) -> size


def _snapshot_book(snapshot: Received) -> Book:
    return {(e[269], Decimal(e[270])): int(e[271]) for e in snapshot.groups(268, 269) if e[269] in ("0", "1")}


def _snapshot_of(symbol: str, md_req_id: str) -> Callable[[Received], bool]:
    return lambda m: m.msg_type == "W" and m.get(55) == symbol and m.get(262) == md_req_id


def _x_entries(messages: list[Received], symbol: str) -> list[dict[int, str]]:
    entries = []
    for message in messages:
        for entry in message.groups(268, 279):
            if entry.get(55) == symbol:
                entries.append(entry)
    return entries


def test_snapshot_has_requested_depth_rpt_seq_and_last_trade(md: FixTestClient) -> None:
    req = unique_id("snap")
    mark = md.mark()
    md.send(market_data_request(req, ["ACME"], subscription="0", depth=3))
    snapshot = md.wait_for(lambda m: m.msg_type == "W" and m.get(262) == req, after=mark)
    entries = snapshot.groups(268, 269)
    bids = [Decimal(e[270]) for e in entries if e[269] == "0"]
    offers = [Decimal(e[270]) for e in entries if e[269] == "1"]
    assert 1 <= len(bids) <= 3 and 1 <= len(offers) <= 3
    assert bids == sorted(bids, reverse=True) and offers == sorted(offers)
    assert max(bids) < min(offers)
    assert int(snapshot.get(83) or 0) > 0
    assert snapshot.get(55) == "ACME"
    time.sleep(0.2)
    assert not md.messages(lambda m: m.msg_type == "X" and m.get(262) == req), (
        "a snapshot is not a subscription"
    )


def test_incremental_refresh_rebuilds_the_venue_book_exactly(
    md: FixTestClient, control: SimulatorControl, sim: SimulatorServer
) -> None:
    req = unique_id("sub")
    mark = md.mark()
    md.send(market_data_request(req, ["ACME", "BOLT"], subscription="1", depth=0))
    snapshots = {symbol: md.wait_for(_snapshot_of(symbol, req), after=mark) for symbol in ("ACME", "BOLT")}
    time.sleep(0.4)  # the market moves
    control.pause_market()
    venue_book = control.book("ACME")
    final_seq = venue_book["rpt_seq"]
    md.wait_for(
        lambda m: (
            m.msg_type == "X"
            and any(e.get(55) == "ACME" and e.get(83) == str(final_seq) for e in m.groups(268, 279))
        ),
        after=mark,
    )
    updates = md.messages(lambda m: m.msg_type == "X" and m.get(262) == req)
    book = _snapshot_book(snapshots["ACME"])
    expected_seq = int(snapshots["ACME"].get(83) or 0) + 1
    entries = _x_entries(updates, "ACME")
    assert len(entries) > 10
    for entry in entries:
        assert int(entry[83]) == expected_seq, "RptSeq(83) continues from the snapshot without a gap"
        expected_seq += 1
        if entry[269] == "2":
            assert entry[279] == "0"
            continue
        key = (entry[269], Decimal(entry[270]))
        if entry[279] == "2":
            assert key in book
            del book[key]
        elif entry[279] == "0":
            assert key not in book
            book[key] = int(entry[271])
        else:
            assert key in book
            book[key] = int(entry[271])
    assert expected_seq - 1 == final_seq
    rebuilt_bids = sorted(((p, q) for (t, p), q in book.items() if t == "0"), reverse=True)
    rebuilt_asks = sorted((p, q) for (t, p), q in book.items() if t == "1")
    assert rebuilt_bids == [(Decimal(p), q) for p, q in venue_book["bids"]]
    assert rebuilt_asks == [(Decimal(p), q) for p, q in venue_book["asks"]]
    bolt_seqs = [int(e[83]) for e in _x_entries(updates, "BOLT")]
    assert bolt_seqs == list(
        range(
            int(snapshots["BOLT"].get(83) or 0) + 1, int(snapshots["BOLT"].get(83) or 0) + 1 + len(bolt_seqs)
        )
    )
    # Unsubscribe: no more increments for this MDReqID.
    control.resume_market()
    md.send(market_data_request(req, ["ACME", "BOLT"], subscription="2"))
    time.sleep(0.15)
    count = len(md.messages(lambda m: m.msg_type == "X" and m.get(262) == req))
    time.sleep(0.3)
    assert len(md.messages(lambda m: m.msg_type == "X" and m.get(262) == req)) == count


def test_unknown_symbol_gets_a_market_data_request_reject(md: FixTestClient) -> None:
    req = unique_id("bad")
    md.send(market_data_request(req, ["NOPE"]))
    reject = md.wait_for(lambda m: m.msg_type == "Y" and m.get(262) == req)
    assert reject.get(281) == "0" and "NOPE" in (reject.get(58) or "")


def test_frozen_market_data_stops_increments_then_resumes_with_a_gap(
    md: FixTestClient, control: SimulatorControl
) -> None:
    req = unique_id("frz")
    md.send(market_data_request(req, ["ACME"]))
    md.wait_for(lambda m: m.msg_type == "X" and m.get(262) == req)
    control.set_fault("freeze_market_data", 1)
    time.sleep(0.1)
    frozen_at = len(md.messages(lambda m: m.msg_type == "X" and m.get(262) == req))
    seq_before = control.book("ACME")["rpt_seq"]
    time.sleep(0.4)
    assert len(md.messages(lambda m: m.msg_type == "X" and m.get(262) == req)) == frozen_at
    assert control.book("ACME")["rpt_seq"] > seq_before, "the market kept moving"
    last_seen = max(
        int(e[83]) for e in _x_entries(md.messages(lambda m: m.msg_type == "X" and m.get(262) == req), "ACME")
    )
    control.set_fault("freeze_market_data", 0)
    resumed = md.wait_for(lambda m: m.msg_type == "X" and m.get(262) == req, after=md.mark())
    first_new = int(resumed.groups(268, 279)[0][83])
    assert first_new > last_seen + 1, "the receiver can see the gap in RptSeq(83)"
    md.send(market_data_request(req, ["ACME"], subscription="2"))


def test_fast_market_publishes_hundreds_of_entries_per_second(
    md: FixTestClient, sim: SimulatorServer
) -> None:
    req = unique_id("rate")
    md.send(market_data_request(req, ["ACME", "BOLT", "CRUX"]))
    md.wait_for(lambda m: m.msg_type == "X" and m.get(262) == req)
    start = time.monotonic()
    mark = md.mark()
    time.sleep(1.0)
    messages = md.messages(lambda m: m.msg_type == "X" and m.get(262) == req)[-(md.mark() - mark) :]
    entries = sum(len(m.groups(268, 279)) for m in messages)
    elapsed = time.monotonic() - start
    md.send(market_data_request(req, ["ACME", "BOLT", "CRUX"], subscription="2"))
    # 20 ms timer, three symbols: the maker re-quotes and noise traders trade on most steps.
    assert entries / elapsed > 100, f"{entries} entries in {elapsed:.2f}s"
