"""Instruments the venue lists: symbol, tick size, lot size and a reference price.

Takes the `SimSymbols` setting text (or nothing, for the defaults in docs/simulator.md) and gives
`Instrument` values that convert between wire prices (Decimal) and integer ticks, the only
price representation the book and matching ever see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class InstrumentError(ValueError):
    """A symbol definition that cannot be used (bad number, non-positive tick or lot)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: int
    reference_price: Decimal

    @property
    def reference_ticks(self) -> int:
        ticks = self.to_ticks(self.reference_price)
        if ticks is None:
            raise InstrumentError(
                f"{self.symbol}: reference price {self.reference_price} is off the tick grid"
            )
        return ticks

    def to_ticks(self, price: Decimal) -> int | None:
        """The price in whole ticks, or None when it is not a multiple of the tick size."""
        quotient = price / self.tick_size
        if quotient != quotient.to_integral_value():
            return None
        return int(quotient)

    def to_price(self, ticks: int) -> Decimal:
        return (self.tick_size * ticks).quantize(self.tick_size)

    def format_price(self, ticks: int) -> str:
        return str(self.to_price(ticks))


DEFAULT_SYMBOLS_TEXT = "ACME:0.01:1:100.00,BOLT:0.05:10:50.00,CRUX:0.01:100:20.00"


def parse_symbols(text: str) -> dict[str, Instrument]:
    """Parse `SYMBOL:tick:lot:reference[,SYMBOL:tick:lot:reference...]`."""
    instruments: dict[str, Instrument] = {}
    for raw_entry in text.replace(";", ",").split(","):
        entry = raw_entry.strip()
        if not entry:
            continue
        parts = [part.strip() for part in entry.split(":")]
        if len(parts) != 4 or not parts[0]:
            raise InstrumentError(f"symbol entry {entry!r} is not SYMBOL:tick:lot:reference_price")
        symbol, tick_text, lot_text, reference_text = parts
        try:
            tick_size = Decimal(tick_text)
            reference_price = Decimal(reference_text)
            lot_size = int(lot_text)
        except (InvalidOperation, ValueError) as exc:
            raise InstrumentError(f"symbol entry {entry!r}: {exc}") from exc
        if not tick_size.is_finite() or tick_size <= 0 or lot_size <= 0 or reference_price <= 0:
            raise InstrumentError(f"symbol entry {entry!r}: tick, lot and reference price must be positive")
        instrument = Instrument(
            symbol=symbol, tick_size=tick_size, lot_size=lot_size, reference_price=reference_price
        )
        instrument.reference_ticks  # noqa: B018 - validates the reference price now, not at first use
        instruments[symbol] = instrument
    if not instruments:
        raise InstrumentError("no symbols defined")
    return instruments


def default_instruments() -> Mapping[str, Instrument]:
    return parse_symbols(DEFAULT_SYMBOLS_TEXT)
