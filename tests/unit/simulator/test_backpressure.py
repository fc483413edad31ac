"""Send-queue probing on real loopback sockets."""

from __future__ import annotations

import os
import socket

from simulator.backpressure import SendQueueProbe, backed_up_limit, connected_sockets_on_port


def test_a_peer_that_does_not_read_shows_as_backed_up() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as peer:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            server_side, _ = listener.accept()
            with server_side:
                probe = SendQueueProbe(port, limit_bytes=32 * 1024, min_interval_s=0)
                assert connected_sockets_on_port(port) == [server_side.fileno()], "not the listener"
                assert not probe.backed_up()
                server_side.setblocking(False)
                chunk = b"x" * 4096
                try:
                    for _ in range(10_000):
                        server_side.send(chunk)
                except BlockingIOError:
                    pass  # the peer's window and our send buffer are full
                assert probe.largest_queue() > 32 * 1024
                assert probe.backed_up()
                # probing only looked: both descriptors are still open and working
                os.fstat(server_side.fileno())
                server_side.getpeername()
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            accepted.close()


def test_limit_is_a_quarter_of_the_granted_buffer_at_most_256_kib() -> None:
    assert backed_up_limit(1 << 20, wmem_max_bytes=4 << 20) == 256 * 1024
    assert backed_up_limit(1 << 20, wmem_max_bytes=212_992) == 106_496


def test_a_port_nobody_uses_is_never_backed_up() -> None:
    assert not SendQueueProbe(1, limit_bytes=0, min_interval_s=0).backed_up()
