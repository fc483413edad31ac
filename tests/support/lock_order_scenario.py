"""A disconnect racing an order-manager call from another thread, with the real QuickFIX engine
(an in-process acceptor and initiator over loopback) and the gateway's own objects wired as
gateway/app.py wires them, in the default layout where one session carries orders and market data.

QuickFIX holds its session mutex while it calls onLogout (Session::disconnect); the gateway's
onLogout tells the decision path, which cancels through the order manager. A thread that holds
the order manager's lock while waiting in sendToTarget for that mutex would deadlock with it.
The session log sleeps 0.5 s inside "Disconnecting" (still under the mutex) to make the
interleaving certain. Run as `python -m tests.support.lock_order_scenario DIR`: prints
"no deadlock" and exits 0, or dumps every thread's stack and exits 3.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import quickfix as fix

from gateway.config import LimitsSection
from gateway.decision import build_sink
from gateway.domain.fix_values import ExecType, OrdStatus
from gateway.fix.application import GatewayApplication, SessionRole
from gateway.ledger.store import open_ledger
from gateway.oms.order_manager import OrderManager, Route
from simulator.process import free_port
from tests.unit.decision.helpers import T0_NS, constant_model_bytes, context, register_model, snapshot
from tests.unit.gateway.factories import report

KEY = "FIX.4.4:FIXGW->FIXSIM"
DEADLOCK_EXIT = 3


class SilentVenue(fix.Application):
    def onCreate(self, session_id: Any) -> None: ...
    def onLogon(self, session_id: Any) -> None: ...
    def onLogout(self, session_id: Any) -> None: ...
    def toAdmin(self, message: Any, session_id: Any) -> None: ...
    def fromAdmin(self, message: Any, session_id: Any) -> None: ...
    def toApp(self, message: Any, session_id: Any) -> None: ...
    def fromApp(self, message: Any, session_id: Any) -> None: ...


class SlowDisconnectLog(fix.Log):
    """Sleeps inside Session::disconnect, after it took the session mutex."""

    def __init__(self, name: str, disconnecting: threading.Event) -> None:
        super().__init__()
        self.name = name
        self.disconnecting = disconnecting

    def clear(self) -> None: ...
    def backup(self) -> None: ...
    def onIncoming(self, text: str) -> None: ...
    def onOutgoing(self, text: str) -> None: ...

    def onEvent(self, text: str) -> None:
        if self.name == KEY and text.startswith("Disconnecting"):
            self.disconnecting.set()
            time.sleep(0.5)


class SlowDisconnectLogFactory(fix.LogFactory):
    def __init__(self, disconnecting: threading.Event) -> None:
        super().__init__()
        self.disconnecting = disconnecting
        self.logs: list[SlowDisconnectLog] = []

    def create(self, *args: Any) -> SlowDisconnectLog:
        name = args[0].toString() if args else "engine"
        log = SlowDisconnectLog(name, self.disconnecting)
        self.logs.append(log)
        log.__disown__()
        return log

    def destroy(self, log: Any) -> None: ...


def _settings(root: Path, port: int, role: str) -> Any:
    common = (
        "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\nUseDataDictionary=N\n"
        f"ResetOnLogon=Y\nReconnectInterval=60\nFileStorePath={root}/store-{role}\n"
    )
    if role == "acceptor":
        body = f"ConnectionType=acceptor\nSocketAcceptPort={port}\n[SESSION]\nBeginString=FIX.4.4\n"
        body += "SenderCompID=FIXSIM\nTargetCompID=FIXGW\n"
    else:
        body = f"ConnectionType=initiator\nSocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n"
        body += "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=FIXGW\nTargetCompID=FIXSIM\n"
    path = root / f"{role}.cfg"
    path.write_text(common + body)
    return fix.SessionSettings(str(path))


def main(root: Path) -> int:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    ledger = open_ledger(root / "ledger.sqlite")
    run_id = ledger.start_run(started_ns=1, config_path=None)
    role = SessionRole(key=KEY, venue="SIM", order_entry=True, market_data=True, symbols=("ACME",))
    application = GatewayApplication(roles={KEY: role})
    oms = OrderManager(
        ledger=ledger,
        sender=application,
        routes={"ACME": Route(venue="SIM", session=KEY)},
        limits=LimitsSection(),
        run_id=run_id,
    )
    register_model(root / "decision" / "models", constant_model_bytes(1.0), name="m")
    table = {"tracing": False, "full_position_bps": 1.0, "budget_us": 1_000_000}
    sink = build_sink(context(root, oms, table=table))
    application.attach(oms=oms, sink=sink)

    venue_settings = _settings(root, port, "acceptor")
    acceptor = fix.SocketAcceptor(SilentVenue(), fix.FileStoreFactory(venue_settings), venue_settings)
    acceptor.start()
    settings = _settings(root, port, "initiator")
    disconnecting = threading.Event()
    initiator = fix.SocketInitiator(
        application, fix.FileStoreFactory(settings), settings, SlowDisconnectLogFactory(disconnecting)
    )
    initiator.start()
    if not application.wait_logged_on([KEY], 15):
        print("no logon", flush=True)
        os._exit(2)

    # market data makes the book usable: the sink submits through the real order manager
    sink.on_market_data(
        snapshot("ACME", rpt_seq=1, bids=[("99.99", 10)], asks=[("100.01", 10)], seq=2, sending_ns=T0_NS),
        KEY,
        T0_NS,
    )
    live = oms.live_orders()
    if not live:
        print("the decision path did not submit", flush=True)
        os._exit(2)
    cl_ord_id = live[0].cl_ord_id
    results: dict[str, object] = {}

    def cancel_from_another_thread() -> None:  # as Gateway.wind_down or the recorder thread do
        disconnecting.wait()
        results["cancel"] = oms.cancel(cl_ord_id)

    caller = threading.Thread(target=cancel_from_another_thread, name="oms-caller", daemon=True)
    caller.start()
    # the venue drops the connection (heartbeat timeout, venue logout, network: any disconnect)
    fix.Session.lookupSession(fix.SessionID("FIX.4.4", "FIXSIM", "FIXGW")).disconnect()
    caller.join(timeout=10)
    if caller.is_alive():
        print("DEADLOCK: the order-manager call is still waiting after 10 s", flush=True)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(DEADLOCK_EXIT)
    # the order manager still takes reports: a fill arriving now must not wait for ever
    applied: dict[str, object] = {}
    reporter = threading.Thread(
        target=lambda: applied.update(
            outcome=oms.on_execution_report(
                report(cl_ord_id, ExecType.NEW, OrdStatus.NEW, leaves_qty=live[0].order_qty)
            )
        ),
        daemon=True,
    )
    reporter.start()
    reporter.join(timeout=10)
    if reporter.is_alive():
        print("DEADLOCK: a report cannot reach the order manager", flush=True)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(DEADLOCK_EXIT)
    application.close()  # the deferred session-down work has run
    print(f"no deadlock: cancel {results['cancel']}", flush=True)
    sys.stdout.flush()
    initiator.stop()
    acceptor.stop()
    sink.close()
    ledger.close()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
