"""An in-process simulator (real QuickFIX acceptor, real SQLite file) and FIX test clients.

One simulator per test module: QuickFIX keeps sessions in a process-wide registry, so two
acceptors with the same sessions cannot run in one process at the same time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.control import SimulatorControl
from simulator.server import SimulatorServer
from simulator.settings import load_settings
from tests.support.fix_client import FixTestClient
from tests.support.sim_process import SIM_CONFIG, free_port


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    state = tmp_path_factory.mktemp("sim")
    settings = load_settings(
        SIM_CONFIG, port=free_port(), seed=7, state_dir=state, control_port=0, md_interval_ms=20
    )
    with pytest.MonkeyPatch.context() as environment:
        # A FIXSIM_PASSWORD in the developer's shell would make every logon here fail.
        environment.delenv("FIXSIM_PASSWORD", raising=False)
        server = SimulatorServer(settings)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        server: SimulatorServer = request.getfixturevalue("sim")
        server.faults.clear()
        server.resume_market()


@pytest.fixture(scope="module")
def control(sim: SimulatorServer) -> Iterator[SimulatorControl]:
    assert sim.control_port is not None
    with SimulatorControl(sim.control_port) as client:
        yield client


@pytest.fixture(scope="module")
def gw(sim: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixTestClient]:
    client = FixTestClient.start_new(tmp_path_factory.mktemp("gw"), sim.port, sender="FIXGW")
    try:
        yield client
    finally:
        client.stop(force=True)


@pytest.fixture(scope="module")
def md(sim: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixTestClient]:
    client = FixTestClient.start_new(tmp_path_factory.mktemp("md"), sim.port, sender="FIXGW-MD")
    try:
        yield client
    finally:
        client.stop(force=True)


def state_dir(sim: SimulatorServer) -> Path:
    return sim.settings.state_dir
