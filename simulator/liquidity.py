"""Seeded background flow that makes a market for clients to trade against.

Per symbol, a market maker quotes several levels on each side of a fair value that follows a
random walk (pulled gently back towards the reference price), and a noise trader now and then
sends an immediate-or-cancel order that takes liquidity. Takes a `Venue` and acts on it through
`place_background`/`cancel_background`, so agent orders meet client orders under the same
price-time rules; the agents' own fills are not client fills and are never recorded.

Every agent draws from its own `random.Random`, seeded from the run's seed and the symbol, so
the same seed and the same sequence of client orders replay the same market.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.book import BookSide
from simulator.instruments import Instrument
from simulator.venue import Venue, VenueResult


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidityConfig:
    levels: int = 5
    half_spread_ticks: int = 1
    level_spacing_ticks: int = 1
    quote_qty_min: int = 100  # shares; rounded to the symbol's lot, at least one lot
    quote_qty_max: int = 500
    noise_probability: float = 0.3  # per symbol per step
    noise_qty_min: int = 10
    noise_qty_max: int = 200
    noise_reach_ticks: int = 2  # how far through the touch a noise order may trade
    requote_probability: float = 0.5  # chance per step that the maker moves its fair value
    mean_reversion_ticks: int = 200  # distance from the reference at which the pull back is certain


def _round_to_lot(qty: int, lot: int) -> int:
    return max(lot, (qty // lot) * lot)


class MarketMaker:
    def __init__(self, instrument: Instrument, seed: int, config: LiquidityConfig) -> None:
        self.instrument = instrument
        self.config = config
        self.rng = random.Random(f"{seed}:{instrument.symbol}:maker")
        self.fair_ticks = instrument.reference_ticks
        self._quotes: dict[tuple[BookSide, int], str] = {}

    def _move_fair_value(self) -> None:
        if self.rng.random() >= self.config.requote_probability:
            return
        distance = self.fair_ticks - self.instrument.reference_ticks
        pull = min(1.0, abs(distance) / max(1, self.config.mean_reversion_ticks))
        if distance and self.rng.random() < pull / 2:
            self.fair_ticks -= 1 if distance > 0 else -1
        else:
            self.fair_ticks += self.rng.choice((-1, 1))
        # A price never reaches zero: the lowest bid level stays at one tick or more.
        floor = self.config.half_spread_ticks + self.config.levels * self.config.level_spacing_ticks + 1
        self.fair_ticks = max(self.fair_ticks, floor)

    def desired_quotes(self) -> list[tuple[BookSide, int]]:
        quotes: list[tuple[BookSide, int]] = []
        for level in range(self.config.levels):
            offset = self.config.half_spread_ticks + level * self.config.level_spacing_ticks
            quotes.append((BookSide.BID, self.fair_ticks - offset))
            quotes.append((BookSide.ASK, self.fair_ticks + offset))
        return quotes

    def step(self, venue: Venue, result: VenueResult) -> None:
        symbol = self.instrument.symbol
        book = venue.books[symbol]
        self._move_fair_value()
        # Forget quotes that traded away entirely.
        self._quotes = {key: oid for key, oid in self._quotes.items() if book.order(oid) is not None}
        wanted = self.desired_quotes()
        wanted_set = set(wanted)
        for key, order_id in list(self._quotes.items()):
            if key not in wanted_set:
                result.extend(venue.cancel_background(symbol, order_id))
                del self._quotes[key]
        for side, price in wanted:
            if (side, price) in self._quotes:
                continue
            qty = _round_to_lot(
                self.rng.randint(self.config.quote_qty_min, self.config.quote_qty_max),
                self.instrument.lot_size,
            )
            order_id, placed = venue.place_background(symbol, side, price, qty)
            result.extend(placed)
            if book.order(order_id) is not None:
                self._quotes[(side, price)] = order_id


class NoiseTrader:
    def __init__(self, instrument: Instrument, seed: int, config: LiquidityConfig) -> None:
        self.instrument = instrument
        self.config = config
        self.rng = random.Random(f"{seed}:{instrument.symbol}:noise")

    def step(self, venue: Venue, result: VenueResult) -> None:
        if self.rng.random() >= self.config.noise_probability:
            return
        symbol = self.instrument.symbol
        book = venue.books[symbol]
        side = self.rng.choice((BookSide.BID, BookSide.ASK))
        qty = _round_to_lot(
            self.rng.randint(self.config.noise_qty_min, self.config.noise_qty_max), self.instrument.lot_size
        )
        touch = book.best(side.opposite)
        if touch is None:
            return
        reach = self.config.noise_reach_ticks
        limit = touch + reach if side is BookSide.BID else max(1, touch - reach)
        _, traded = venue.place_background(symbol, side, limit, qty, immediate_or_cancel=True)
        result.extend(traded)


class MarketAgents:
    """All background agents of a venue; `step` is one tick of the market timer."""

    def __init__(
        self, instruments: Mapping[str, Instrument], seed: int, config: LiquidityConfig | None = None
    ) -> None:
        self.config = config or LiquidityConfig()
        symbols = sorted(instruments)
        self.makers = [MarketMaker(instruments[s], seed, self.config) for s in symbols]
        self.noise = [NoiseTrader(instruments[s], seed, self.config) for s in symbols]

    def step(self, venue: Venue) -> VenueResult:
        result = VenueResult()
        for maker, noise in zip(self.makers, self.noise, strict=True):
            maker.step(venue, result)
            noise.step(venue, result)
        return result
