"""Run the simulator as a child process, the way a user runs `fixgw sim`.

Used by `fixgw demo`, the benchmarks and the tests, so all of them start, wait for and stop the
venue the same way:

    sim = start_simulator_process(state_dir, faults={"reject_every_nth": 3})
    ... connect a FIX initiator to 127.0.0.1:sim.port (SenderCompID FIXGW, TargetCompID FIXSIM)
    sim.control.fills("FIXGW")
    sim.stop()          # SIGTERM, then wait; returns the exit code

Output goes to a file in the state directory, never a pipe: a pipe nobody reads would block a
chatty simulator. The state directory and that file are owner-only.

The control port needs a token: this process makes a random one, hands it to the child in its
environment (FIXSIM_CONTROL_TOKEN; no file holds it) and registers it for the port, so
`SimulatorControl(port)` anywhere in this process, and `handle.control`, authenticate.
Passwords: `password` is the gateway's sessions' (FIXSIM_PASSWORD: FIXGW, FIXGW-MD), and
CLIENT1's goes in `env={CLIENT1_PASSWORD_ENV: ...}`; every FIXSIM_PASSWORD* variable of this
process is left out of the child's environment unless given here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fixcore.files import owner_only, private_dir
from simulator.control import TOKEN_ENV, SimulatorControl, forget_token, new_token, remember_token

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "sessions" / "simulator.cfg"
PASSWORD_ENV = "FIXSIM_PASSWORD"  # the gateway's sessions (FIXGW, FIXGW-MD) in simulator.cfg
CLIENT1_PASSWORD_ENV = "FIXSIM_PASSWORD_CLIENT1"  # CLIENT1's own, in simulator.cfg
START_TIMEOUT_S = 30.0


class SimulatorStartError(RuntimeError):
    """The simulator exited or did not listen in time; the message carries its output."""


def free_port() -> int:
    """A loopback port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _terminate_with_parent() -> None:
    """In the child, before exec: ask Linux to send it SIGTERM when the parent dies, so even a
    parent killed with SIGKILL (no finally runs) does not leave the simulator behind."""
    import ctypes

    pr_set_pdeathsig = 1
    # Best effort: if prctl is unavailable or refused, the child's own parent-pid watch
    # (--exit-with-parent) still stops it within a second.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class SimulatorProcess:
    process: subprocess.Popen[bytes]
    port: int
    control_port: int
    state_dir: Path
    output_path: Path
    control: SimulatorControl
    command: list[str] = field(default_factory=list)
    control_token: str = field(default="", repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

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
        forget_token(self.control_port)
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
        forget_token(self.control_port)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        return int(self.process.returncode)


def start_simulator_process(
    state_dir: Path,
    *,
    faults: Mapping[str, object] | None = None,
    seed: int = 7,
    md_interval_ms: float | None = None,
    port: int | None = None,
    control_port: int | None = None,
    config: Path = DEFAULT_CONFIG,
    password: str | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    output_name: str | None = None,
    die_with_parent: bool = False,
    start_timeout_s: float = START_TIMEOUT_S,
) -> SimulatorProcess:
    """Start `python -m simulator.cli` on free loopback ports; returns once it is listening.

    `password`, when given, is required at Logon on the gateway's sessions (through the
    environment variable the settings file names in SimPasswordEnv, FIXSIM_PASSWORD by default);
    CLIENT1's goes in `env={CLIENT1_PASSWORD_ENV: ...}`. Every FIXSIM_PASSWORD* variable of this
    process is removed from the child's environment, so only what is given here is asked for.
    The control token is made here (or taken from `env[FIXSIM_CONTROL_TOKEN]`) and registered
    for the port (see the module docstring).
    """
    private_dir(state_dir)
    fix_port = port or free_port()
    ctl_port = control_port or free_port()
    command = [sys.executable, "-m", "simulator.cli", "--config", str(config)]
    command += ["--port", str(fix_port), "--seed", str(seed), "--state-dir", str(state_dir)]
    command += ["--control-port", str(ctl_port)]
    if md_interval_ms is not None:
        command += ["--md-interval-ms", str(md_interval_ms)]
    for name, value in (faults or {}).items():
        command += ["--fault", f"{name}={value}"]
    command += list(extra_args)
    if die_with_parent:
        command.append("--exit-with-parent")
    # A password or token in this process's environment (a developer's shell) is not the child's.
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(PASSWORD_ENV) and k != TOKEN_ENV}
    if password is not None:
        child_env[PASSWORD_ENV] = password
    child_env[TOKEN_ENV] = new_token()
    child_env.update(env or {})  # may bring a token of the caller's own (or "": the token file)
    token = child_env[TOKEN_ENV]
    output_path = state_dir / (output_name or f"sim-output-{int(time.time() * 1000)}.log")
    with owner_only(), output_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=child_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_terminate_with_parent if die_with_parent and sys.platform == "linux" else None,
        )
    handle = SimulatorProcess(
        process=process,
        port=fix_port,
        control_port=ctl_port,
        state_dir=state_dir,
        output_path=output_path,
        control=SimulatorControl(ctl_port, token=token),
        command=command,
        control_token=token,
    )
    remember_token(ctl_port, token)
    deadline = time.monotonic() + start_timeout_s
    while time.monotonic() < deadline:
        text = handle.output()
        if "listening on" in text and "control on" in text:
            return handle
        if process.poll() is not None:
            forget_token(ctl_port)
            raise SimulatorStartError(f"the simulator exited with {process.returncode}:\n{text[-2000:]}")
        time.sleep(0.05)
    handle.kill()
    raise SimulatorStartError(
        f"the simulator did not listen within {start_timeout_s:.0f}s:\n{handle.output()[-2000:]}"
    )
