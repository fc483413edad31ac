"""The QuickFIX edge: the only gateway package that imports quickfix."""
