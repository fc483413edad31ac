"""Subscriptions and their fan-out."""

from __future__ import annotations

from simulator.marketdata import Subscribed, Subscription, SubscriptionRegistry
from simulator.venue import MarketDataEntry


def _entry(symbol: str, seq: int) -> MarketDataEntry:
    return MarketDataEntry(symbol=symbol, entry_type="0", action="1", price=100, size=5, rpt_seq=seq)


def _subscription(session: str, req: str, *symbols: str) -> Subscription:
    return Subscription(
        session_key=session, md_req_id=req, symbols=frozenset(symbols), entry_types=frozenset(), depth=0
    )


def test_each_subscription_gets_its_symbols_in_batches() -> None:
    registry = SubscriptionRegistry(max_entries=2)
    assert registry.subscribe(_subscription("A", "r1", "ACME"))
    assert registry.subscribe(_subscription("B", "r2", "ACME", "BOLT"))
    entries = [_entry("ACME", 1), _entry("BOLT", 1), _entry("ACME", 2), _entry("ACME", 3)]
    deliveries = registry.fan_out(entries)
    by_request: dict[str, list[list[tuple[str, int]]]] = {}
    for delivery in deliveries:
        by_request.setdefault(delivery.md_req_id, []).append(
            [(e.symbol, e.rpt_seq) for e in delivery.entries]
        )
    assert by_request["r1"] == [[("ACME", 1), ("ACME", 2)], [("ACME", 3)]]
    assert by_request["r2"] == [[("ACME", 1), ("BOLT", 1)], [("ACME", 2), ("ACME", 3)]]


def test_duplicate_md_req_id_unsubscribe_and_logout() -> None:
    registry = SubscriptionRegistry()
    assert registry.subscribe(_subscription("A", "r1", "ACME"))
    assert not registry.subscribe(_subscription("A", "r1", "BOLT")), "same MDReqID on the same session"
    assert registry.subscribe(_subscription("B", "r1", "BOLT")), "another session may reuse it"
    assert registry.unsubscribe("A", "r1") and not registry.unsubscribe("A", "r1")
    registry.drop_session("B")
    assert registry.fan_out([_entry("BOLT", 1)]) == []


def test_a_session_holds_at_most_its_cap_of_subscriptions() -> None:
    registry = SubscriptionRegistry()
    added = [registry.subscribe(_subscription("A", f"r{n}", "ACME"), max_per_session=2) for n in range(3)]
    other = registry.subscribe(_subscription("B", "r0", "ACME"), max_per_session=2)
    registry.unsubscribe("A", "r0")
    again = registry.subscribe(_subscription("A", "r9", "ACME"), max_per_session=2)
    duplicate = registry.subscribe(_subscription("A", "r9", "ACME"), max_per_session=2)

    assert added == [Subscribed.ADDED, Subscribed.ADDED, Subscribed.LIMIT]
    assert other is Subscribed.ADDED, "the cap is per session"
    assert again is Subscribed.ADDED and duplicate is Subscribed.DUPLICATE
