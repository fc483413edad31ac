"""Who subscribed to what: MarketDataRequest(35=V) subscriptions and their fan-out.

Pure and thread-safe: takes subscribe/unsubscribe requests per FIX session and the venue's
`MarketDataEntry` values; gives, per subscription, the entries it should receive as one
MarketDataIncrementalRefresh(35=X) (split into batches of at most `max_entries`). Each session
may hold a limited number of subscriptions at once (`subscribe(..., max_per_session=N)`): every
one is another copy of the feed to build and send.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from simulator.venue import MarketDataEntry

DEFAULT_ENTRY_TYPES = frozenset({"0", "1", "2"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    session_key: str
    md_req_id: str
    symbols: frozenset[str]
    entry_types: frozenset[str]
    depth: int  # MarketDepth(264): 0 full book


class Subscribed(Enum):
    """The outcome of `SubscriptionRegistry.subscribe`; true only when the subscription was added."""

    ADDED = "added"
    DUPLICATE = "duplicate"  # the session already has a live subscription with this MDReqID
    LIMIT = "limit"  # the session holds as many subscriptions as it may

    def __bool__(self) -> bool:
        return self is Subscribed.ADDED


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    session_key: str
    md_req_id: str
    entries: Sequence[MarketDataEntry]


class SubscriptionRegistry:
    def __init__(self, max_entries: int = 64) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[tuple[str, str], Subscription] = {}
        self.max_entries = max_entries

    def subscribe(self, subscription: Subscription, *, max_per_session: int | None = None) -> Subscribed:
        """ADDED, or why not: DUPLICATE MDReqID on this session, or LIMIT (the session already
        holds `max_per_session` subscriptions)."""
        key = (subscription.session_key, subscription.md_req_id)
        with self._lock:
            if key in self._subscriptions:
                return Subscribed.DUPLICATE
            if max_per_session is not None:
                held = sum(1 for session, _ in self._subscriptions if session == subscription.session_key)
                if held >= max_per_session:
                    return Subscribed.LIMIT
            self._subscriptions[key] = subscription
            return Subscribed.ADDED

    def unsubscribe(self, session_key: str, md_req_id: str) -> bool:
        with self._lock:
            return self._subscriptions.pop((session_key, md_req_id), None) is not None

    def drop_session(self, session_key: str) -> None:
        with self._lock:
            for key in [k for k in self._subscriptions if k[0] == session_key]:
                del self._subscriptions[key]

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def fan_out(self, entries: Iterable[MarketDataEntry]) -> list[Delivery]:
        entry_list = list(entries)
        if not entry_list:
            return []
        deliveries: list[Delivery] = []
        for subscription in self.subscriptions():
            # Every entry type goes out, whatever NoMDEntryTypes(267) asked for: RptSeq(83) must
            # stay contiguous per symbol so a receiver can tell a gap from a filtered entry.
            selected = [e for e in entry_list if e.symbol in subscription.symbols]
            for start in range(0, len(selected), self.max_entries):
                deliveries.append(
                    Delivery(
                        session_key=subscription.session_key,
                        md_req_id=subscription.md_req_id,
                        entries=selected[start : start + self.max_entries],
                    )
                )
        return deliveries
