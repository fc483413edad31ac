"""The logon-sweep benchmark measures what it says: the probe sees every connection it set up,
and tells the answered ones from the silent ones."""

from __future__ import annotations

import sys

import pytest

from bench.logon_sweep import bare_scan, connections
from simulator.idle_connections import ProcSocketProbe

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/fd and TCP_INFO are Linux's")


def test_the_rig_gives_the_probe_answered_and_silent_connections() -> None:
    with connections(3, 5) as port:
        observed = ProcSocketProbe(port).observe()

        assert len(observed) == 8
        assert sum(connection.sent_nothing for connection in observed) == 5
        assert bare_scan() >= 1 + 2 * 8  # the listener and both ends of every connection
