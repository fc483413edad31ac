"""FIX codec: ExecutionReport parsing by tag, errors naming the tag, secrets masked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixcore.masking import mask_secrets
from gateway.domain.errors import MessageError
from gateway.domain.fix_values import ExecType, OrdStatus
from gateway.fix.codec import build_market_data_request, parse_execution_report, readable

SOH = "\x01"


def er(**overrides: str) -> str:
    fields = {
        "8": "FIX.4.4",
        "9": "200",
        "35": "8",
        "34": "12",
        "49": "FIXSIM",
        "56": "FIXGW",
        "52": "20260101-00:00:00",
        "6": "100.5",
        "11": "1-1",
        "14": "4",
        "17": "E9",
        "31": "100.5",
        "32": "4",
        "37": "O1",
        "38": "10",
        "39": "1",
        "54": "1",
        "55": "ACME",
        "150": "F",
        "151": "6",
        "60": "20260101-00:00:00.001",
    }
    fields.update(overrides)
    return SOH.join(f"{k}={v}" for k, v in fields.items() if v is not None) + SOH + "10=000" + SOH


def test_fill_report_is_parsed_exactly():
    report = parse_execution_report(er(), "S", 5)

    assert report.exec_type is ExecType.TRADE and report.ord_status is OrdStatus.PARTIALLY_FILLED
    assert report.last_qty == 4 and report.last_px == Decimal("100.5") and report.cum_qty == 4
    assert report.seq_num == 12 and report.exec_id == "E9" and "|" in report.raw


@pytest.mark.parametrize(
    ("override", "tag"),
    [
        ({"150": "2"}, 150),  # FIX 4.2 Fill is not FIX 4.4
        ({"39": "Z"}, 39),
        ({"17": ""}, 17),
        ({"32": "abc"}, 32),
        ({"32": "0"}, 32),
        ({"31": "-1"}, 31),
        ({"151": "1.5"}, 151),
        ({"150": "H", "19": None}, 19),
    ],
)
def test_unprocessable_reports_name_the_tag(override, tag):
    with pytest.raises(MessageError) as caught:
        parse_execution_report(er(**override), "S", 1)

    assert caught.value.tag == tag


def test_password_is_masked_wherever_it_appears():
    raw = f"8=FIX.4.4{SOH}35=A{SOH}553=me{SOH}554=s3cret{SOH}925=n3w{SOH}10=1{SOH}"

    assert "s3cret" not in mask_secrets(raw) and "n3w" not in mask_secrets(raw)
    assert "554=***" in readable(raw) and "553=me" in readable(raw)


def test_market_data_request_subscribes_to_bid_offer_trade_for_each_symbol():
    text = build_market_data_request("SIM-md-1", ["ACME", "BOLT"], subscription="1", depth=5).toString()

    for needle in (
        "35=V",
        "262=SIM-md-1",
        "263=1",
        "264=5",
        "265=1",
        "267=3",
        "269=0",
        "269=1",
        "269=2",
        "146=2",
        "55=ACME",
        "55=BOLT",
    ):
        assert f"{SOH}{needle}{SOH}" in SOH + text


def test_utc_timestamps_parse_to_integer_nanoseconds():
    from fixcore.timestamps import utc_timestamp_ns

    assert utc_timestamp_ns("19700101-00:00:01") == 1_000_000_000
    assert utc_timestamp_ns("19700101-00:00:01.250") == 1_250_000_000
    assert utc_timestamp_ns("19700101-00:00:00.000000007") == 7
    with pytest.raises(ValueError):
        utc_timestamp_ns("yesterday")
