"""Is any FIX connection backed up? Asked of the kernel, socket by socket (Linux).

Why: QuickFIX's ThreadedSocketConnection writes with a blocking send(), and the Python binding
keeps the GIL during it. A peer that stops reading (a market-data consumer busy elsewhere) would
let the socket's send queue fill up, and the next send would then freeze every thread of the
simulator, its other sessions and the control port included, until that peer reads again. So the
simulator looks at the send queues of its established FIX connections before it publishes market
data, and holds market data back while one of them holds more than `limit_bytes` unsent; and
before any send it shuts down a connection holding more than three times that (its peer stopped
reading altogether), which QuickFIX then handles as a disconnect.

How: the process's own socket descriptors (/proc/self/fd) whose local port is the FIX port and
that have a peer are found every `rescan_interval_s`; their send queues are read with the
TIOCOUTQ (= SIOCOUTQ) ioctl, which costs microseconds. (Reading /proc/net/tcp instead was
measured at about 12 ms a time here: the kernel walks its whole connection table.) Where
/proc/self/fd is missing (not Linux) `backed_up()` always answers False: no protection.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import socket
import termios
import time
from pathlib import Path

FD_DIR = Path("/proc/self/fd")
WMEM_MAX = Path("/proc/sys/net/core/wmem_max")
LIMIT_CAP_BYTES = 256 * 1024


def backed_up_limit(requested_send_buffer_bytes: int, wmem_max_bytes: int | None = None) -> int:
    """Unsent bytes above which a connection counts as backed up: a quarter of the send buffer
    the kernel really grants (twice the request, capped by net.core.wmem_max), at most 256 KiB.

    Not much lower: the send queue also holds bytes sent but not yet acknowledged, which delayed
    ACKs keep at tens of KiB on a busy, healthy connection."""
    if wmem_max_bytes is None:
        try:
            wmem_max_bytes = int(WMEM_MAX.read_text().strip())
        except (OSError, ValueError):
            wmem_max_bytes = 212_992  # the usual Linux default
    granted = 2 * min(requested_send_buffer_bytes, wmem_max_bytes)
    return min(LIMIT_CAP_BYTES, granted // 4)


def connected_sockets_on_port(port: int) -> list[int]:
    """This process's descriptors of connected TCP sockets whose local port is `port`."""
    found: list[int] = []
    try:
        names = os.listdir(FD_DIR)
    except OSError:
        return found
    for name in names:
        try:
            fd = int(name)
            if not os.readlink(FD_DIR / name).startswith("socket:"):
                continue
            duplicate = os.dup(fd)
        except (OSError, ValueError):
            continue
        # A duplicate, so that closing our socket object leaves QuickFIX's descriptor alone.
        try:
            with socket.socket(fileno=duplicate) as probe:
                if probe.type != socket.SOCK_STREAM or probe.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if probe.getsockname()[1] != port:
                    continue
                probe.getpeername()  # the listening socket has no peer
        except OSError:
            continue
        found.append(fd)
    return found


def unsent_bytes(fd: int) -> int:
    """Bytes in a socket's send queue (not yet acknowledged by the peer); 0 if it is not one."""
    size = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.TIOCOUTQ, size, True)
    except OSError:
        return 0
    return int(size[0])


class SendQueueProbe:
    def __init__(
        self,
        port: int,
        limit_bytes: int,
        *,
        min_interval_s: float = 0.005,
        rescan_interval_s: float = 0.5,
    ) -> None:
        self.port = port
        self.limit_bytes = limit_bytes
        self.min_interval_s = min_interval_s
        self.rescan_interval_s = rescan_interval_s
        self.available = FD_DIR.is_dir()
        self._checked_at = 0.0
        self._scanned_at = float("-inf")
        self._fds: list[int] = []
        self._shut: set[int] = set()
        self._backed_up = False
        self._guarded_at = 0.0
        self._backed_up_since: float | None = None
        # Three times the hold-back limit: at most three quarters of the granted buffer.
        self.drop_limit_bytes = 3 * limit_bytes

    def largest_queue(self) -> int:
        now = time.monotonic()
        if now - self._scanned_at >= self.rescan_interval_s:
            self._scanned_at = now
            self._fds = connected_sockets_on_port(self.port)
            self._shut &= set(self._fds)
        largest = 0
        for fd in self._fds:
            with contextlib.suppress(OSError):
                largest = max(largest, unsent_bytes(fd))
        return largest

    def drop_stalled(self, drop_limit_bytes: int) -> int:
        """Shut down every FIX connection with more than `drop_limit_bytes` unsent: its peer has
        stopped reading, and the next send to it could block the whole process. QuickFIX sees
        the socket fail and disconnects that session the usual way. Returns how many."""
        dropped = 0
        for fd in list(self._fds):
            if fd in self._shut or unsent_bytes(fd) <= drop_limit_bytes:
                continue
            try:
                with socket.socket(fileno=os.dup(fd)) as stalled:
                    stalled.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue
            self._shut.add(fd)  # QuickFIX closes it once it has read what was already queued
            dropped += 1
        return dropped

    def guard(self) -> int:
        """Before a send: at most every `min_interval_s`, shut down connections whose peer has
        left more than `drop_limit_bytes` unread. Returns how many it shut down."""
        if not self.available:
            return 0
        now = time.monotonic()
        if now - self._guarded_at < self.min_interval_s:
            return 0
        self._guarded_at = now
        self.largest_queue()  # refreshes the descriptor list when due
        return self.drop_stalled(self.drop_limit_bytes)

    def backed_up(self) -> bool:
        """True while an established FIX connection has more than `limit_bytes` unsent.
        Looked up at most every `min_interval_s`."""
        if not self.available:
            return False
        now = time.monotonic()
        if now - self._checked_at >= self.min_interval_s:
            self._checked_at = now
            self._backed_up = self.largest_queue() > self.limit_bytes
            if not self._backed_up:
                self._backed_up_since = None
            elif self._backed_up_since is None:
                self._backed_up_since = now
        return self._backed_up

    def drop_if_stalled_for(self, seconds: float) -> int:
        """Shut down the connections over the hold-back limit once the venue has been backed up
        for `seconds` without a break: one peer that stopped reading must not hold market data
        back from everyone for ever."""
        since = self._backed_up_since
        if since is None or time.monotonic() - since < seconds:
            return 0
        self._backed_up_since = None
        return self.drop_stalled(self.limit_bytes)
