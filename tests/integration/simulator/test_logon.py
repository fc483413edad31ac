"""Who may log on: the CompIDs of the settings file, with the password from the environment;
and no password ever reaches a log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.fix_client import FixTestClient
from tests.support.raw_fix import RawFixSession
from tests.support.sim_process import start_simulator

PASSWORD = "s3cret-Logon-pw-7781"


def test_username_and_password_are_checked_and_the_password_never_logged(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path, password=PASSWORD)
    wrong = FixTestClient(tmp_path / "wrong", sim.port, sender="FIXGW", username="FIXGW", password="not-it")
    try:
        wrong.start()
        logout = wrong.wait_for(lambda m: m.msg_type == "5", timeout_s=5)
        assert not wrong.logged_on
        assert "password" in (logout.get(58) or "")
    finally:
        wrong.stop(force=True)
    wrong_user = FixTestClient(
        tmp_path / "user", sim.port, sender="FIXGW", username="someone", password=PASSWORD
    )
    try:
        wrong_user.start()
        wrong_user.wait_for(lambda m: m.msg_type == "5", timeout_s=5)
        assert not wrong_user.logged_on, "Username(553) must be the client's CompID"
    finally:
        wrong_user.stop(force=True)
    right = FixTestClient(
        tmp_path / "right", sim.port, sender="FIXGW-MD", username="FIXGW-MD", password=PASSWORD
    )
    try:
        right.start()
        right.wait_logged_on(5)
    finally:
        right.stop(force=True)
    assert sim.stop() == 0
    logs = [p for p in sim.state_dir.rglob("*") if p.is_file() and p.suffix != ".sqlite"]
    assert any("554=***" in p.read_text(errors="replace") for p in logs), "the Logon was logged, masked"
    for path in logs:
        assert PASSWORD not in path.read_text(errors="replace"), path


@pytest.mark.parametrize(("sender", "target"), [("INTRUDER", "FIXSIM"), ("FIXGW", "SOMEONE")])
def test_compids_not_in_the_settings_file_cannot_log_on(tmp_path: Path, sender: str, target: str) -> None:
    sim = start_simulator(tmp_path)
    stranger = FixTestClient(tmp_path / "stranger", sim.port, sender=sender, target=target)
    try:
        stranger.start()
        time.sleep(0.6)  # the initiator connects at once; the acceptor hangs up
        assert not stranger.logged_on and stranger.logon_count == 0
        assert sim.control.sessions() == []
    finally:
        stranger.stop(force=True)
        sim.stop()


def test_a_garbled_logon_does_not_keep_the_real_client_out(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path)
    try:
        with RawFixSession(sim.port, sender_comp_id="CLIENT1") as squatter:
            # Password(554) without a value: QuickFIX rejects the Logon before any callback runs,
            # and would keep this connection bound to CLIENT1; the simulator drops it.
            squatter.send("A", [(98, "0"), (108, "30"), (141, "Y"), (553, "CLIENT1"), (554, "")])
            squatter.wait_closed(timeout_s=5)
            real = FixTestClient.start_new(tmp_path / "real", sim.port, sender="CLIENT1")
            real.stop(force=True)
        assert "rejected before logon: dropping it" in sim.output()
    finally:
        sim.stop()
