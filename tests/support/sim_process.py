"""Run the simulator as a subprocess, the way a user runs `fixgw sim`, for tests.

    sim = start_simulator(tmp_path, faults={"reject_every_nth": 3})
    ... connect a FIX initiator to 127.0.0.1:sim.port (SenderCompID FIXGW, TargetCompID FIXSIM)
    sim.control.fills("FIXGW")
    sim.stop()          # SIGTERM, then wait; returns the exit code

Output goes to a file in the state directory, never a pipe: a pipe nobody reads would block a
chatty simulator.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simulator.control import SimulatorControl

REPO_ROOT = Path(__file__).resolve().parents[2]
SIM_CONFIG = REPO_ROOT / "sessions" / "simulator.cfg"
START_TIMEOUT_S = 20.0


def free_port() -> int:
    """A loopback port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SimulatorProcess:
    process: subprocess.Popen[bytes]
    port: int
    control_port: int
    state_dir: Path
    output_path: Path
    control: SimulatorControl
    command: list[str] = field(default_factory=list)

    @property
    def state_db(self) -> Path:
        return self.state_dir / "venue.sqlite"

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM and wait, as a user's Ctrl-C or service manager would; returns the exit code."""
        self.control.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return int(self.process.returncode)

    def kill(self) -> int:
        """SIGKILL: a crash, nothing gets to run on the way out."""
        self.control.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        return int(self.process.returncode)


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
    """Start `python -m simulator.cli` on free loopback ports; returns once it is listening.

    `password`, when given, is required at Logon (through the environment variable the
    settings file names in SimPasswordEnv, FIXSIM_PASSWORD by default); otherwise that
    variable is removed from the child's environment so no password is asked for.
    """
    state = state_dir or (tmp_path / "sim-state")
    state.mkdir(parents=True, exist_ok=True)
    fix_port = port or free_port()
    ctl_port = control_port or free_port()
    command = [
        sys.executable,
        "-m",
        "simulator.cli",
        "--config",
        str(config),
        "--port",
        str(fix_port),
        "--seed",
        str(seed),
        "--state-dir",
        str(state),
        "--control-port",
        str(ctl_port),
        "--md-interval-ms",
        str(md_interval_ms),
    ]
    for name, value in (faults or {}).items():
        command += ["--fault", f"{name}={value}"]
    command += extra_args or []
    child_env = {k: v for k, v in os.environ.items() if k != "FIXSIM_PASSWORD"}
    if password is not None:
        child_env["FIXSIM_PASSWORD"] = password
    child_env.update(env or {})
    output_path = state / f"sim-output-{int(time.time() * 1000)}.log"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=child_env, stdout=output, stderr=subprocess.STDOUT
        )
    handle = SimulatorProcess(
        process=process,
        port=fix_port,
        control_port=ctl_port,
        state_dir=state,
        output_path=output_path,
        control=SimulatorControl(ctl_port),
        command=command,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = handle.output()
        if "listening on" in text and "control on" in text:
            return handle
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited with {process.returncode} before listening:\n{text}")
        time.sleep(0.05)
    handle.kill()
    raise TimeoutError(f"simulator not listening after {START_TIMEOUT_S}s:\n{handle.output()}")
