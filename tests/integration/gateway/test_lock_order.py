"""The order manager's lock and QuickFIX's session mutex are never taken in opposite orders:
a disconnect (QuickFIX calls onLogout holding its session mutex) racing a cancel from another
thread finishes, with the real engine, in a child process that a deadlock cannot hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.sim_process import REPO_ROOT

SCENARIO_TIMEOUT_S = 90


def test_a_disconnect_racing_a_cancel_from_another_thread_does_not_deadlock(tmp_path: Path) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.lock_order_scenario", str(tmp_path / "scenario")],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"the scenario hung for {SCENARIO_TIMEOUT_S} s:\n{exc.stdout!r}\n{exc.stderr!r}"
        ) from exc

    assert done.returncode == 0, (
        f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    )
    assert "no deadlock" in done.stdout
