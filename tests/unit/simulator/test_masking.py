"""Secrets never reach the message log."""

from __future__ import annotations

from pathlib import Path

from simulator.acceptor import MessageLogWriter, mask_secrets


def test_password_new_password_and_raw_data_are_masked() -> None:
    raw = "8=FIX.4.4\x019=70\x0135=A\x01553=me\x01554=pw1\x01925=pw2\x0195=3\x0196=abc\x0110=000\x01"
    masked = mask_secrets(raw)
    assert "pw1" not in masked and "pw2" not in masked and "abc" not in masked
    assert "\x01554=***\x01" in masked and "\x01925=***\x01" in masked and "\x0196=***\x01" in masked
    assert "\x01553=me\x01" in masked


def test_messages_without_secrets_are_unchanged() -> None:
    raw = "8=FIX.4.4\x019=5\x0135=0\x01112=5540\x0110=000\x01"
    assert mask_secrets(raw) == raw


def test_log_writer_masks_and_leaves_out_market_data(tmp_path: Path) -> None:
    writer = MessageLogWriter(tmp_path)
    writer.write("S", "in", "8=FIX.4.4\x0135=A\x01554=secret\x01")
    writer.write("S", "out", "8=FIX.4.4\x0135=X\x01262=r\x01")
    writer.write("S", "out", "8=FIX.4.4\x0135=8\x0111=o1\x01")
    writer.close()
    text = (tmp_path / "messages.log").read_text()
    assert "secret" not in text and "554=***" in text
    assert "35=X" not in text and "|11=o1|" in text
