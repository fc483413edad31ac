"""Close FIX connections that never log on (Linux).

Why: QuickFIX's ThreadedSocketAcceptor gives every accepted connection a thread of its own and
tells the application nothing until a Logon(35=A) binds the connection to a session. A peer that
connects and then sends nothing, or dribbles a Logon that never completes, would keep its
connection and that thread for ever.

What tells such a connection apart: the simulator writes nothing to a connection before it has
accepted a Logon. A Logon for a session that is not configured, or a garbled one, is dropped
without a reply; a wrong password gets a Logout, but QuickFIX closes the connection right after
it. So a connection on which this process has sent no byte and queued none has not logged on,
and one that has logged on has sent at least the Logon reply.

How: `LogonTimeout.maybe_sweep()`, called from a periodic thread, at most every
`sweep_interval_s` asks a `ConnectionProbe` for the connected sockets on the FIX port. The real
probe, `ProcSocketProbe`, lists /proc/self/fd as backpressure.py does, and reads each socket's
kernel counters with getsockopt(TCP_INFO) and its send queue with TIOCOUTQ. A connection first
seen more than `timeout_s` ago that has sent nothing is shut down with shutdown(), never
close(): the descriptor is QuickFIX's, and QuickFIX closes it itself once it reads the end of
the stream. Sockets are told apart by inode, not descriptor number, since numbers are reused;
and the shutdown goes through a duplicate whose inode is checked first, so it can only ever hit
the socket that was judged. A kernel whose TCP_INFO is too short to carry the counters (older
than Linux 4.6) gets no decision: its connections are left alone.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from simulator.backpressure import FD_DIR, unsent_bytes

# Offsets in the kernel's struct tcp_info (include/uapi/linux/tcp.h): eight one-byte fields,
# 24 __u32 (tcpi_rto ... tcpi_total_retrans) to offset 104, then tcpi_pacing_rate,
# tcpi_max_pacing_rate, tcpi_bytes_acked (__u64 each), tcpi_bytes_received (__u64, 128),
# tcpi_segs_out, tcpi_segs_in, tcpi_notsent_bytes, tcpi_min_rtt, tcpi_data_segs_in and
# tcpi_data_segs_out (__u32 each, the last at 156; Linux 4.6).
_BYTES_RECEIVED = struct.Struct("=Q")
_BYTES_RECEIVED_OFFSET = 128
_DATA_SEGS_OUT = struct.Struct("=I")
_DATA_SEGS_OUT_OFFSET = 156
TCP_INFO_MIN_BYTES = _DATA_SEGS_OUT_OFFSET + _DATA_SEGS_OUT.size  # 160
_TCP_INFO_ASK_BYTES = 256  # room for the fields read and more; the kernel copies what it has

DEFAULT_SWEEP_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpActivity:
    """What the kernel counted on one connection."""

    data_segments_sent: int  # tcpi_data_segs_out
    bytes_received: int  # tcpi_bytes_received


def parse_tcp_info(raw: bytes) -> TcpActivity | None:
    """The counters in a getsockopt(TCP_INFO) answer; None when the answer is too short to hold
    them (an older kernel): the caller must then treat the connection as unknown."""
    if len(raw) < TCP_INFO_MIN_BYTES:
        return None
    (received,) = _BYTES_RECEIVED.unpack_from(raw, _BYTES_RECEIVED_OFFSET)
    (segments_out,) = _DATA_SEGS_OUT.unpack_from(raw, _DATA_SEGS_OUT_OFFSET)
    return TcpActivity(data_segments_sent=segments_out, bytes_received=received)


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservedConnection:
    inode: int  # the socket's inode: stable for its whole life, unlike its descriptor number
    peer: str  # "host:port"
    activity: TcpActivity | None  # None: the kernel does not say
    unsent_bytes: int  # bytes queued to send and not yet acknowledged

    @property
    def sent_nothing(self) -> bool:
        """True only when the kernel says so: nothing sent and nothing waiting to be sent."""
        return self.activity is not None and self.activity.data_segments_sent == 0 and self.unsent_bytes == 0


def is_overdue(connection: ObservedConnection, age_s: float, timeout_s: float) -> bool:
    """Has this connection had `timeout_s` to log on, and not done it?"""
    return timeout_s > 0 and age_s >= timeout_s and connection.sent_nothing


class ConnectionProbe(Protocol):
    def observe(self) -> list[ObservedConnection]:
        """Every connected socket on the FIX port, now."""
        ...

    def shut_down_if_silent(self, inode: int) -> bool:
        """Shut down the socket with this inode if it still exists and has still sent nothing;
        True if it was shut down."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedConnection:
    peer: str
    age_s: float  # since the sweep first saw it: up to one sweep interval less than its real age
    bytes_received: int


