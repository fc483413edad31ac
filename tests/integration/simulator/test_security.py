"""Logon security of the real simulator, over raw TCP: who may log on, and what is never written.

The simulator (a subprocess, tests/support/sim_process.py) accepts only the sessions in its
settings file, and only with the session's own password, held in the environment variable that
its SimPasswordEnv names (FIXGW's and CLIENT1's differ here). Wrong CompIDs are dropped without
a Logon(35=A); a wrong or missing Password(554) gets Logout(35=5) and a disconnect; a failed
attempt neither locks out the right password nor disturbs a session already logged on; and no
password, right or wrong, reaches any file.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fix_client import FixTestClient, new_order_single, unique_id
from tests.support.raw_fix import PeerClosed, RawFixSession, sending_time
from tests.support.sim_process import CLIENT1_PASSWORD_ENV, SimulatorProcess, start_simulator

PASSWORD = f"right-{uuid.uuid4().hex}"  # FIXGW's (and FIXGW-MD's)
CLIENT1_PASSWORD = f"client1-{uuid.uuid4().hex}"
EMPTY_PASSWORD_REJECTED = "Tag specified without a value:554"


@pytest.fixture(scope="module")
def venue_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    process = start_simulator(
        tmp_path_factory.mktemp("sim-security"),
        password=PASSWORD,
        env={CLIENT1_PASSWORD_ENV: CLIENT1_PASSWORD},
    )
    try:
        yield process
    finally:
        exit_code = process.stop()
    assert exit_code == 0, process.output()[-3000:]


def logon_answer(
    session: RawFixSession, *, username: str, password: str | None, timeout_s: float = 5.0
) -> list[str]:
    """Message types the venue sent before it closed the line, plus "timeout" if it did not."""
    try:
        session.logon(username=username, password=password, timeout_s=timeout_s)
    except PeerClosed:
        pass
    except TimeoutError:
        return [*(m.msg_type or "" for m in session.history), "timeout"]
    return [m.msg_type or "" for m in session.history]


@pytest.mark.parametrize(
    ("sender", "target"),
    [("INTRUDER", "FIXSIM"), ("CLIENT1", "NOTSIM"), ("client1", "FIXSIM")],
    ids=["unknown-sender", "unknown-target", "sender-wrong-case"],
)
def test_logon_for_a_session_not_configured_is_dropped_without_logon(
    venue_process: SimulatorProcess, sender: str, target: str
) -> None:
    with RawFixSession(venue_process.port, sender_comp_id=sender, target_comp_id=target) as session:
        answer = logon_answer(session, username=sender, password=PASSWORD)

        assert answer == [], f"expected the connection closed with no answer, got {answer}"
        assert session.closed


@pytest.mark.parametrize(
    "password",
    [None, "wrong-password", CLIENT1_PASSWORD.upper(), CLIENT1_PASSWORD + "x", CLIENT1_PASSWORD[:-1]],
    ids=["missing", "wrong", "wrong-case", "longer", "shorter"],
)
def test_logon_with_a_wrong_password_gets_logout_and_disconnect(
    venue_process: SimulatorProcess, password: str | None
) -> None:
    with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as session:
        answer = session.logon(username="CLIENT1", password=password)
        rest = session.wait_closed()

    assert answer.msg_type == "5", str(answer)
    assert "invalid username or password" in (answer.get(58) or "")
    assert CLIENT1_PASSWORD not in str(answer)
    assert [m.msg_type for m in rest] == []
    assert session.closed


def test_logon_with_an_empty_password_field_is_not_accepted(venue_process: SimulatorProcess) -> None:
    # `554=` with no value is malformed: QuickFIX rejects it in the dictionary check, before the
    # simulator's password check runs, and cannot send a Reject(35=3) to a peer not logged on.
    with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as session:
        answer = logon_answer(session, username="CLIENT1", password="", timeout_s=1.5)

    assert "A" not in answer, answer


def test_garbled_logon_does_not_keep_the_real_client_out(venue_process: SimulatorProcess) -> None:
    rejected_before = venue_process.output().count(EMPTY_PASSWORD_REJECTED)
    with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as squatter:
        squatter.send("A", [(98, "0"), (108, "30"), (141, "Y"), (553, "CLIENT1"), (554, "")])
        # Only once the venue has dealt with that Logon does the race below have one outcome.
        deadline = time.monotonic() + 5
        while venue_process.output().count(EMPTY_PASSWORD_REJECTED) == rejected_before:
            assert time.monotonic() < deadline, venue_process.output()[-2000:]
            time.sleep(0.02)
        # QuickFIX would keep that connection, bound to CLIENT1; the simulator drops it.
        squatter_got = squatter.wait_closed(timeout_s=3.0)
        with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as real:
            answer = logon_answer(real, username="CLIENT1", password=CLIENT1_PASSWORD, timeout_s=3.0)
            if answer[:1] == ["A"]:
                real.logout()

    assert squatter.closed and squatter_got == []
    assert answer[:1] == ["A"], answer


@pytest.mark.parametrize(
    ("username", "accepted"),
    [("SOMEONE-ELSE", False), ("FIXGW", False), ("client1", False), ("CLIENT1", True), (None, True)],
    ids=["stranger", "another-sessions-user", "wrong-case", "own-compid", "absent"],
)
def test_logon_username_must_name_the_sessions_own_user(
    venue_process: SimulatorProcess, username: str | None, accepted: bool
) -> None:
    # Without SimUsernameEnv the expected Username(553) is the client's CompID; a Logon without
    # Username(553) is accepted on the password alone.
    with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as session:
        answer = session.logon(username=username, password=CLIENT1_PASSWORD)
        session.logout()

    assert answer.msg_type == ("A" if accepted else "5"), str(answer)


def test_failed_logons_do_not_lock_out_the_right_password(venue_process: SimulatorProcess) -> None:
    for attempt in range(3):
        with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as failed:
            assert failed.logon(username="CLIENT1", password=f"guess-{attempt}").msg_type == "5"

    with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as session:
        answer = session.logon(username="CLIENT1", password=CLIENT1_PASSWORD)
        heartbeat = session.test_request("logged-on")
        session.logout()

    assert answer.msg_type == "A", str(answer)
    assert heartbeat.get(112) == "logged-on"


def test_order_sent_before_logon_is_not_processed_and_the_line_is_closed(
    venue_process: SimulatorProcess,
) -> None:
    cl_ord_id = unique_id("early-")
    order = [(11, cl_ord_id), (55, "ACME"), (54, "1"), (60, sending_time()), (38, "1"), (40, "1")]

    with RawFixSession(venue_process.port, sender_comp_id="CLIENT1") as session:
        session.send("D", order)
        answered = session.wait_closed()

    assert answered == []
    assert cl_ord_id not in {o["cl_ord_id"] for o in venue_process.control.orders()}


def test_wrong_password_on_a_logged_on_session_does_not_disturb_it(
    venue_process: SimulatorProcess, tmp_path: Path
) -> None:
    with FixTestClient.start_new(
        tmp_path / "fixgw", venue_process.port, sender="FIXGW", username="FIXGW", password=PASSWORD
    ) as owner:
        with RawFixSession(venue_process.port, sender_comp_id="FIXGW") as impostor:
            answer = logon_answer(impostor, username="FIXGW", password="not-the-password", timeout_s=1.5)
        cl_ord_id = unique_id("owner-")
        owner.send(new_order_single(cl_ord_id, "ACME", "1", 1, ord_type="1"))
        fill = owner.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(150) == "F")

        assert "A" not in answer, answer
        assert owner.logged_on and owner.logon_count == 1
        assert fill.get(32) == "1"


def test_no_password_right_or_wrong_is_written_to_any_simulator_file(tmp_path: Path) -> None:
    password = f"secret-{uuid.uuid4().hex}"
    client1_password = f"secret-client1-{uuid.uuid4().hex}"
    wrong_password = f"typo-{uuid.uuid4().hex}"
    process = start_simulator(tmp_path, password=password, env={CLIENT1_PASSWORD_ENV: client1_password})
    try:
        with FixTestClient.start_new(
            tmp_path / "fixgw", process.port, sender="FIXGW", username="FIXGW", password=password
        ) as client:
            cl_ord_id = unique_id("logged-")
            client.send(new_order_single(cl_ord_id, "ACME", "1", 1, ord_type="1"))
            client.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id)
        with RawFixSession(process.port, sender_comp_id="CLIENT1") as session:
            assert session.logon(username="CLIENT1", password=wrong_password).msg_type == "5"
    finally:
        exit_code = process.stop()
    assert exit_code == 0

    written = [path for path in process.state_dir.rglob("*") if path.is_file()]
    leaks = [
        f"{path.name}: {secret[:6]}..."
        for path in written
        for secret in (password, client1_password, wrong_password, process.control_token)
        if secret.encode() in path.read_bytes()
    ]

    assert any(path.name == "messages.log" for path in written), [p.name for p in written]
    assert "35=A" in (process.state_dir / "log" / "messages.log").read_text(), "logons were not logged at all"
    assert leaks == []
