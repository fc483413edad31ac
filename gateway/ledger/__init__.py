"""SQLite ledger: orders written ahead, every ExecutionReport, fills, positions, quarantine."""

from gateway.ledger.store import Ledger, open_ledger

__all__ = ["Ledger", "open_ledger"]
