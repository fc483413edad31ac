"""QuickFIX's log, routed into Python logging with Password(554) masked.

QuickFIX's own FileLog writes every raw message, Logon included, so it would put the venue
password in a file. `MaskingLogFactory` is a `quickfix.LogFactory` whose logs send engine events
(connecting, disconnecting, resend requests, sequence resets...) to the `fixgw.fix.events` logger
and messages to `fixgw.fix.messages`, with secrets masked. Its callbacks run on engine threads:
they catch everything, because an exception escaping into QuickFIX ends the process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from typing import Any

import quickfix as fix

from gateway.fix.codec import readable

events_log = logging.getLogger("fixgw.fix.events")
messages_log = logging.getLogger("fixgw.fix.messages")


class RecentIncoming:
    """The last few raw inbound messages per session, by MsgSeqNum(34): QuickFIX logs a message
    before it validates it, so a message the engine rejects itself (it never reaches fromApp)
    can still be quarantined with its raw text."""

    def __init__(self, per_session: int = 256) -> None:
        self._per_session = per_session
        self._by_session: dict[str, OrderedDict[str, str]] = {}
        self._lock = threading.Lock()

    def add(self, session: str, text: str) -> None:
        start = text.find("\x0134=")
        if start < 0:
            return
        end = text.find("\x01", start + 4)
        seq = text[start + 4 : end]
        with self._lock:
            ring = self._by_session.setdefault(session, OrderedDict())
            ring[seq] = text
            if len(ring) > self._per_session:
                ring.popitem(last=False)

    def get(self, session: str, seq: str) -> str | None:
        with self._lock:
            return self._by_session.get(session, OrderedDict()).get(seq)


class MaskingLog(fix.Log):
    def __init__(self, session: str, log_messages: bool, recent: RecentIncoming | None = None) -> None:
        super().__init__()
        self._session = session
        self._log_messages = log_messages
        self._recent = recent

    def clear(self) -> None:
        pass

    def backup(self) -> None:
        pass

    def onIncoming(self, text: str) -> None:
        if self._recent is not None:
            with contextlib.suppress(Exception):
                self._recent.add(self._session, text)
        if self._log_messages:
            with contextlib.suppress(Exception):  # must not escape into the engine
                messages_log.info("%s IN  %s", self._session, readable(text))

    def onOutgoing(self, text: str) -> None:
        if self._log_messages:
            with contextlib.suppress(Exception):  # must not escape into the engine
                messages_log.info("%s OUT %s", self._session, readable(text))

    def onEvent(self, text: str) -> None:
        with contextlib.suppress(Exception):
            events_log.info("%s %s", self._session, readable(text))


class MaskingLogFactory(fix.LogFactory):
    def __init__(self, *, log_messages: bool, recent: RecentIncoming | None = None) -> None:
        super().__init__()
        self._log_messages = log_messages
        self.recent = recent
        self._logs: list[MaskingLog] = []  # QuickFIX holds raw pointers: keep the objects alive

    def create(self, *args: Any) -> MaskingLog:
        try:
            session = args[0].toString() if args else "engine"
        except Exception:
            session = "engine"
        log = MaskingLog(session, self._log_messages, self.recent)
        self._logs.append(log)
        # QuickFIX takes ownership of the Log it is given; without __disown__ both SWIG and the
        # engine free it ("double free detected in tcache 2" at the first session created)
        log.__disown__()
        return log

    def destroy(self, log: Any) -> None:
        pass
