"""The dashboard's read-only access to the event database: the store's `ReadOnlyStore` (spasmwatch.store)."""

from __future__ import annotations

from spasmwatch.store import ReadOnlyStore

__all__ = ["ReadOnlyStore"]