class LogonTimeout:
    """Decides which connections have had their time to log on; keeps when each was first seen.

    Not thread-safe: one periodic thread calls `maybe_sweep()`."""

    def __init__(
        self,
        timeout_s: float,
        probe: ConnectionProbe,
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"logon timeout must be positive (0 means: do not create one), got {timeout_s}")
        self.timeout_s = timeout_s
        self.sweep_interval_s = sweep_interval_s
        self._probe = probe
        self._clock = clock
        self._swept_at = float("-inf")
        self._first_seen: dict[int, float] = {}
        self._shut: set[int] = set()
        self.sweeps = 0
        self.closed_total = 0

    def maybe_sweep(self) -> list[ClosedConnection]:
        """A sweep if the last one was at least `sweep_interval_s` ago, else nothing."""
        now = self._clock()
        if now - self._swept_at < self.sweep_interval_s:
            return []
        self._swept_at = now
        return self.sweep(now)

    def sweep(self, now: float) -> list[ClosedConnection]:
        observed = self._probe.observe()
        self.sweeps += 1
        present = {connection.inode for connection in observed}
        # Forget sockets that are gone: their inode numbers may come back for new ones.
        self._first_seen = {inode: seen for inode, seen in self._first_seen.items() if inode in present}
        self._shut &= present
        closed: list[ClosedConnection] = []
        for connection in observed:
            first_seen = self._first_seen.setdefault(connection.inode, now)
            age_s = now - first_seen
            if connection.inode in self._shut or not is_overdue(connection, age_s, self.timeout_s):
                continue
            if not self._probe.shut_down_if_silent(connection.inode):
                continue
            # QuickFIX closes the descriptor once it reads the end of the stream; until then the
            # socket is still listed, and must not be shut down and reported again.
            self._shut.add(connection.inode)
            self.closed_total += 1
            received = connection.activity.bytes_received if connection.activity is not None else 0
            closed.append(ClosedConnection(peer=connection.peer, age_s=age_s, bytes_received=received))
        return closed


def _peer_text(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def _inspect(connection: socket.socket, inode: int) -> ObservedConnection:
    raw = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_ASK_BYTES)
    return ObservedConnection(
        inode=inode,
        peer=_peer_text(connection.getpeername()),
        activity=parse_tcp_info(raw),
        unsent_bytes=unsent_bytes(connection.fileno()),
    )


def _open_duplicate(fd: int) -> tuple[socket.socket, int] | None:
    """A socket object over a duplicate of `fd`, and its inode; None when `fd` is not a socket
    now. Closing the duplicate leaves QuickFIX's descriptor alone; holding it keeps the socket
    from being freed (and its inode reused) while we look at it."""
    try:
        duplicate = os.dup(fd)
    except OSError:
        return None
    try:
        status = os.fstat(duplicate)
        if stat.S_ISSOCK(status.st_mode):
            return socket.socket(fileno=duplicate), status.st_ino
    except OSError:
        pass
    os.close(duplicate)
    return None


class ProcSocketProbe:
    """The real probe: this process's connected TCP sockets whose local port is `port`.

    A sweep costs a readlink per descriptor of the process; a socket is looked at more closely
    (a duplicate, getsockname, getpeername, TCP_INFO, TIOCOUTQ) only until the probe knows it is
    not a FIX connection (another port, the listener) or that it has sent data (a session that
    logged on): neither ever changes back while the socket lives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.available = FD_DIR.is_dir() and hasattr(socket, "TCP_INFO")
        self._descriptors: dict[int, int] = {}  # inode -> descriptor number at the last observe()
        self._answered: dict[int, ObservedConnection] = {}  # has sent data: stays so
        self._not_fix: set[int] = set()  # another kind or port, or the listener: stays so

    def observe(self) -> list[ObservedConnection]:
        found: list[ObservedConnection] = []
        descriptors: dict[int, int] = {}
        if not self.available:
            return found
        fd_dir = str(FD_DIR)
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return found
        present: set[int] = set()
        for name in names:
            try:
                link = os.readlink(f"{fd_dir}/{name}")
                fd = int(name)
                if not link.startswith("socket:["):
                    continue
                inode = int(link[len("socket:[") : -1])
            except (OSError, ValueError):
                continue
            present.add(inode)
            if inode in self._not_fix:
                continue
            observed = self._answered.get(inode) or self._look_at(fd)
            if observed is None:
                continue
            if not observed.sent_nothing and observed.activity is not None:
                self._answered[observed.inode] = observed
            descriptors[observed.inode] = fd
            found.append(observed)
        # Inodes of closed sockets may be given to new ones: forget them.
        self._answered = {inode: seen for inode, seen in self._answered.items() if inode in present}
        self._not_fix &= present
        self._descriptors = descriptors
        return found

    def _look_at(self, fd: int) -> ObservedConnection | None:
        duplicate = _open_duplicate(fd)
        if duplicate is None:
            return None
        connection, inode = duplicate
        with connection:
            try:
                if (
                    connection.type != socket.SOCK_STREAM
                    or connection.family not in (socket.AF_INET, socket.AF_INET6)
                    or connection.getsockname()[1] != self.port
                    or connection.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                ):
                    self._not_fix.add(inode)
                    return None
                return _inspect(connection, inode)
            except OSError:  # not connected (yet, or any more): look again next time
                return None

    def shut_down_if_silent(self, inode: int) -> bool:
        fd = self._descriptors.get(inode)
        if fd is None:
            return False
        duplicate = _open_duplicate(fd)
        if duplicate is None:
            return False
        connection, current_inode = duplicate
        with connection:
            if current_inode != inode:
                return False  # QuickFIX closed it and the number now names another socket
            try:
                # Looked at again on the very socket about to be shut down: a Logon reply sent
                # since observe() saves the connection.
                if not _inspect(connection, inode).sent_nothing:
                    return False
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                return False
        return True
