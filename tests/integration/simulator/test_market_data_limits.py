"""A session may hold a limited number of market-data subscriptions (over loopback, real simulator).

The review had CLIENT1 open 1,000 subscriptions,
each another copy of the feed, and another session's order round trip went from under 2 ms to
about 400 ms. With the shipped settings (SimMaxMarketDataSubscriptions=10) the eleventh live
subscription of a session gets MarketDataRequestReject(35=Y) with MDReqRejReason(281)=2; an
unsubscribe makes room again, and other sessions keep their own allowance.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.raw_fix import FixMessage, RawFixSession
from tests.support.sim_process import SimulatorProcess, start_simulator

CAP = 10  # SimMaxMarketDataSubscriptions in sessions/simulator.cfg


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    # A slow market timer: this test counts answers, not increments.
    process = start_simulator(tmp_path_factory.mktemp("sim-md-cap"), md_interval_ms=500)
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()[-3000:]


def subscribe(session: RawFixSession, md_req_id: str, request_type: str = "1") -> FixMessage:
    """Send MarketDataRequest(35=V) for ACME; the answer: its snapshot W or its reject Y."""
    session.send(
        "V",
        [(262, md_req_id), (263, request_type), (264, "1"), (267, "1"), (269, "0"), (146, "1"), (55, "ACME")],
    )
    if request_type == "2":
        return FixMessage(fields=(), raw=b"")
    return session.wait_for(lambda m: m.msg_type in ("W", "Y") and m.get(262) == md_req_id)


def test_subscriptions_beyond_the_cap_get_market_data_request_reject(venue: SimulatorProcess) -> None:
    with RawFixSession(venue.port, sender_comp_id="CLIENT1") as flood:
        assert flood.logon().msg_type == "A"
        answers = [subscribe(flood, f"flood-{number}") for number in range(CAP + 3)]
        subscribe(flood, "flood-0", request_type="2")  # unsubscribe one: room for one more
        after_unsubscribe = subscribe(flood, "again")
        with RawFixSession(venue.port, sender_comp_id="FIXGW-MD") as other:
            assert other.logon().msg_type == "A"
            others = subscribe(other, "other-1")
            other.logout()
        flood.logout()

    assert [a.msg_type for a in answers] == ["W"] * CAP + ["Y"] * 3
    rejected = answers[CAP]
    assert rejected.get(281) == "2", str(rejected)
    assert f"at most {CAP} per session" in (rejected.get(58) or "")
    assert after_unsubscribe.msg_type == "W"
    assert others.msg_type == "W", "another session has its own allowance"
    assert "MarketDataRequest(35=V) flood-10 refused" in venue.output()


def test_a_logout_ends_the_subscriptions_and_frees_the_allowance(venue: SimulatorProcess) -> None:
    with RawFixSession(venue.port, sender_comp_id="CLIENT1") as first:
        assert first.logon().msg_type == "A"
        for number in range(CAP):
            assert subscribe(first, f"first-{number}").msg_type == "W"
        first.logout()
    with RawFixSession(venue.port, sender_comp_id="CLIENT1") as second:
        assert second.logon().msg_type == "A"
        answer = subscribe(second, "second-0")
        second.logout()

    assert answer.msg_type == "W"
