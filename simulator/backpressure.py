"""Is any FIX connection backed up? Read from the kernel's TCP tables (Linux /proc/net/tcp).

Why: QuickFIX's ThreadedSocketConnection writes with a blocking send(), and the Python binding
keeps the GIL during it. A peer that stops reading (a market-data consumer busy elsewhere) would
let the socket's send queue fill up, and the next send would then freeze every thread of the
simulator, its other sessions and the control port included, until that peer reads again. So the
simulator looks at the send queues of its established FIX connections before it publishes market
data, and holds market data back while one of them holds more than `limit_bytes` unsent.

Takes the FIX port and a limit; gives `backed_up()`. Where /proc/net/tcp is missing (not Linux)
it always answers False: no protection, as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
ESTABLISHED = "01"


def unsent_bytes(port: int, lines: Iterable[str]) -> list[int]:
    """The send-queue sizes (tx_queue) of established connections whose local port is `port`."""
    sizes: list[int] = []
    for line in lines:
        parts = line.split()
        if len(parts) < 5 or parts[3] != ESTABLISHED:
            continue
        local = parts[1]
        try:
            local_port = int(local.rsplit(":", 1)[1], 16)
            tx_queue = int(parts[4].split(":", 1)[0], 16)
        except (IndexError, ValueError):
            continue
        if local_port == port:
            sizes.append(tx_queue)
    return sizes


class SendQueueProbe:
    def __init__(self, port: int, limit_bytes: int, *, min_interval_s: float = 0.005) -> None:
        self.port = port
        self.limit_bytes = limit_bytes
        self.min_interval_s = min_interval_s
        self._checked_at = 0.0
        self._backed_up = False
        self._tables = [path for path in TCP_TABLES if path.exists()]

    @property
    def available(self) -> bool:
        return bool(self._tables)

    def largest_queue(self) -> int:
        largest = 0
        for path in self._tables:
            try:
                with path.open() as table:
                    next(table, None)  # header
                    largest = max([largest, *unsent_bytes(self.port, table)])
            except OSError:
                continue
        return largest

    def backed_up(self) -> bool:
        """True while an established FIX connection has more than `limit_bytes` unsent.
        Looked up at most every `min_interval_s`."""
        now = time.monotonic()
        if now - self._checked_at >= self.min_interval_s:
            self._checked_at = now
            self._backed_up = bool(self._tables) and self.largest_queue() > self.limit_bytes
        return self._backed_up
