"""The simulator's FIX message log: QuickFIX's `Log` interface with secrets masked.

Takes every message and event QuickFIX logs for a session; gives one line per message, tagged
with its session and direction, in `messages.log` under the log directory (market data only
when asked for), with Password(554) and the other secret tags masked, since QuickFIX's own
FileLog would write them in clear. A peer that has not logged on and makes QuickFIX reject
something is handed to `on_reject_before_logon`, so the server can drop its connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import quickfix as fix

from fixcore.masking import mask_secrets

log = logging.getLogger("simulator")

_MARKET_DATA_TYPES = ("\x0135=W\x01", "\x0135=X\x01")


class MessageLogWriter:
    """One line per message or session event, secrets masked, SOH shown as |.

    Outgoing market data (W, X) is left out unless `market_data` is set: at hundreds of messages
    a second it would drown everything else."""

    def __init__(self, directory: Path | None, *, market_data: bool = False) -> None:
        self._lock = threading.Lock()
        self._market_data = market_data
        self._file = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._file = (directory / "messages.log").open("a", buffering=1, encoding="utf-8")

    def write(self, session: str, direction: str, text: str) -> None:
        if direction == "event":
            log.info("%s: %s", session, mask_secrets(text))
        if self._file is None:
            return
        if direction == "out" and not self._market_data and any(t in text for t in _MARKET_DATA_TYPES):
            return
        line = f"{time.strftime('%Y%m%d-%H:%M:%S')} {session} {direction} {mask_secrets(text)}"
        with self._lock:
            self._file.write(line.replace("\x01", "|") + "\n")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


# QuickFIX's event when a peer that has not logged on sent something it had to reject (a garbled
# Logon, for one). QuickFIX then keeps the connection, bound to the session, which keeps the real
# client out until that peer goes away; the simulator drops such a connection instead.
_REJECT_BEFORE_LOGON = "Tried to send a reject while not logged on"


class MaskingLog(fix.Log):
    def __init__(
        self, writer: MessageLogWriter, session: str, on_reject_before_logon: Callable[[str], None]
    ) -> None:
        super().__init__()
        self._writer = writer
        self._session = session
        self._on_reject_before_logon = on_reject_before_logon

    def clear(self) -> None:
        return None

    def backup(self) -> None:
        return None

    def onIncoming(self, text: str) -> None:
        self._safe("in", text)

    def onOutgoing(self, text: str) -> None:
        self._safe("out", text)

    def onEvent(self, text: str) -> None:
        self._safe("event", text)
        if text.startswith(_REJECT_BEFORE_LOGON):
            try:
                self._on_reject_before_logon(self._session)
            except Exception:
                log.exception("dropping a connection that was not logged on failed")

    def _safe(self, direction: str, text: str) -> None:
        try:
            self._writer.write(self._session, direction, text)
        except Exception:  # a log failure must not end the process
            log.exception("message log write failed")


class MaskingLogFactory(fix.LogFactory):
    def __init__(
        self, writer: MessageLogWriter, on_reject_before_logon: Callable[[str], None] = lambda _key: None
    ) -> None:
        super().__init__()
        self._writer = writer
        self._on_reject_before_logon = on_reject_before_logon
        self._logs: list[MaskingLog] = []  # QuickFIX holds raw pointers: keep them alive

    def create(self, *args: Any) -> MaskingLog:
        session = args[0].toString() if args else "global"
        created = MaskingLog(self._writer, session, self._on_reject_before_logon)
        # Hand ownership to C++ (without this the engine hung at start, and crashed later);
        # the list keeps the Python side alive as long as the factory.
        created.__disown__()
        self._logs.append(created)
        return created

    def destroy(self, _log: Any) -> None:
        return None
