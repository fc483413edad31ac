"""The simulator as a subprocess for tests: `simulator.process` with pytest's tmp_path.

sim = start_simulator(tmp_path, faults={"reject_every_nth": 3})
... connect a FIX initiator to 127.0.0.1:sim.port (SenderCompID FIXGW, TargetCompID FIXSIM)
sim.control.fills("FIXGW")
sim.stop()          # SIGTERM, then wait; returns the exit code
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from simulator.process import CLIENT1_PASSWORD_ENV, SimulatorProcess, free_port, start_simulator_process
from simulator.process import DEFAULT_CONFIG as SIM_CONFIG
from simulator.process import PROJECT_ROOT as REPO_ROOT

__all__ = [
    "CLIENT1_PASSWORD_ENV",
    "REPO_ROOT",
    "SIM_CONFIG",
    "SimulatorProcess",
    "free_port",
    "start_simulator",
]

START_TIMEOUT_S = 20.0


def start_simulator(
    tmp_path: Path,
    faults: Mapping[str, object] | None = None,
    seed: int = 7,
    md_interval_ms: float = 50,
    *,
    port: int | None = None,
    control_port: int | None = None,
    state_dir: Path | None = None,
    config: Path = SIM_CONFIG,
    password: str | None = None,
    extra_args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> SimulatorProcess:
    """Start the simulator with its state under `tmp_path/sim-state` (or `state_dir`) and a
    fast market timer; returns once it is listening. `password` is FIXGW's and FIXGW-MD's;
    CLIENT1's goes in `env={CLIENT1_PASSWORD_ENV: ...}`."""
    return start_simulator_process(
        state_dir or (tmp_path / "sim-state"),
        faults=faults,
        seed=seed,
        md_interval_ms=md_interval_ms,
        port=port,
        control_port=control_port,
        config=config,
        password=password,
        extra_args=extra_args or (),
        env=env,
        start_timeout_s=START_TIMEOUT_S,
    )
