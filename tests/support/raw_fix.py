"""Raw FIX bytes over a plain TCP socket, for hostile-input tests only.

The product never assembles FIX by hand: QuickFIX does the session layer. Tests that must send
what QuickFIX refuses to produce (a bad CheckSum(10), a wrong BodyLength(9), a tag that is not a
number, a NewOrderSingle(35=D) missing a required field) build frames here, field by field, and
read the venue's answers with a deliberately small splitter.

`frame()` assembles one message; `RawFixSession` logs on over a socket, keeps the outgoing
MsgSeqNum(34), sends frames, and waits for answers or for the venue to hang up.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

SOH = b"\x01"
FIX44 = "FIX.4.4"

Field = tuple[int | str, str]


def checksum(data: bytes) -> str:
    """CheckSum(10): the byte sum of everything before the `10=` field, modulo 256, 3 digits."""
    return f"{sum(data) % 256:03d}"


def frame(
    fields: Sequence[Field],
    *,
    begin_string: str = FIX44,
    body_length: int | str | None = None,
    checksum_value: str | None = None,
) -> bytes:
    """One FIX message: BeginString(8), BodyLength(9), `fields` in the given order, CheckSum(10).

    `body_length` and `checksum_value` override the correct values, to produce bad frames. Tags
    are written as given, so `("abc", "1")` or `("", "x")` produce garbled fields on purpose.
    """
    body = b"".join(f"{tag}={value}".encode() + SOH for tag, value in fields)
    length = len(body) if body_length is None else body_length
    head = f"8={begin_string}".encode() + SOH + f"9={length}".encode() + SOH
    cks = checksum(head + body) if checksum_value is None else checksum_value
    return head + body + f"10={cks}".encode() + SOH


def sending_time() -> str:
    now = time.time()
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(now)) + f".{int((now % 1) * 1000):03d}"


@dataclass(frozen=True, slots=True)
class FixMessage:
    """A received message: its fields in wire order, plus the raw bytes."""

    fields: tuple[tuple[str, str], ...]
    raw: bytes

    def get(self, tag: int) -> str | None:
        key = str(tag)
        for field_tag, value in self.fields:
            if field_tag == key:
                return value
        return None

    @property
    def msg_type(self) -> str | None:
        return self.get(35)

    def __str__(self) -> str:
        return self.raw.replace(SOH, b"|").decode(errors="replace")


def split_messages(buffer: bytearray) -> list[FixMessage]:
    """Remove and return every complete message at the start of `buffer` (ends with `10=nnn<SOH>`)."""
    messages: list[FixMessage] = []
    while True:
        start = buffer.find(b"8=")
        if start < 0:
            return messages
        end_marker = buffer.find(SOH + b"10=", start)
        if end_marker < 0:
            return messages
        end = buffer.find(SOH, end_marker + 4)
        if end < 0:
            return messages
        raw = bytes(buffer[start : end + 1])
        del buffer[: end + 1]
        pairs = []
        for part in raw.split(SOH):
            if part:
                tag, _, value = part.partition(b"=")
                pairs.append((tag.decode(errors="replace"), value.decode(errors="replace")))
        messages.append(FixMessage(fields=tuple(pairs), raw=raw))


class PeerClosed(Exception):
    """The venue closed the connection."""


class RawFixSession:
    """A FIX 4.4 initiator made of a socket and a sequence counter, for sending bad input."""

    def __init__(
        self,
        port: int,
        *,
        sender_comp_id: str,
        target_comp_id: str = "FIXSIM",
        host: str = "127.0.0.1",
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.sender_comp_id = sender_comp_id
        self.target_comp_id = target_comp_id
        self.next_seq_num = 1
        # `received` holds what no wait has consumed yet; `history` everything, in arrival order.
        self.received: list[FixMessage] = []
        self.history: list[FixMessage] = []
        self._buffer = bytearray()
        self._closed = False
        self._socket = socket.create_connection((host, port), timeout=connect_timeout_s)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> RawFixSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- sending -------------------------------------------------------------------------
    def header(self, msg_type: str, *, seq_num: int | None = None) -> list[Field]:
        """MsgType(35), SenderCompID(49), TargetCompID(56), MsgSeqNum(34), SendingTime(52)."""
        seq = self.next_seq_num if seq_num is None else seq_num
        return [
            (35, msg_type),
            (49, self.sender_comp_id),
            (56, self.target_comp_id),
            (34, str(seq)),
            (52, sending_time()),
        ]

    def send_raw(self, data: bytes) -> None:
        self._socket.sendall(data)

    def send(
        self,
        msg_type: str,
        body: Iterable[Field] = (),
        *,
        consume_seq_num: bool = True,
        body_length: int | str | None = None,
        checksum_value: str | None = None,
    ) -> bytes:
        """Send one message with a correct header; returns the bytes sent.

        `consume_seq_num=False` keeps the sequence number for the next message: use it for a
        frame the venue must discard as garbled, which does not count as received.
        """
        data = frame(
            [*self.header(msg_type), *body],
            body_length=body_length,
            checksum_value=checksum_value,
        )
        self.send_raw(data)
        if consume_seq_num:
            self.next_seq_num += 1
        return data

    def logon(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        heartbeat_s: int = 30,
        reset_seq_num: bool = True,
        timeout_s: float = 5.0,
    ) -> FixMessage:
        """Send Logon(35=A) and return the venue's answer: its Logon or a Logout(35=5)."""
        body: list[Field] = [(98, "0"), (108, str(heartbeat_s))]
        if reset_seq_num:
            body.append((141, "Y"))
        if username is not None:
            body.append((553, username))
        if password is not None:
            body.append((554, password))
        self.send("A", body)
        return self.wait_for(lambda m: m.msg_type in {"A", "5"}, timeout_s=timeout_s)

    def logout(self, *, timeout_s: float = 5.0) -> None:
        """Send Logout(35=5) unless the venue already hung up, then wait for it to close."""
        if self._closed:
            return
        with contextlib.suppress(OSError):
            self.send("5")
        with contextlib.suppress(TimeoutError):
            self.wait_closed(timeout_s)

    def test_request(self, test_req_id: str, *, timeout_s: float = 5.0) -> FixMessage:
        """Send TestRequest(35=1); return the Heartbeat(35=0) that echoes TestReqID(112)."""
        self.send("1", [(112, test_req_id)])
        return self.wait_for(lambda m: m.msg_type == "0" and m.get(112) == test_req_id, timeout_s=timeout_s)

    # --- receiving -----------------------------------------------------------------------
    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._socket.settimeout(remaining)
        try:
            chunk = self._socket.recv(65536)
        except TimeoutError:
            raise
        except OSError as error:  # reset by the peer counts as closed
            self._closed = True
            raise PeerClosed(str(error)) from error
        if not chunk:
            self._closed = True
            raise PeerClosed("connection closed by the venue")
        self._buffer.extend(chunk)
        messages = split_messages(self._buffer)
        self.received.extend(messages)
        self.history.extend(messages)

    def wait_for(self, predicate: Callable[[FixMessage], bool], *, timeout_s: float = 5.0) -> FixMessage:
        """The first message received (from now or already buffered) that satisfies `predicate`.

        Raises TimeoutError, or PeerClosed if the venue hung up before such a message came.
        """
        deadline = time.monotonic() + timeout_s
        checked = 0
        while True:
            while checked < len(self.received):
                message = self.received[checked]
                checked += 1
                if predicate(message):
                    del self.received[:checked]
                    return message
            if self._closed:
                raise PeerClosed("connection closed by the venue")
            self._read_some(deadline)

    def drain(self, quiet_s: float = 0.3) -> list[FixMessage]:
        """Everything that arrives until the line has been quiet for `quiet_s`."""
        with contextlib.suppress(TimeoutError, PeerClosed):
            while True:
                self._read_some(time.monotonic() + quiet_s)
        drained, self.received = self.received, []
        return drained

    def wait_closed(self, timeout_s: float = 5.0) -> list[FixMessage]:
        """Wait until the venue closes the connection; return what it sent before that."""
        deadline = time.monotonic() + timeout_s
        while not self._closed:
            try:
                self._read_some(deadline)
            except PeerClosed:
                break
        drained, self.received = self.received, []
        return drained

    @property
    def closed(self) -> bool:
        return self._closed
