"""The tick log written in bounded frames (the recorder thread's GIL-friendly flush) reads back
every record, in order, exactly as one big frame does."""

from __future__ import annotations

from pathlib import Path

from gateway.marketdata.ticklog import (
    _FRAME_HEADER,
    MAGIC,
    DecisionRecord,
    MessageRecord,
    TickLogWriter,
    read_ticklog,
)


def _write(path: Path, count: int, max_records: int) -> TickLogWriter:
    writer = TickLogWriter(path)
    for i in range(count):
        writer.message(1_000 + i, f"8=FIX.4.4\x0135=X\x0134={i}\x01")
        writer.decision(1_000 + i, "ACME", i, i - 5, 10_000_000_000 + i, -i, 500)
    while writer.has_pending:
        writer.flush(max_records=max_records)
    writer.close()
    return writer


def _frames(path: Path) -> int:
    data = path.read_bytes()
    offset, frames = len(MAGIC), 0
    while offset < len(data):
        packed_len, _ = _FRAME_HEADER.unpack_from(data, offset)
        offset += _FRAME_HEADER.size + packed_len
        frames += 1
    return frames


def test_bounded_frames_read_back_as_one_frame_does(tmp_path: Path) -> None:
    whole = _write(tmp_path / "whole.ticklog", 125, max_records=0)
    framed = _write(tmp_path / "framed.ticklog", 125, max_records=96)

    assert whole.records_written == framed.records_written == 250
    assert _frames(tmp_path / "whole.ticklog") == 1 and _frames(tmp_path / "framed.ticklog") == 3
    records = list(read_ticklog(tmp_path / "framed.ticklog"))
    assert records == list(read_ticklog(tmp_path / "whole.ticklog"))
    assert records[0] == MessageRecord(recv_ns=1_000, raw="8=FIX.4.4\x0135=X\x0134=0\x01")
    last = records[-1]
    assert isinstance(last, DecisionRecord) and last.decision_no == 124 and last.realized_pnl_e8 == -124
