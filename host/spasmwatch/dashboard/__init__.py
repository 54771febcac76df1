"""The browser dashboard: history, compare, notes and the live view served on this PC (docs/dashboard.md)."""
