"""Composition root of the simulator: settings -> store -> venue -> QuickFIX acceptor.

`SimulatorServer(settings)` opens the state database, restores the venue from it, starts a
QuickFIX `ThreadedSocketAcceptor` (one thread per session, so one slow peer cannot stall the
others), the market timer that drives the background agents (and, once a second, closes
connections that never logged on), and the control port.
Each session's accounts, credentials and market-data cap come from the settings
(simulator/clients.py); the control port gets its token from the environment or an owner-only
file (simulator/control.py); everything written under the state directory is owner-only.
`stop()` logs every session out first (QuickFIX's `stop()` was seen to crash with live sessions)
and relies on every change having been committed already, so a crash on the way out loses
nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import quickfix as fix

from fixcore.files import owner_only, private_dir, restrict_tree
from simulator.acceptor import MaskingLogFactory, MessageLogWriter, SimulatorApplication
from simulator.backpressure import SendQueueProbe, backed_up_limit
from simulator.clients import Clients
from simulator.control import control_token
from simulator.faults import Faults
from simulator.idle_connections import LogonTimeout, ProcSocketProbe
from simulator.liquidity import LiquidityConfig, MarketAgents
from simulator.settings import SimulatorSettings, load_settings
from simulator.store import VenueStore
from simulator.venue import Venue

log = logging.getLogger("simulator")

# A flood of connections that never log on gets one line each up to this many, then one summary
# line per sweep: the log stays readable and cheap under attack.
LOGON_TIMEOUT_LINES_PER_SWEEP = 20


class SimulatorServer:
    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.faults = Faults(settings.faults)
        self.clients = Clients(settings.clients)
        private_dir(settings.state_dir)
        self.control_token: str | None = None
        self.control_token_file: Path | None = None
        if settings.control_port is not None:
            # Before the tree is tightened: a token file others could read is refused, not fixed.
            with owner_only():
                self.control_token, self.control_token_file = control_token(
                    settings.control_token_env, settings.control_token_file
                )
        # State left world-readable by an older version is tightened; what is created from here
        # on is owner-only (the CLI also sets the process umask, this covers in-process use).
        restrict_tree(settings.state_dir)
        with owner_only():
            self.store = VenueStore(settings.state_db)
        boot = self.store.start_boot()
        self.venue = Venue(
            settings.instruments,
            clock_ns=time.time_ns,
            id_prefix=str(boot),
            account_owners=self.clients.accounts_by_session(),
        )
        state = self.store.load(boot)
        self.venue.restore(state.orders, state.cl_ord_ids, state.fills)
        self.agents = MarketAgents(
            settings.instruments, settings.seed, LiquidityConfig(levels=settings.maker_levels)
        )
        self.send_queues = SendQueueProbe(settings.port, backed_up_limit(settings.socket_send_buffer_bytes))
        self.app = SimulatorApplication(
            venue=self.venue,
            store=self.store,
            faults=self.faults,
            agents=self.agents,
            clients=self.clients,
            send_queues=self.send_queues,
            stalled_peer_timeout_s=settings.stalled_peer_timeout_ms / 1000,
            max_entries_per_message=settings.md_max_entries,
        )
        self.logon_timeout = self._make_logon_timeout(settings)
        with owner_only():
            self._log_writer = MessageLogWriter(
                settings.message_log_dir, market_data=settings.message_log_market_data
            )
        self._acceptor: fix.ThreadedSocketAcceptor | None = None
        self._stop_event = threading.Event()
        self._market_paused = threading.Event()
        self._timer: threading.Thread | None = None
        self._control: object | None = None
        self.control_port: int | None = None
        self.market_steps = 0

    @staticmethod
    def _make_logon_timeout(settings: SimulatorSettings) -> LogonTimeout | None:
        if settings.logon_timeout_s <= 0:
            return None
        probe = ProcSocketProbe(settings.port)
        if not probe.available:
            log.warning("no /proc/self/fd or TCP_INFO here: connections that never log on stay open")
            return None
        return LogonTimeout(settings.logon_timeout_s, probe)

    @classmethod
    def from_config(cls, config: Path | None = None, **overrides: object) -> SimulatorServer:
        return cls(load_settings(config, **overrides))  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return self.settings.port

    def start(self) -> None:
        # Day orders left over from an earlier trading day expire before anyone can trade.
        with self.app.lock:
            self.app.process(self.venue.expire_day_orders(before_date=self.venue.trading_date()))
        unprotected = self.clients.unprotected()
        if unprotected:
            log.warning(
                "passwords are set for some sessions but not for %s: those cannot log on",
                ", ".join(unprotected),
            )
        quickfix_settings = fix.SessionSettings(str(self.settings.effective_config))
        with owner_only():  # QuickFIX's FileStore creates its files in the acceptor's constructor
            store_factory = fix.FileStoreFactory(quickfix_settings)
            log_factory = MaskingLogFactory(self._log_writer, self.app.drop_if_not_logged_on)
            self._log_factory = log_factory  # QuickFIX keeps a raw pointer
            self._acceptor = fix.ThreadedSocketAcceptor(
                self.app, store_factory, quickfix_settings, log_factory
            )
        self._acceptor.start()
        self._timer = threading.Thread(target=self._run_market, name="sim-market", daemon=True)
        self._timer.start()
        if self.settings.control_port is not None:
            from simulator.control import ControlServer, remember_token

            assert self.control_token is not None
            token = self.control_token
            control = ControlServer(
                self,
                self.settings.control_port,
                token=token,
                idle_timeout_s=self.settings.control_idle_timeout_s,
                max_connections=self.settings.control_max_connections,
            )
            control.start()
            self._control = control
            self.control_port = control.port
            remember_token(control.port, token)  # for SimulatorControl(port) in this process

    def _run_market(self) -> None:
        interval_s = self.settings.md_interval_ms / 1000
        next_due = time.monotonic()
        while not self._stop_event.is_set():
            next_due += interval_s
            try:
                if not self._market_paused.is_set():
                    self.app.market_step()
                    self.market_steps += 1
            except Exception:
                log.exception("market step failed")
            # On this thread, outside the venue lock, at most once a second (see LogonTimeout).
            self._close_connections_that_never_logged_on()
            delay = next_due - time.monotonic()
            if delay < 0:
                next_due = time.monotonic()  # behind schedule: do not try to catch up in a burst
                delay = 0
            self._stop_event.wait(delay)

    def _close_connections_that_never_logged_on(self) -> None:
        if self.logon_timeout is None:
            return
        try:
            closed = self.logon_timeout.maybe_sweep()
            for connection in closed[:LOGON_TIMEOUT_LINES_PER_SWEEP]:
                log.warning(
                    "closed FIX connection from %s: no logon within %g s (seen %.1f s, %d bytes received)",
                    connection.peer,
                    self.logon_timeout.timeout_s,
                    connection.age_s,
                    connection.bytes_received,
                )
            if len(closed) > LOGON_TIMEOUT_LINES_PER_SWEEP:
                log.warning(
                    "closed %d more FIX connections that did not log on within %g s",
                    len(closed) - LOGON_TIMEOUT_LINES_PER_SWEEP,
                    self.logon_timeout.timeout_s,
                )
        except Exception:
            log.exception("logon timeout sweep failed")

    def pause_market(self) -> None:
        """Stop the background agents (the book then changes only through client orders)."""
        with self.app.lock:  # a step in progress finishes first
            self._market_paused.set()

    def resume_market(self) -> None:
        self._market_paused.clear()

    @property
    def market_paused(self) -> bool:
        return self._market_paused.is_set()

    def stop(self) -> None:
        self._stop_event.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None
        if self._control is not None:
            from simulator.control import ControlServer, forget_token

            assert isinstance(self._control, ControlServer)
            self._control.stop()
            self._control = None
            if self.control_port is not None:
                forget_token(self.control_port)
        if self._acceptor is not None:
            self.app.logout_all("simulator shutting down")
            self._acceptor.stop()
            self._acceptor = None
        with self.app.lock:
            self.store.close()
        self._log_writer.close()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
