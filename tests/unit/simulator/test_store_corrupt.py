"""A corrupt venue database is refused with a clear error and left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.store import VenueStore


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    garbage = bytes(range(256)) * 20
    path.write_bytes(garbage)

    with pytest.raises(RuntimeError, match="not a usable SQLite database"):
        VenueStore(path)

    assert path.read_bytes() == garbage
