"""Fixtures: one simulator subprocess and one in-process gateway shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway.harness import load, running_gateway, write_gateway_toml
from tests.support.sim_process import start_simulator


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest.fixture(scope="module")
def sim(module_dir: Path) -> Iterator[Any]:
    simulator = start_simulator(module_dir, md_interval_ms=50)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="module")
def gateway(module_dir: Path, sim: Any) -> Iterator[Any]:
    config = load(write_gateway_toml(module_dir / "gw", sim.port), sim.port)
    with running_gateway(config) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").control.clear_faults()
