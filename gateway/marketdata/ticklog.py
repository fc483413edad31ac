"""Append-only tick log: every market-data message as received, plus the inputs of each decision,
so a session can be replayed exactly (`fixgw features build`).

Layout: the magic line `FIXGW-TICKLOG 1\\n`, then frames `<u32 compressed length><u32 raw length>
<zlib bytes>`. Inside a frame, records `<u8 kind><i64 recv_ns><u32 payload length><payload>`:

- MESSAGE: the raw FIX message (tag=value, SOH-separated, latin-1), exactly as QuickFIX gave it;
- DECISION: symbol, decision number and the own-position inputs the decision used
  (qty, avg_cost_e8, realized_pnl_e8, max_position);
- SESSION_DOWN: the market-data session dropped.

The hot path only appends a small bytes object to a deque; `TickLogWriter.flush()` (called by the
recorder thread) compresses and writes. A crash loses what was not yet flushed (at most one flush
interval); a torn last frame is detected and ignored on reading.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

MAGIC: Final = b"FIXGW-TICKLOG 1\n"
KIND_MESSAGE: Final = 1
KIND_DECISION: Final = 2
KIND_SESSION_DOWN: Final = 3
KIND_MESSAGE_UTF8: Final = 4  # a message with text beyond latin-1 (the reference decoder read it)

_RECORD_HEADER: Final = struct.Struct("<BqI")
_FRAME_HEADER: Final = struct.Struct("<II")
# decision number, qty, avg_cost_e8, realized_pnl_e8, max_position
_DECISION: Final = struct.Struct("<qqqqq")


class TickLogError(Exception):
    """The tick log cannot be read (wrong magic, corrupt frame in the middle)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    recv_ns: int
    raw: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecord:
    recv_ns: int
    symbol: str
    decision_no: int
    position_qty: int
    avg_cost_e8: int
    realized_pnl_e8: int
    max_position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDownRecord:
    recv_ns: int


TickRecord = MessageRecord | DecisionRecord | SessionDownRecord


