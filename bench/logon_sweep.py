"""Cost of the simulator's logon-timeout sweep (`simulator.idle_connections`), in process.

Once a second the simulator lists its own descriptors and looks at every connection on its FIX
port that has not sent anything yet. This measures one sweep, `LogonTimeout.sweep()` with the real
`ProcSocketProbe`, against the least any /proc-based sweep costs: `listdir(/proc/self/fd)` and a
`readlink` per descriptor, measured in the same run on the same descriptors.

The benchmark process holds both ends of every connection: a listening socket stands for the FIX
port; 3 accepted connections on which the "venue" has written (logged-on sessions) and 0, 20 or
200 on which it has written nothing (peers that never log on). The timeout is an hour, so nothing
is shut down and every sweep does the full work.

Run: `python -m bench logon_sweep [--quick]`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence

from bench.common import LatencyStats, Report, time_calls
from simulator.idle_connections import FD_DIR, LogonTimeout, ProcSocketProbe

LOGGED_ON = 3
SILENT_COUNTS = (0, 20, 200)


@contextlib.contextmanager
def connections(logged_on: int, silent: int) -> Iterator[int]:
    """A listening port with `logged_on` answered and `silent` unanswered accepted connections."""
    opened: list[socket.socket] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    opened.append(listener)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(logged_on + silent + 8)
        port: int = listener.getsockname()[1]
        for index in range(logged_on + silent):
            client = socket.create_connection(("127.0.0.1", port))
            accepted, _ = listener.accept()
            opened += [client, accepted]
            if index < logged_on:
                accepted.sendall(b"8=FIX.4.4\x01")  # the venue's answer: this one logged on
                client.recv(64)
        yield port
    finally:
        for sock in opened:
            sock.close()


def bare_scan() -> int:
    """The floor of any sweep that finds its sockets through /proc: list and read every link."""
    fd_dir = str(FD_DIR)
    sockets = 0
    for name in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            sockets += os.readlink(f"{fd_dir}/{name}").startswith("socket:[")
    return sockets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench logon_sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sweeps")
    args = parser.parse_args(argv)
    if not FD_DIR.is_dir():
        print("logon_sweep: skipped: no /proc/self/fd on this system", file=sys.stderr)
        return 0
    sweeps = 300 if args.quick else 2000
    report = Report("logon_sweep")
    for silent in SILENT_COUNTS:
        with connections(LOGGED_ON, silent) as port:
            sweeper = LogonTimeout(3600.0, ProcSocketProbe(port))

            def one_sweep(sweeper: LogonTimeout = sweeper) -> None:
                sweeper.sweep(time.monotonic())

            descriptors = len(os.listdir(FD_DIR))
            sweep = LatencyStats.from_samples_ns(
                f"sweep, {LOGGED_ON} logged on + {silent} silent ({descriptors} fds)",
                time_calls(one_sweep, sweeps, warmup=20),
            )
            floor = LatencyStats.from_samples_ns(
                f"listdir+readlink, {descriptors} fds", time_calls(bare_scan, sweeps, warmup=20)
            )
            report.add_latency(sweep, baselines=[floor])
    report.print_table()
    report.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
