"""FIX UTCTimestamp(60, 52, ...) text <-> integer nanoseconds UTC, for both sides.

`utc_timestamp(ns)` writes milliseconds, "YYYYMMDD-HH:MM:SS.sss" (what FIX 4.4 peers expect by
default); `utc_timestamp_ns(text)` reads any precision the standard allows.
"""

from __future__ import annotations

import calendar
import time

# (epoch second, its text): strftime runs once a second, not once per message on the order path
_last_second: list[tuple[int, str]] = [(-1, "")]


def utc_timestamp(ns: int) -> str:
    """UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss."""
    seconds, rest = divmod(ns, 1_000_000_000)
    cached_second, text = _last_second[0]
    if cached_second != seconds:
        text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds))
        _last_second[0] = (seconds, text)
    return f"{text}.{rest // 1_000_000:03d}"


def utc_timestamp_ns(text: str) -> int:
    """UTCTimestamp "YYYYMMDD-HH:MM:SS[.fff...]" -> integer ns UTC. Raises ValueError."""
    if len(text) < 17 or text[8] != "-":
        raise ValueError(f"not a UTCTimestamp: {text!r}")
    seconds = calendar.timegm(
        (int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]), int(text[12:14]), int(text[15:17]))
    )
    fraction = text[18:] if len(text) > 18 and text[17] == "." else ""
    return seconds * 1_000_000_000 + (int(fraction.ljust(9, "0")[:9]) if fraction else 0)