class TickLogWriter:
    def __init__(self, path: Path, *, max_pending: int = 1_000_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists() or path.stat().st_size == 0
        self.path = path
        # unbuffered: a write that fails (a full disk) leaves nothing half-buffered to be
        # written later, and the file is cut back to the last whole frame
        self._file: BinaryIO = path.open("ab", buffering=0)
        if fresh:
            self._file.write(MAGIC)
            self._file.flush()
        # Records as plain tuples: packing and encoding happen in `flush` (recorder thread),
        # off the FIX callback. deque.append is atomic, so the two threads need no lock.
        self._pending: deque[tuple[Any, ...]] = deque(maxlen=max_pending)
        self.records_written = 0
        self.records_dropped = 0

    # Hot path: one tuple appended, nothing else.
    def message(self, recv_ns: int, raw: str) -> None:
        self._pending.append((KIND_MESSAGE, recv_ns, raw))

    def decision(
        self,
        recv_ns: int,
        symbol: str,
        decision_no: int,
        qty: int,
        avg_cost_e8: int,
        realized_e8: int,
        max_position: int,
    ) -> None:
        self._pending.append(
            (KIND_DECISION, recv_ns, symbol, decision_no, qty, avg_cost_e8, realized_e8, max_position)
        )

    def session_down(self, recv_ns: int) -> None:
        self._pending.append((KIND_SESSION_DOWN, recv_ns))

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def flush(self, max_records: int = 0) -> int:
        """Pack, compress and write what is pending (recorder thread), as one frame; with
        `max_records`, at most that many records (the caller lets the FIX callback thread take
        the GIL between two frames). Returns records written."""
        chunks: list[bytes] = []
        pending = self._pending
        header = _RECORD_HEADER.pack
        budget = max_records if max_records > 0 else -1
        taken: list[tuple[Any, ...]] = []
        while pending and budget != 0:
            budget -= 1
            record = pending.popleft()
            taken.append(record)
            kind = record[0]
            if kind == KIND_MESSAGE:
                try:
                    payload = record[2].encode("latin-1")
                except UnicodeEncodeError:
                    # The live sink read it with the reference decoder: replay must see it too.
                    kind = KIND_MESSAGE_UTF8
                    payload = record[2].encode("utf-8", "surrogatepass")
            elif kind == KIND_DECISION:
                payload = _DECISION.pack(*record[3:]) + record[2].encode()
            else:
                payload = b""
            chunks.append(header(kind, record[1], len(payload)) + payload)
        if not chunks:
            return 0
        raw = b"".join(chunks)
        packed = zlib.compress(raw, 1)
        frame = _FRAME_HEADER.pack(len(packed), len(raw)) + packed
        try:
            self._write_whole(frame)
        except OSError:
            # Nothing is lost: the records go back in front of what arrived meanwhile (as many as
            # the bound leaves room for) and the next flush tries again.
            room = (pending.maxlen or len(taken) + len(pending)) - len(pending)
            kept = taken[-room:] if room > 0 else []
            self.records_dropped += len(taken) - len(kept)
            pending.extendleft(reversed(kept))
            raise
        self.records_written += len(chunks)
        return len(chunks)

    def _write_whole(self, frame: bytes) -> None:
        """Append one frame, or nothing: a partial write is cut off again, so a later frame never
        follows a torn one."""
        start = self._file.seek(0, os.SEEK_END)
        view = memoryview(frame)
        try:
            while view:
                written = self._file.write(view)
                if not written:
                    raise OSError(errno.ENOSPC, "short write")
                view = view[written:]
        except OSError:
            with contextlib.suppress(OSError):
                self._file.truncate(start)
            raise

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()


def read_ticklog(path: Path) -> Iterator[TickRecord]:
    """Yield the records of a tick log in order. A torn final frame (crash mid-write) ends it."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise TickLogError(f"{path}: not a fixgw tick log")
    offset = len(MAGIC)
    while offset + _FRAME_HEADER.size <= len(data):
        packed_len, raw_len = _FRAME_HEADER.unpack_from(data, offset)
        start = offset + _FRAME_HEADER.size
        if start + packed_len > len(data):
            return  # torn tail
        try:
            raw = zlib.decompress(data[start : start + packed_len])
        except zlib.error as exc:
            raise TickLogError(f"{path}: corrupt frame at byte {offset}") from exc
        if len(raw) != raw_len:
            raise TickLogError(f"{path}: frame at byte {offset} has {len(raw)} bytes, header says {raw_len}")
        yield from _records(raw)
        offset = start + packed_len


def _records(raw: bytes) -> Iterator[TickRecord]:
    pos = 0
    while pos < len(raw):
        kind, recv_ns, length = _RECORD_HEADER.unpack_from(raw, pos)
        pos += _RECORD_HEADER.size
        payload = raw[pos : pos + length]
        pos += length
        if kind == KIND_MESSAGE:
            yield MessageRecord(recv_ns=recv_ns, raw=payload.decode("latin-1"))
        elif kind == KIND_MESSAGE_UTF8:
            yield MessageRecord(recv_ns=recv_ns, raw=payload.decode("utf-8", "surrogatepass"))
        elif kind == KIND_DECISION:
            decision_no, qty, avg_cost_e8, realized_e8, max_position = _DECISION.unpack_from(payload)
            yield DecisionRecord(
                recv_ns=recv_ns,
                symbol=payload[_DECISION.size :].decode(),
                decision_no=decision_no,
                position_qty=qty,
                avg_cost_e8=avg_cost_e8,
                realized_pnl_e8=realized_e8,
                max_position=max_position,
            )
        elif kind == KIND_SESSION_DOWN:
            yield SessionDownRecord(recv_ns=recv_ns)
        else:
            raise TickLogError(f"unknown record kind {kind}")
