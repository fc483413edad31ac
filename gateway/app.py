"""Composition root and `fixgw run`: config -> ledger -> order manager -> FIX application ->
QuickFIX SocketInitiator, with the decision path's sink (or the built-in strategy) plugged in.

`fixgw run --config gateway.toml [--host H] [--port N] [--state-dir DIR] [--seconds S]`
starts one initiator for every session the venues name (order entry and market data, one or
many venues), reconnects each session with exponential backoff and jitter inside QuickFIX's
session schedule (`[reconnect]`, gateway/fix/reconnect.py), prints a status line every
`status_interval_ms`, and on SIGTERM/SIGINT (or after --seconds) cancels its working orders and
waits for the answers ([orders] cancel_on_stop, keep_gtc_on_stop, stop_timeout_ms), prints what
is still working, then logs out and stops the engine before the process exits (a process that
exits with a started engine segfaults at teardown).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from fixcore.files import owner_only, private_dir, restrict_tree, set_owner_only_umask
from gateway.config import GatewayConfig, load_config
from gateway.domain.errors import ConfigError, GatewayError
from gateway.domain.fix_values import TimeInForce
from gateway.domain.ports import SinkContext
from gateway.ledger.store import Ledger, open_ledger
from gateway.oms.order_manager import OrderManager, Route
from gateway.telemetry import OrderSpans, Telemetry, setup_telemetry

log = logging.getLogger("fixgw")
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
SIGNAL_EXIT_CODE = 0
TIMER_INTERVAL_S = 0.2  # how often request timeouts and cancel retries are looked at


def configure_logging(state_dir: Path, *, to_stderr: bool = True, level: int = logging.INFO) -> Path:
    """Gateway log and FIX message log under the state dir; the gateway log also to stderr."""
    private_dir(state_dir)  # owner-only state (docs/security.md)
    restrict_tree(state_dir)  # logs an older version left world-readable
    root = logging.getLogger("fixgw")
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    main_log = state_dir / "gateway.log"
    with owner_only():
        file_handler = logging.FileHandler(main_log, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(file_handler)
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(LOG_FORMAT))
        stream.setLevel(logging.WARNING)
        root.addHandler(stream)
    messages = logging.getLogger("fixgw.fix.messages")
    messages.propagate = False
    for handler in list(messages.handlers):
        messages.removeHandler(handler)
        handler.close()
    with owner_only():
        message_handler = logging.FileHandler(state_dir / "fix-messages.log", encoding="utf-8")
    message_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    messages.addHandler(message_handler)
    messages.setLevel(logging.INFO)
    return main_log


class Gateway:
    """The running gateway: build with a config, `start()`, `stop()` (always, in a finally)."""

    def __init__(self, config: GatewayConfig, *, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.config = config
        self.clock_ns = clock_ns
        self.state_dir = config.gateway.state_dir
        self.ledger: Ledger | None = None
        self.oms: OrderManager | None = None
        self.application: Any = None
        self.telemetry: Telemetry | None = None
        self.sink: Any = None
        self.run_id = 0
        self.session_keys: list[str] = []
        self._initiator: Any = None
        self._order_spans: OrderSpans | None = None
        self._stopped = False
        self.reconnect: Any = None  # gateway.fix.reconnect.ReconnectDriver when [reconnect] enabled
        self._timer_stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._previous_umask: int | None = None

    def start(self) -> None:
        import quickfix as fix

        from gateway.fix.application import GatewayApplication, SessionRole
        from gateway.fix.logs import MaskingLogFactory, RecentIncoming
        from gateway.fix.reconnect import QuickFixSessionSwitch, ReconnectDriver, SessionEventTap
        from gateway.fix.settings import write_effective_cfg

        config = self.config
        self._check_credentials()
        # Everything under the state dir is owner-only, also what is created after start-up
        # (QuickFIX re-creates its store files on a sequence reset): umask 077 until stop().
        private_dir(self.state_dir)
        restrict_tree(self.state_dir)
        self._previous_umask = set_owner_only_umask()
        cfg_path, self.session_keys = write_effective_cfg(config, self.state_dir)
        self.ledger = open_ledger(
            config.ledger.path,
            synchronous=config.ledger.synchronous,
            busy_timeout_ms=config.ledger.busy_timeout_ms,
        )
        self.run_id = self.ledger.start_run(started_ns=self.clock_ns(), config_path=str(config.source))
        self.telemetry = setup_telemetry(config.telemetry)
        self.telemetry.warm_up()

        roles: dict[str, SessionRole] = {}
        routes: dict[str, Route] = {}
        for venue in config.venues.values():
            symbols = tuple(config.symbols_for_venue(venue.name))
            md_session = venue.market_data_session or venue.order_session
            for key in {venue.order_session, md_session}:
                roles[key] = SessionRole(
                    key=key,
                    venue=venue.name,
                    order_entry=key == venue.order_session,
                    market_data=key == md_session,
                    symbols=symbols,
                    market_depth=venue.market_depth,
                    username_env=venue.username_env,
                    password_env=venue.password_env,
                )
            for symbol in symbols:
                routes[symbol] = Route(venue=venue.name, session=venue.order_session)

        self._order_spans = OrderSpans(self.telemetry.tracer)
        self.application = GatewayApplication(
            roles=roles, clock_ns=self.clock_ns, resend_max_age_ms=config.gateway.resend_max_age_ms
        )
        self.oms = OrderManager(
            ledger=self.ledger,
            sender=self.application,
            routes=routes,
            limits=config.limits,
            run_id=self.run_id,
            clock_ns=self.clock_ns,
            observer=self._order_spans,
            follow_up=config.orders,
        )
        self.sink = self._build_sink()
        self.application.attach(oms=self.oms, sink=self.sink)

        settings = fix.SessionSettings(str(cfg_path))
        store = fix.FileStoreFactory(settings)
        recent = RecentIncoming()
        self.application.recent_incoming = recent
        log_factory: Any = MaskingLogFactory(log_messages=config.gateway.log_fix_messages, recent=recent)
        if config.reconnect.enabled:
            self.reconnect = ReconnectDriver(
                config.reconnect, self.session_keys, switch=QuickFixSessionSwitch()
            )
            # the engine's connection events reach the driver through the session logs, the
            # logons through the application; both on QuickFIX's thread
            log_factory = SessionEventTap(log_factory, self.reconnect)
            self.application.session_observer = self.reconnect
            self._check_polling_step(settings)
        self._log_factory = log_factory
        self._initiator = fix.SocketInitiator(self.application, store, settings, self._log_factory)
        log.info(
            "starting run %d: sessions %s, ledger %s, effective settings %s",
            self.run_id,
            ", ".join(self.session_keys),
            config.ledger.path,
            cfg_path,
        )
        if self.reconnect is not None:
            self.reconnect.start()
        # Everything loaded so far (numba, onnxruntime, quickfix, the model, the ledger's state)
        # lives as long as the process: moved out of the collector's reach, a full collection
        # during trading scans only what trading allocates. A full collection over the gateway's
        # imported modules alone took about 60 ms here, on whichever callback set it off; after
        # gc.freeze() the same collection takes microseconds.
        gc.collect()
        gc.freeze()
        self._initiator.start()
        self._timer = threading.Thread(target=self._follow_up_requests, name="oms-timer", daemon=True)
        self._timer.start()

    def _follow_up_requests(self) -> None:
        """The order manager's timer: request timeouts and cancel retries (OrderManager.check_pending).
        A thread of its own, holding no lock of QuickFIX's, so it may send."""
        while not self._timer_stop.wait(TIMER_INTERVAL_S):
            oms = self.oms
            if oms is None:
                continue
            try:
                oms.check_pending()
            except Exception:
                log.exception("order follow-up (request timeouts, cancel retries) failed; next tick retries")

    def _check_polling_step(self, settings: Any) -> None:
        """With backoff on, ReconnectInterval is how often QuickFIX looks for enabled sessions:
        a step coarser than the initial delay stretches every delay to it."""
        defaults = settings.get()
        if not defaults.has("ReconnectInterval"):
            return  # QuickFIX's default is 30 s
        step_s = defaults.getInt("ReconnectInterval")
        if step_s > max(1.0, self.config.reconnect.initial_delay_s):
            log.warning(
                "ReconnectInterval=%d s is the polling step of the reconnect backoff: delays shorter "
                "than that wait for it (set ReconnectInterval=1 in %s)",
                step_s,
                self.config.gateway.sessions_cfg,
            )

    def _check_credentials(self) -> None:
        import os

        for venue in self.config.venues.values():
            for key, env in (("username_env", venue.username_env), ("password_env", venue.password_env)):
                if env and not os.environ.get(env):
                    message = f"[venues.{venue.name}] {key}: environment variable {env} is not set"
                    if self.config.gateway.mode == "live":
                        raise ConfigError(message)
                    log.info("%s (simulator mode: logging on without it)", message)

    def _build_sink(self) -> Any:
        assert self.oms is not None and self.ledger is not None
        symbols = sorted(self.config.routing)
        if self.config.decision is not None:
            decision = importlib.import_module("gateway.decision")
            context = SinkContext(
                orders=self.oms,
                symbols=symbols,
                state_dir=self.state_dir / "decision",
                ledger_path=self.ledger.path,
                clock_ns=self.clock_ns,
                request_snapshot=self._request_snapshot,
                decision_table=self.config.decision,
            )
            log.info("decision path: gateway.decision.build_sink")
            return decision.build_sink(context)
        from gateway.strategy.builtin import BuiltinStrategy

        log.info("decision path: built-in %s strategy", self.config.strategy.style)
        return BuiltinStrategy(
            orders=self.oms,
            config=self.config.strategy,
            symbols=symbols,
            clock_ns=self.clock_ns,
            on_mark=self.oms.mark,
        )

    def _request_snapshot(self, symbol: str) -> None:
        if self.application is not None:
            self.application.request_snapshot(symbol)

    def wait_logged_on(self, timeout_s: float) -> bool:
        return bool(self.application and self.application.wait_logged_on(self.session_keys, timeout_s))

    def wind_down(self, timeout_s: float, *, keep_gtc: bool = False) -> int:
        """Stop new orders (the order manager's kill switch), cancel every working order (those
        with a request in flight as soon as it is answered, retried if a cancel is rejected or
        lost) and wait up to `timeout_s` for them to end. Returns how many orders it set out to
        cancel; `still_working()` says which did not end in time."""
        oms = self.oms
        if oms is None:
            return 0
        oms.halt("winding down")
        taken = oms.cancel_working(reason="winding down", within_ns=int(timeout_s * 1e9), keep_gtc=keep_gtc)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._cancelling(oms, keep_gtc):
            time.sleep(0.05)
        return taken

    @staticmethod
    def _cancelling(oms: OrderManager, keep_gtc: bool) -> bool:
        return any(not (keep_gtc and o.tif is TimeInForce.GTC) for o in oms.live_orders())

    def still_working(self) -> list[str]:
        """One line per live order: what a stop leaves at the venue."""
        if self.oms is None:
            return []
        return [
            f"{o.cl_ord_id} {o.symbol} {o.side.name} {o.leaves_qty}@{o.price} {o.tif.name} {o.status.name}"
            + (f" (pending {o.pending})" if o.pending else "")
            for o in self.oms.live_orders()
        ]

    def cancel_on_stop(self) -> list[str]:
        """What `fixgw run` does before logging out: cancel working orders ([orders]
        cancel_on_stop, keep_gtc_on_stop) and wait up to stop_timeout_ms for the answers.
        Returns the orders still working afterwards."""
        orders = self.config.orders
        if self.oms is None:
            return []
        if orders.cancel_on_stop and self.oms.live_orders():
            log.info("stopping: cancelling working orders (up to %d ms)", orders.stop_timeout_ms)
            self.wind_down(orders.stop_timeout_ms / 1000, keep_gtc=orders.keep_gtc_on_stop)
        return self.still_working()

    def stop(self) -> None:
        """Log out every session and stop the engine, then flush telemetry and close the ledger."""
        if self._stopped:
            return
        self._stopped = True
        self._timer_stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        if self.application is not None:
            self.application.detach_sink()
        if self.reconnect is not None:
            # first: once the initiator logs out, nothing may enable a session again
            self.reconnect.stop()
        if self._initiator is not None:
            try:
                self._initiator.stop()  # sends Logout(35=5) and waits for the sessions to end
            except Exception:
                log.exception("stopping the initiator")
            # Free the initiator now: its destructor takes its sessions out of QuickFIX's
            # process-wide registry. Left to the garbage collector (a traceback that still
            # references this gateway, say), a stopped session would keep its SessionID there and
            # a later gateway's sendToTarget would go to the dead session instead of its own.
            self._initiator = None
        if self.application is not None:
            self.application.close()
            try:
                self.application.drain_engine_rejects()
            except Exception:
                log.exception("quarantining engine rejects")
        if self.sink is not None:
            try:
                self.sink.close()
            except Exception:
                log.exception("closing the market-data sink")
        if self._order_spans is not None:
            self._order_spans.close()
        if self.telemetry is not None:
            self.telemetry.shutdown()
        if self.ledger is not None:
            self.ledger.close()
        if self._previous_umask is not None:
            os.umask(self._previous_umask)
            self._previous_umask = None
        # back within the collector's reach: a process that starts another gateway (the tests,
        # the demo's restarts) must be able to free this one's cycles
        gc.unfreeze()
        log.info("stopped run %d", self.run_id)

    def status_line(self) -> str:
        if self.oms is None or self.application is None:
            return "starting"
        sessions = " ".join(
            f"{key.split(':', 1)[1]}={self._session_status(key, up)}"
            for key, up in self.application.logged_on().items()
        )
        counters = self.oms.counters
        positions = " ".join(
            f"{p.symbol}={p.qty}@{p.avg_cost:.4f} rpnl={p.realized_pnl:.2f}"
            for p in self.oms.positions().values()
        )
        return (
            f"{sessions} | orders={counters['submitted']} fills={counters['fills']} "
            f"live={len(self.oms.live_orders())} dup={counters['duplicates']} "
            f"quarantined={self.application.counters['quarantined']} | {positions}"
        )

    def _session_status(self, key: str, up: bool) -> str:
        if up:
            return "up"
        if self.reconnect is None:
            return "down"
        return f"down({self.reconnect.describe(key)})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixgw run", description="Run the gateway against its venues.")
    parser.add_argument("--config", required=True, type=Path, help="gateway TOML file")
    parser.add_argument("--host", help="override SocketConnectHost of every session")
    parser.add_argument("--port", type=int, help="override SocketConnectPort of every session")
    parser.add_argument("--state-dir", type=Path, help="override [gateway] state_dir")
    parser.add_argument("--ledger", type=Path, help="override [ledger] path")
    parser.add_argument("--seconds", type=float, help="stop by itself after this many seconds")
    parser.add_argument("--quiet", action="store_true", help="no status line on stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.state_dir is not None:
        overrides["state_dir"] = str(args.state_dir)
    try:
        config = load_config(args.config, overrides)
        if args.ledger is not None:
            from dataclasses import replace

            config = replace(config, ledger=replace(config.ledger, path=args.ledger))
    except ConfigError as exc:
        print(f"fixgw run: {exc}", file=sys.stderr)
        return 2
    log_path = configure_logging(config.gateway.state_dir)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: logging out", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    gateway = Gateway(config)
    try:
        try:
            gateway.start()
        except GatewayError as exc:
            print(f"fixgw run: {exc}", file=sys.stderr)
            return 2
        print(f"fixgw run: run {gateway.run_id}, ledger {config.ledger.path}, log {log_path}", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        interval_s = config.gateway.status_interval_ms / 1000
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(interval_s)
            if not args.quiet:
                print(gateway.status_line(), flush=True)
        remaining = gateway.cancel_on_stop()
        if remaining:
            print(f"fixgw run: stopping with {len(remaining)} order(s) still working:", flush=True)
            for line in remaining:
                print(f"  {line}", flush=True)
        else:
            print("fixgw run: stopping with no orders working", flush=True)
        return SIGNAL_EXIT_CODE
    finally:
        gateway.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    raise SystemExit(main())
