"""The QuickFIX session side of `fixgw client`: the Application callbacks and the copy of each
received message out of the engine.

Takes the engine's callbacks (on its own threads); gives the main thread, through
`SessionEvents`, the inbound messages as `Inbound` values, the logon and logout events, the
Logout(35=5) text of a refused logon and any error a callback caught (a callback never raises
into QuickFIX).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import quickfix as fix
import quickfix44 as fix44

from simulator.client_display import Inbound

# Body fields copied out of every inbound message (read by tag number; absent ones are skipped).
_BODY_TAGS = (
    1, 6, 11, 14, 17, 19, 31, 32, 37, 38, 39, 40, 41, 44, 45, 54, 55, 58, 59, 83, 102, 103,
    150, 151, 262, 281, 371, 372, 373, 379, 380, 434, 530, 531, 532, 533, 584, 710, 721, 727,
    728, 729, 730, 911, 912,
)  # fmt: skip

_MD_ENTRY_TAGS = (279, 269, 55, 270, 271, 83)
_POSITION_TAGS = (703, 704, 705)


def _copy_fields(source: fix.FieldMap, tags: Sequence[int]) -> dict[int, str]:
    return {tag: source.getField(tag) for tag in tags if source.isSetField(tag)}


def copy_message(message: fix.Message) -> Inbound:
    """Reads what the printer needs, by tag number, while the message still belongs to us."""
    msg_type = message.getHeader().getField(35)
    fields = _copy_fields(message, _BODY_TAGS)
    groups: list[dict[int, str]] = []
    group: fix.Group | None = None
    tags: Sequence[int] = ()
    if msg_type == "W":
        group, tags = fix44.MarketDataSnapshotFullRefresh.NoMDEntries(), _MD_ENTRY_TAGS
    elif msg_type == "X":
        group, tags = fix44.MarketDataIncrementalRefresh.NoMDEntries(), _MD_ENTRY_TAGS
    elif msg_type == "AP":
        group, tags = fix44.PositionReport.NoPositions(), _POSITION_TAGS
    if group is not None and message.isSetField(group.field()):
        for index in range(1, int(message.getField(group.field())) + 1):
            message.getGroup(index, group)
            groups.append(_copy_fields(group, tags))
    return Inbound(msg_type, fields, tuple(groups))


# ---------------------------------------------------------------------------------------------
# The QuickFIX application: every callback only records and never raises


@dataclass
class SessionEvents:
    """What the engine's threads tell the main thread; the main thread alone prints."""

    inbound: queue.Queue[Inbound] = field(default_factory=queue.Queue)
    logged_on: threading.Event = field(default_factory=threading.Event)
    logged_out: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logon_attempts: int = 0
    logout_text: str | None = None
    errors: list[str] = field(default_factory=list)


class ClientApplication(fix.Application):
    def __init__(self, events: SessionEvents, username: str, password: str | None) -> None:
        super().__init__()
        self._events = events
        self._username = username
        self._password = password

    def onCreate(self, session_id: fix.SessionID) -> None:
        return None

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            self._events.logged_out.clear()
            self._events.logged_on.set()
        except Exception as exc:
            self._events.errors.append(f"onLogon: {exc!r}")

    def onLogout(self, session_id: fix.SessionID) -> None:
        try:
            self._events.logged_on.clear()
            self._events.logged_out.set()
        except Exception as exc:
            self._events.errors.append(f"onLogout: {exc!r}")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "A":
                with self._events.lock:
                    self._events.logon_attempts += 1
                if self._password:
                    message.setField(553, self._username)
                    message.setField(554, self._password)
        except Exception as exc:
            self._events.errors.append(f"toAdmin: {exc!r}")

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            msg_type = message.getHeader().getField(35)
            if msg_type == "5":
                text = message.getField(58) if message.isSetField(58) else ""
                with self._events.lock:
                    self._events.logout_text = text
            if msg_type in ("3", "5"):
                self._events.inbound.put(copy_message(message))
        except Exception as exc:
            self._events.errors.append(f"fromAdmin: {exc!r}")

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        return None

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self._events.inbound.put(copy_message(message))
        except Exception as exc:
            self._events.errors.append(f"fromApp: {exc!r}")


# ---------------------------------------------------------------------------------------------
# Printing
