"""Reports and exports of stored episodes: the one-day HTML report, its charts and data, ranges, JSON lines."""
