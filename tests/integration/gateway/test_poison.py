"""Poison messages: a test counterparty (a QuickFIX acceptor playing FIXSIM) answers the
gateway's order with an ExecutionReport the gateway cannot process, one about an order it never
sent, and then a good one. The bad ones are quarantined and answered the FIX way; the good one
is booked; the gateway keeps trading."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import quickfix as fix

from tests.integration.gateway.harness import (
    final_order,
    ledger_path_of,
    load,
    oms_of,
    running_gateway,
    wait_until,
    write_gateway_toml,
)
from tests.support.sim_process import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


class ScriptedVenue(fix.Application):
    """Answers each NewOrderSingle(35=D) with the reports the test scripted; records all it gets."""

    def __init__(self, *, ask_resend: bool = False) -> None:
        super().__init__()
        self.ask_resend = ask_resend
        self.received: list[str] = []
        self.lock = threading.Lock()
        self.exec_ids = iter(range(1, 10_000))

    def onCreate(self, session_id):
        pass

    def onLogon(self, session_id):
        pass

    def onLogout(self, session_id):
        pass

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        with self.lock:
            self.received.append(message.toString())

    def toApp(self, message, session_id):
        pass

    def fromApp(self, message, session_id):
        text = message.toString()
        with self.lock:
            self.received.append(text)
        if message.getHeader().getField(35) != "D":
            return
        if self.ask_resend:
            # pretend the order was lost on the way: ask for it again
            seq = message.getHeader().getField(34)
            request = fix.Message()
            request.getHeader().setField(35, "2")
            request.setField(7, seq)
            request.setField(16, "0")
            threading.Timer(0.05, fix.Session.sendToTarget, args=(request, session_id)).start()
            return
        cl_ord_id = message.getField(11)
        symbol = message.getField(55)
        for report in (
            # a Trade with LastQty(32)=0: valid for the dictionary, not for a fill
            {150: "F", 39: "1", 11: cl_ord_id, 32: "0", 31: "100.00", 14: "0", 151: "10"},
            # a report about an order the gateway never sent
            {150: "0", 39: "0", 11: "never-sent", 14: "0", 151: "10"},
            # an OrdStatus(39) outside the dictionary: QuickFIX rejects it before the application
            {150: "0", 39: "Z", 11: cl_ord_id, 14: "0", 151: "10"},
            # and a good one
            {150: "F", 39: "2", 11: cl_ord_id, 32: "10", 31: "100.00", 14: "10", 151: "0"},
        ):
            self._send_report(session_id, symbol, report)
        # and an application message the gateway does not handle: News(35=B)
        news = fix.Message()
        news.getHeader().setField(35, "B")
        news.setField(148, "venue notice")
        line = fix.Group(33, 58)
        line.setField(58, "nothing to see")
        news.addGroup(line)
        fix.Session.sendToTarget(news, session_id)

    def _send_report(self, session_id, symbol, fields):
        message = fix.Message()
        message.getHeader().setField(35, "8")
        base = {
            37: "V1",
            17: f"X{next(self.exec_ids)}",
            54: "1",
            55: symbol,
            6: "100",
            38: "10",
            60: "20260101-00:00:00",
        }
        for tag, value in {**base, **fields}.items():
            message.setField(tag, value)
        fix.Session.sendToTarget(message, session_id)

    def messages(self, msg_type):
        with self.lock:
            return [m for m in self.received if f"\x0135={msg_type}\x01" in m]


def acceptor_cfg(directory: Path, port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "venue.cfg"
    path.write_text(
        f"""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort={port}
SocketReuseAddress=Y
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt=10
FileStorePath={directory / "store"}
UseDataDictionary=Y
DataDictionary={REPO_ROOT / "fix_specs" / "FIX44.xml"}
ValidateUserDefinedFields=N
AllowUnknownMsgFields=Y

[SESSION]
BeginString=FIX.4.4
SenderCompID=FIXSIM
TargetCompID=FIXGW

