"""The bundled FIX 4.4 dictionary keeps QuickFIX from dying on hostile data-field lengths.

QuickFIX 1.16 reads a field of type DATA by the length its length field announces, unchecked:
`95=-5` then `96=abc` aborts the process and `95=2000000000` segfaults it. fix_specs/FIX44.xml
declares those fields STRING (see fix_specs/README.md); these tests parse such messages with the
dictionary in this very process, so a regression would kill the test run, not pass quietly.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import quickfix as fix

DICTIONARY = Path(__file__).resolve().parents[3] / "fix_specs" / "FIX44.xml"
SOH = "\x01"


def framed(body_fields: list[tuple[int, str]]) -> str:
    """A syntactically complete FIX 4.4 Heartbeat carrying the given fields (test input only)."""
    header = [(35, "0"), (49, "BROKER"), (56, "FIXGW"), (34, "2"), (52, "20261129-23:00:00.000")]
    body = "".join(f"{tag}={value}{SOH}" for tag, value in header + body_fields)
    head = f"8=FIX.4.4{SOH}9={len(body)}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}"


def test_no_field_is_declared_data() -> None:
    declared = {
        field.get("name"): field.get("type")
        for field in ET.parse(DICTIONARY).getroot().iter("field")
        if field.get("type") is not None
    }
    assert "RawData" in declared and "XmlData" in declared
    assert [name for name, kind in declared.items() if kind == "DATA"] == []


@pytest.mark.parametrize(
    ("length_tag", "length", "data_tag"),
    [(95, "-5", 96), (212, "-3", 213), (95, "2000000000", 96), (354, "-1", 355), (95, "3", 96)],
)
def test_hostile_data_lengths_parse_as_ordinary_fields(length_tag: int, length: str, data_tag: int) -> None:
    dictionary = fix.DataDictionary(str(DICTIONARY))
    raw = framed([(length_tag, length), (data_tag, "abcdef")])

    message = fix.Message(raw, dictionary, False)

    # XmlDataLen(212)/XmlData(213) are header fields; the others are in the body
    fields = message.getHeader() if data_tag == 213 else message
    assert fields.getField(data_tag) == "abcdef"
    assert fields.getField(length_tag) == length
