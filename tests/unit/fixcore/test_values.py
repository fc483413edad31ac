"""The shared FIX vocabulary is the FIX 4.4 specification's: every enumeration value (and every
MsgType and BusinessRejectReason we name) exists in fix_specs/FIX44.xml under the tag's name."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from enum import StrEnum
from pathlib import Path

import pytest

from fixcore.values import BusinessRejectReason, ExecType, MsgType, OrdStatus, OrdType, Side, TimeInForce

SPEC = Path(__file__).resolve().parents[3] / "fix_specs" / "FIX44.xml"
# our short names for the specification's long ones
ALIASES = {"GTC": "GOOD_TILL_CANCEL", "IOC": "IMMEDIATE_OR_CANCEL", "FOK": "FILL_OR_KILL"}


def _allowed(field_name: str) -> dict[str, str]:
    root = ElementTree.parse(SPEC).getroot()
    for field in root.iter("field"):
        if field.get("name") == field_name and field.get("number"):
            return {value.get("enum", ""): value.get("description", "") for value in field.iter("value")}
    raise AssertionError(f"{field_name} is not in {SPEC.name}")


@pytest.mark.parametrize("enum", [Side, OrdType, TimeInForce, OrdStatus, ExecType])
def test_every_enumeration_value_is_the_specifications(enum: type[StrEnum]) -> None:
    allowed = _allowed(enum.__name__)

    for member in enum:
        assert member.value in allowed, f"{enum.__name__}.{member.name} = {member.value!r}"
        expected = ALIASES.get(member.name, member.name)
        assert allowed[member.value] == expected, f"{enum.__name__}.{member.name} is {allowed[member.value]}"


@pytest.mark.parametrize(
    ("holder", "field_name"), [(MsgType, "MsgType"), (BusinessRejectReason, "BusinessRejectReason")]
)
def test_every_named_value_is_the_specifications(holder: type, field_name: str) -> None:
    allowed = _allowed(field_name)
    named = {name: value for name, value in vars(holder).items() if name.isupper()}

    assert named
    for name, value in named.items():
        assert value in allowed, f"{holder.__name__}.{name} = {value!r}"
