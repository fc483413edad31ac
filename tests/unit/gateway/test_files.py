"""gateway/files.py: owner-only directories and files, and tightening what an older version left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fixcore.files import owner_only, private_dir, private_file, private_sqlite, restrict_tree


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_private_dir_creates_missing_directories_owner_only(tmp_path: Path) -> None:
    created = private_dir(tmp_path / "a" / "b")

    assert mode(created) == 0o700
    assert mode(tmp_path / "a") == 0o700, "parents it had to create are owner-only too"


def test_private_dir_tightens_the_directory_but_not_an_existing_parent(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir(mode=0o755)
    parent.chmod(0o755)
    (parent / "state").mkdir()
    (parent / "state").chmod(0o755)

    private_dir(parent / "state")

    assert mode(parent / "state") == 0o700
    assert mode(parent) == 0o755


def test_files_created_inside_owner_only_are_0600_and_the_umask_comes_back(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        with owner_only():
            (tmp_path / "inside.log").write_text("x")
            (tmp_path / "inside-dir").mkdir()
        (tmp_path / "outside.log").write_text("x")
        after = os.umask(0o022)
    finally:
        os.umask(before)

    assert mode(tmp_path / "inside.log") == 0o600
    assert mode(tmp_path / "inside-dir") == 0o700
    assert mode(tmp_path / "outside.log") == 0o644
    assert after == 0o022


def test_restrict_tree_tightens_what_an_older_version_left_and_reports_it(tmp_path: Path) -> None:
    root = tmp_path / "state"
    (root / "store").mkdir(parents=True)
    (root / "store" / "x.body").write_text("x")
    (root / "ledger.sqlite").write_text("x")
    (root / "store" / "x.body").chmod(0o644)
    (root / "ledger.sqlite").chmod(0o600)
    (root / "store").chmod(0o755)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    (root / "link").symlink_to(outside)

    changed = restrict_tree(root)

    assert {p.relative_to(tmp_path) for p in changed} >= {Path("state/store"), Path("state/store/x.body")}
    assert Path("state/ledger.sqlite") not in {p.relative_to(tmp_path) for p in changed}
    assert mode(root / "store" / "x.body") == 0o600 and mode(root / "store") == 0o700
    assert mode(outside) == 0o644, "a symlink is not followed"


def test_restrict_tree_only_takes_group_and_other_bits_away(tmp_path: Path) -> None:
    script = tmp_path / "tool.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    read_only = tmp_path / "frozen.txt"
    read_only.write_text("x")
    read_only.chmod(0o444)

    restrict_tree(tmp_path)

    assert mode(script) == 0o700, "the owner can still run it"
    assert mode(read_only) == 0o400, "the owner gains nothing either"


def test_private_sqlite_covers_the_write_ahead_log_files(tmp_path: Path) -> None:
    database = tmp_path / "ledger.sqlite"
    for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"):
        (tmp_path / name).write_text("x")
        (tmp_path / name).chmod(0o644)

    private_sqlite(database)
    private_file(tmp_path / "absent")  # nothing to do, no error

    assert {mode(p) for p in tmp_path.iterdir()} == {0o600}
