"""Owner-only state on disk: directories 0700, files 0600.

Takes paths; gives them back created or tightened. The gateway's state directory (effective
session settings, QuickFIX's message store, logs, ledger, spans, decision files) and the
simulator's (venue database, message store, message log, control token) hold order flow,
positions and session state that no other local user should read, so everything fixgw creates
there is owner-only:

    private_dir(state_dir)          # mkdir -p with 0700, and 0700 for one that already exists
    restrict_tree(state_dir)        # state left by an older version: no group/other bits
    private_sqlite(ledger_path)     # a database and its -wal/-shm/-journal: 0600
    with owner_only():              # files created inside get 0600, directories 0700
        ... open logs, the ledger, start QuickFIX ...

`owner_only` sets the process umask, which is process-wide: files another thread creates while
the block runs are owner-only as well, which is never less safe. The 0700 directory is what
keeps other users out even of a file created with a looser mode later (QuickFIX's FileStore
re-creates its files on a sequence reset, long after start-up).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


class FilesError(OSError):
    """A path that cannot be made owner-only (owned by someone else, or not a directory)."""


def private_dir(path: Path | str) -> Path:
    """Create `path` (and missing parents) with mode 0700; an existing `path` is set to 0700.

    Parents that already exist are left alone: only the directory fixgw owns is tightened."""
    directory = Path(path)
    with owner_only():
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if not directory.is_dir():
        raise FilesError(f"{directory} is not a directory")
    _chmod(directory, DIR_MODE)
    return directory


def private_file(path: Path | str) -> Path:
    """Set an existing file to 0600 (nothing happens when it does not exist)."""
    file = Path(path)
    if file.is_file() and not file.is_symlink():
        _chmod(file, FILE_MODE)
    return file


def private_sqlite(path: Path | str) -> Path:
    """An existing SQLite database and its -wal, -shm and -journal files set to 0600 (SQLite
    creates the -wal and -shm files with the database file's mode)."""
    database = Path(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(database.with_name(database.name + suffix))
    return database


def restrict_tree(root: Path | str) -> list[Path]:
    """Take every permission of group and others away under `root` (itself included): state
    written by a version of fixgw that left it world-readable. Only those bits are removed (the
    owner's stay as they were, so nothing becomes unusable to its owner), symlinks are neither
    followed nor changed. Returns the paths whose mode changed."""
    changed: list[Path] = []
    base = Path(root)
    if not base.is_dir() or base.is_symlink():
        return changed
    for directory, dirnames, filenames in os.walk(base, followlinks=False):
        here = Path(directory)
        for path in [here, *(here / name for name in filenames)]:
            if not path.is_symlink() and _tighten(path):
                changed.append(path)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
    return changed


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Files and directories created inside the block are owner-only (umask 077)."""
    previous = os.umask(OWNER_ONLY_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def set_owner_only_umask() -> int:
    """For a process that writes only private state (`fixgw sim`): umask 077 from now on.
    Returns the previous umask."""
    return os.umask(OWNER_ONLY_UMASK)


def _tighten(path: Path) -> bool:
    current = stat.S_IMODE(path.lstat().st_mode)
    if not current & OWNER_ONLY_UMASK:
        return False
    _chmod(path, current & ~OWNER_ONLY_UMASK)
    return True


def _chmod(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except PermissionError as exc:
        raise FilesError(f"{path}: cannot make it owner-only ({exc.strerror}); is it yours?") from exc
