"""No secret in any file, and owner-only state, for the gateway and the simulator it trades with.

The review found the venue password in clear
in `<state_dir>/store/*.body` (QuickFIX's FileStore keeps every message sent, the Logon with
Password(554) among them) and every file fixgw writes world-readable. Here the gateway logs on
with a password from the environment to a simulator with a password per session and a control
token, trades, and stops; then every file under both state directories is scanned for every one
of those secrets, and every directory must be 0700 and every file 0600.

The gateway's file modes come from gateway/files.py once gateway/app.py (configure_logging,
Gateway.start) and gateway/ledger/store.py call it; until then the gateway's mode test fails.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.gateway.harness import load, oms_of, running_gateway, wait_until, write_gateway_toml
from tests.support.raw_fix import RawFixSession
from tests.support.sim_process import CLIENT1_PASSWORD_ENV, start_simulator

GATEWAY_PASSWORD = f"gw-pass-{uuid.uuid4().hex}"
CLIENT1_PASSWORD = f"c1-pass-{uuid.uuid4().hex}"
WRONG_PASSWORD = f"typo-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Run:
    gateway_state: Path
    sim_state: Path
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    directory = tmp_path_factory.mktemp("secrets")
    # A user's usual umask: the modes checked below must come from fixgw, not from a umask
    # something else in this test process happened to leave.
    previous_umask = os.umask(0o022)
    try:
        run = _run(directory)
    finally:
        os.umask(previous_umask)
    yield run


def _run(directory: Path) -> Run:
    sim = start_simulator(directory, password=GATEWAY_PASSWORD, env={CLIENT1_PASSWORD_ENV: CLIENT1_PASSWORD})
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("FIXGW_TEST_PASSWORD", GATEWAY_PASSWORD)
        try:
            toml = write_gateway_toml(
                directory / "gw", sim.port, venue_extra='password_env = "FIXGW_TEST_PASSWORD"'
            )
            config = load(toml, sim.port)
            with running_gateway(config) as gateway:
                result = oms_of(gateway).submit(
                    symbol="ACME", side="1", qty=1, ord_type="1", price=None, tif="0"
                )
                assert result.accepted and result.cl_ord_id is not None, result.reason
                cl_ord_id = result.cl_ord_id
                wait_until(lambda: (o := oms_of(gateway).order(cl_ord_id)) and o.is_final, 10, "the order")
                # the other client logs on, and someone tries a wrong password
                with RawFixSession(sim.port, sender_comp_id="CLIENT1") as client1:
                    assert client1.logon(username="CLIENT1", password=CLIENT1_PASSWORD).msg_type == "A"
                    client1.logout()
                with RawFixSession(sim.port, sender_comp_id="CLIENT1") as typo:
                    assert typo.logon(username="CLIENT1", password=WRONG_PASSWORD).msg_type == "5"
                assert sim.control.ping()
        finally:
            exit_code = sim.stop()
    assert exit_code == 0, sim.output()[-3000:]
    return Run(
        gateway_state=config.gateway.state_dir,
        sim_state=sim.state_dir,
        secrets={
            "gateway password": GATEWAY_PASSWORD,
            "CLIENT1 password": CLIENT1_PASSWORD,
            "wrong password": WRONG_PASSWORD,
            "control token": sim.control_token,
        },
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def modes(root: Path) -> dict[str, str]:
    """Paths (relative to `root`'s parent) whose mode is not 0700 (directories) / 0600 (files)."""
    loose = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if not path.is_symlink() and mode != wanted:
            loose[str(path.relative_to(root.parent))] = f"{mode:04o}"
    return loose


def test_no_file_of_the_gateway_or_the_simulator_holds_a_secret(finished_run: Run) -> None:
    leaks = [
        f"{path}: {name}"
        for root in (finished_run.gateway_state, finished_run.sim_state)
        for path in files_under(root)
        for name, secret in finished_run.secrets.items()
        if secret.encode() in path.read_bytes()
    ]

    assert any(p.suffix == ".body" for p in files_under(finished_run.gateway_state)), "no message store?"
    assert leaks == []


def test_the_gateway_store_keeps_orders_for_resending_but_no_session_message(finished_run: Run) -> None:
    body = (finished_run.gateway_state / "store" / "FIX.4.4-FIXGW-FIXSIM.body").read_bytes()

    assert b"\x0135=D\x01" in body, "a fresh order must stay resendable"
    assert b"\x0135=A\x01" not in body and b"\x01554=" not in body


def test_the_simulator_state_is_owner_only(finished_run: Run) -> None:
    assert modes(finished_run.sim_state) == {}


def test_the_gateway_state_is_owner_only(finished_run: Run) -> None:
    # Needs gateway/app.py and gateway/ledger/store.py to use gateway/files.py (docs/security.md).
    assert modes(finished_run.gateway_state) == {}
