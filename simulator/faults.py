"""Scripted faults: the ways the simulated venue can misbehave on purpose.

Faults are set from the settings file (`SimFault<Name>=value` in [DEFAULT], e.g.
`SimFaultRejectEveryNth=3` or `SimFaultreject_every_nth=3`), from the command line
(`--fault reject_every_nth=3`), in process (`server.faults.set("reject_every_nth", 3)`) and over
the control port (`{"op":"set_fault","name":"reject_every_nth","value":3}`). Thread-safe: the
FIX threads, the market timer and the control port all read and consume them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class FaultError(ValueError):
    """An unknown fault name or a value the fault cannot take."""


def _parse_int(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in {"y", "yes", "true", "on"}:
            return 1
        if text in {"n", "no", "false", "off", ""}:
            return 0
        try:
            result = int(text)
        except ValueError as exc:
            raise FaultError(f"{value!r} is not a whole number") from exc
    else:
        raise FaultError(f"{value!r} is not a whole number")
    if result < 0:
        raise FaultError(f"{value!r} must not be negative")
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    name: str
    meaning: str
    parse: Callable[[object], int] = _parse_int


FAULTS: dict[str, FaultSpec] = {
    spec.name: spec
    for spec in (
        FaultSpec(name="reject_every_nth", meaning="reject every Nth NewOrderSingle(35=D) (ExecType=8)"),
        FaultSpec(name="ack_delay_ms", meaning="delay the handling of every order request by N ms"),
        FaultSpec(
            name="disconnect_after_n",
            meaning="drop the connection after N more application messages from the client",
        ),
        FaultSpec(
            name="duplicate_exec_reports",
            meaning="send every ExecutionReport(35=8) twice, the second with PossDupFlag(43)=Y",
        ),
        FaultSpec(
            name="sequence_gap", meaning="skip one outgoing MsgSeqNum(34) before each of the next N messages"
        ),
        FaultSpec(
            name="unsolicited_cancel", meaning="cancel the oldest N resting client orders without a request"
        ),
        FaultSpec(name="bust_next_fill", meaning="bust the next N client fills (ExecType=H, ExecRefID(19))"),
        FaultSpec(
            name="correct_next_fill",
            meaning="correct the next N client fills one tick higher (ExecType=G, ExecRefID(19))",
        ),
        FaultSpec(name="freeze_market_data", meaning="1 stops MarketDataIncrementalRefresh(35=X) publishing"),
        FaultSpec(name="unknown_tag", meaning="add tag N (1 means 9999) to every ExecutionReport(35=8)"),
    )
}


def canonical_name(name: str) -> str:
    """`RejectEveryNth`, `reject-every-nth` and `reject_every_nth` all name the same fault."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.strip()).replace("-", "_").lower()
    if snake not in FAULTS:
        known = ", ".join(sorted(FAULTS))
        raise FaultError(f"unknown fault {name!r} (known: {known})")
    return snake


class Faults:
    def __init__(self, initial: Mapping[str, object] | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}
        self._order_count = 0
        self._listeners: list[Callable[[str, int], None]] = []
        for name, value in (initial or {}).items():
            self.set(name, value)

    def on_change(self, listener: Callable[[str, int], None]) -> None:
        """Call `listener(name, value)` after every set (also for 0, i.e. cleared)."""
        self._listeners.append(listener)

    def set(self, name: str, value: object) -> int:
        key = canonical_name(name)
        parsed = FAULTS[key].parse(value)
        with self._lock:
            if parsed:
                self._values[key] = parsed
            else:
                self._values.pop(key, None)
            if key == "reject_every_nth":
                self._order_count = 0
        for listener in self._listeners:
            listener(key, parsed)
        return parsed

    def clear(self) -> None:
        with self._lock:
            names = list(self._values)
            self._values.clear()
            self._order_count = 0
        for name in names:
            for listener in self._listeners:
                listener(name, 0)

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def active(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    def consume(self, name: str) -> bool:
        """Use one unit of a counted fault (bust_next_fill, sequence_gap, ...)."""
        with self._lock:
            remaining = self._values.get(name, 0)
            if remaining <= 0:
                return False
            if remaining == 1:
                del self._values[name]
            else:
                self._values[name] = remaining - 1
            return True

    def should_reject_order(self) -> int:
        """Count a NewOrderSingle; returns N when this one is the Nth (to reject), else 0."""
        with self._lock:
            every = self._values.get("reject_every_nth", 0)
            if every <= 0:
                return 0
            self._order_count += 1
            return every if self._order_count % every == 0 else 0


def parse_assignments(items: list[str]) -> dict[str, int]:
    """`["reject_every_nth=3", "freeze_market_data"]` -> {"reject_every_nth": 3, ...}."""
    result: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        key = canonical_name(name)
        result[key] = FAULTS[key].parse(value if sep else "1")
    return result
