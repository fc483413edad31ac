"""`fixgw sim`: run the bundled FIX 4.4 exchange simulator in the foreground.

Takes the command line; prints where it listens (`listening on 127.0.0.1:N`, and
`control on 127.0.0.1:M` when a control port is asked for, with the file holding its token when
the token did not come from the environment), logs session events, and serves until SIGINT or
SIGTERM. Everything it writes is owner-only (umask 077). Also runnable as `python -m simulator.cli`.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from fixcore.files import set_owner_only_umask
from simulator.faults import FaultError, parse_assignments
from simulator.settings import DEFAULT_CONFIG, SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixgw sim",
        description="Run the bundled FIX 4.4 exchange simulator (a QuickFIX acceptor) in the foreground.",
    )
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="QuickFIX session settings file (%(default)s)"
    )
    parser.add_argument("--port", type=int, help="FIX listening port (overrides SocketAcceptPort)")
    parser.add_argument("--seed", type=int, help="seed of the background market (overrides SimSeed)")
    parser.add_argument(
        "--state-dir", type=Path, help="directory for the venue database, message store and logs"
    )
    parser.add_argument("--control-port", type=int, help="loopback JSON-lines control port (0: pick one)")
    parser.add_argument(
        "--md-interval-ms",
        type=float,
        help="market timer period in ms (overrides SimMarketDataIntervalMs; default 100)",
    )
    parser.add_argument(
        "--logon-timeout",
        type=float,
        metavar="S",
        help="close a connection that has not logged on S seconds after it opened; 0: never "
        "(overrides SimLogonTimeoutS; default 10)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="switch a fault on from the start (repeatable), e.g. --fault reject_every_nth=3",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (%(default)s)")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one exits (for a simulator run as a child)",
    )
    return parser


# A clean stop (timer, control port, Logout to every session, acceptor stop) takes about a
# second; past this deadline something is stuck, and a venue nobody can stop is worse than one
# that exits hard: every order and fill is committed before its reply was sent.
STOP_DEADLINE_S = 15.0
PARENT_POLL_S = 0.5


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        faults = parse_assignments(args.fault)
        settings = load_settings(
            args.config,
            port=args.port,
            seed=args.seed,
            state_dir=args.state_dir,
            control_port=args.control_port,
            faults=faults,
            md_interval_ms=args.md_interval_ms,
            logon_timeout_s=args.logon_timeout,
        )
    except (FaultError, SettingsError) as exc:
        print(f"fixgw sim: {exc}", file=sys.stderr)
        return 2

    # The venue's database, message store, logs and control token are nobody else's business
    # (set once the arguments are good: a refused start leaves the caller's umask alone).
    set_owner_only_umask()
    # Imported here: quickfix loads only once the arguments are known to be good.
    from simulator.server import SimulatorServer

    stop_requested = threading.Event()

    def _request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    # `kill -USR1 <pid>` prints every thread's Python stack to stderr: for a simulator that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)

    try:
        server = SimulatorServer(settings)
        server.start()
    except Exception as exc:
        print(f"fixgw sim: cannot start: {exc}", file=sys.stderr)
        return 1
    sessions = ", ".join(target for _, _, target in settings.sessions)
    print(f"listening on 127.0.0.1:{server.port} (FIX 4.4; sessions: {sessions})", flush=True)
    if server.control_port is not None:
        print(f"control on 127.0.0.1:{server.control_port}", flush=True)
        if server.control_token_file is not None:
            print(f"control token in {server.control_token_file}", flush=True)
    print(f"state {settings.state_db}", flush=True)
    # Linux's parent-death signal (set by simulator.process) is the fast path; polling the parent
    # pid also covers a parent whose death signal was lost or never armed.
    parent_pid = os.getppid() if args.exit_with_parent else None
    try:
        while not stop_requested.wait(PARENT_POLL_S):
            if parent_pid is not None and os.getppid() != parent_pid:
                print(f"parent process {parent_pid} exited", flush=True)
                break
    finally:
        print("stopping", flush=True)
        # Dumps every thread's stack and exits with status 1 if the stop hangs: in C, without
        # the GIL, so it fires even while a stuck thread holds it.
        faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True)
        server.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