[SESSION]
BeginString=FIX.4.4
SenderCompID=FIXSIM
TargetCompID=FIXGW-MD
"""
    )
    return path


def field(raw: str, tag: int) -> str | None:
    for pair in raw.split("\x01"):
        key, _, value = pair.partition("=")
        if key == str(tag):
            return value
    return None


def test_poison_reports_are_quarantined_and_answered_and_the_next_good_one_is_booked(tmp_path):
    port = free_port()
    venue = ScriptedVenue()
    settings = fix.SessionSettings(str(acceptor_cfg(tmp_path / "venue", port)))
    acceptor = fix.ThreadedSocketAcceptor(venue, fix.FileStoreFactory(settings), settings)
    acceptor.start()
    try:
        config = load(write_gateway_toml(tmp_path / "gw", port), port)
        with running_gateway(config) as gateway:
            result = oms_of(gateway).submit(
                symbol="ACME", side="1", qty=10, ord_type="2", price=Decimal("100")
            )
            assert result.accepted

            order = wait_until(lambda: final_order(gateway, result.cl_ord_id), 10, "fill")
            rejects = wait_until(lambda: venue.messages("3"), 5, "Reject(35=3)")
            business_rejects = wait_until(lambda: venue.messages("j"), 5, "BusinessMessageReject(35=j)")

            assert order.status.name == "FILLED" and order.cum_qty == 10
            assert oms_of(gateway).position("ACME").qty == 10

            def quarantine_rows():
                with sqlite3.connect(ledger_path_of(gateway)) as db:
                    return db.execute(
                        "SELECT seq_num, reason, answer, raw FROM quarantine ORDER BY id"
                    ).fetchall()

            everything = wait_until(lambda: len(rows := quarantine_rows()) >= 4 and rows, 5, "4 quarantined")
            quarantined, (news_row,) = everything[:3], everything[3:]
            assert (
                "unsupported message type B" in news_row[1] and news_row[2] == "BusinessMessageReject(35=j)"
            )
            wait_until(lambda: any(field(m, 380) == "3" for m in venue.messages("j")), 5, "35=j reason 3")
            with sqlite3.connect(ledger_path_of(gateway)) as db:
                fills = db.execute("SELECT last_qty FROM fills").fetchall()
            assert fills == [(10,)]
            assert len(quarantined) == 3
            (
                (bad_seq, bad_reason, bad_answer, bad_raw),
                (ghost_seq, ghost_reason, ghost_answer, _),
                (engine_seq, engine_reason, engine_answer, engine_raw),
            ) = quarantined
            assert "rejected by QuickFIX" in engine_reason and "(tag 39)" in engine_reason
            assert engine_answer == "Reject(35=3)" and "|39=Z|" in engine_raw and engine_seq == ghost_seq + 1
            assert "LastQty(32)" in bad_reason and bad_answer == "Reject(35=3)" and "|150=F|" in bad_raw
            assert "never-sent" in ghost_reason and ghost_answer == "BusinessMessageReject(35=j)"
            assert field(rejects[0], 45) == str(bad_seq) and field(rejects[0], 371) == "32"
            wait_until(lambda: len(venue.messages("3")) >= 2, 5, "the engine's Reject(35=3)")
            assert (
                field(venue.messages("3")[1], 45) == str(engine_seq)
                and field(venue.messages("3")[1], 371) == "39"
            )
            assert field(business_rejects[0], 45) == str(ghost_seq) and field(business_rejects[0], 372) == "8"

            # and it keeps trading: the next order goes through the same way
            again = oms_of(gateway).submit(
                symbol="ACME", side="1", qty=10, ord_type="2", price=Decimal("100")
            )
            wait_until(lambda: final_order(gateway, again.cl_ord_id), 10, "second fill")
            assert oms_of(gateway).position("ACME").qty == 20
    finally:
        acceptor.stop()


@pytest.mark.parametrize(("max_age_ms", "resent"), [(1, False), (0, True)])
def test_stale_order_is_not_resent_after_a_resend_request(tmp_path, max_age_ms, resent):
    port = free_port()
    venue = ScriptedVenue(ask_resend=True)
    settings = fix.SessionSettings(str(acceptor_cfg(tmp_path / "venue", port)))
    acceptor = fix.ThreadedSocketAcceptor(venue, fix.FileStoreFactory(settings), settings)
    acceptor.start()
    try:
        toml = write_gateway_toml(tmp_path / "gw", port, extra="")
        text = toml.read_text().replace(
            "status_interval_ms = 500", f"status_interval_ms = 500\nresend_max_age_ms = {max_age_ms}"
        )
        toml.write_text(text)
        config = load(toml, port)
        with running_gateway(config) as gateway:
            result = oms_of(gateway).submit(
                symbol="ACME", side="1", qty=1, ord_type="2", price=Decimal("100")
            )
            assert result.accepted
            log = config.gateway.state_dir / "fix-messages.log"
            if resent:
                wait_until(
                    lambda: "|43=Y|" in log.read_text() and "OUT" in log.read_text(), 5, "a PossDup resend"
                )
                outgoing = [
                    line for line in log.read_text().splitlines() if " OUT " in line and "|35=D|" in line
                ]
                assert len(outgoing) == 2 and "|43=Y|" in outgoing[1]
                assert gateway.application.stale_resends_suppressed == 0
            else:
                wait_until(
                    lambda: gateway.application.stale_resends_suppressed == 1, 5, "a suppressed resend"
                )
                wait_until(
                    lambda: "|35=4|" in log.read_text() and "|123=Y|" in log.read_text(), 5, "a gap fill"
                )
                outgoing = [
                    line for line in log.read_text().splitlines() if " OUT " in line and "|35=D|" in line
                ]
                assert len(outgoing) == 1
    finally:
        acceptor.stop()
