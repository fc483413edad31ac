"""Reading send queues from the kernel's TCP table."""

from __future__ import annotations

from simulator.backpressure import SendQueueProbe, unsent_bytes

# /proc/net/tcp lines: a listener on 0x1F90 (8080), two established connections from it (one with
# 0x20000 bytes unsent), one established connection on another port, one in TIME_WAIT.
TABLE = [
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 1 1 0 100 0 0 10 0",
    "   1: 0100007F:1F90 0100007F:D431 01 00020000:00000000 00:00000000 00000000  0  0 2 1 0 20 4 30 10 -1",
    "   2: 0100007F:1F90 0100007F:D432 01 00000000:00000000 00:00000000 00000000  0  0 3 1 0 20 4 30 10 -1",
    "   3: 0100007F:0050 0100007F:D433 01 00FFFFFF:00000000 00:00000000 00000000  0  0 4 1 0 20 4 30 10 -1",
    "   4: 0100007F:1F90 0100007F:D434 06 00FFFFFF:00000000 00:00000000 00000000  0  0 0 3 0",
    "garbage",
]


def test_only_established_connections_on_the_port_count() -> None:
    assert sorted(unsent_bytes(8080, TABLE)) == [0, 0x20000]
    assert unsent_bytes(9999, TABLE) == []


def test_probe_on_a_port_nobody_uses_is_never_backed_up() -> None:
    probe = SendQueueProbe(1, limit_bytes=0)
    assert probe.backed_up() is False
