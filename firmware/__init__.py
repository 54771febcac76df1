"""spasmwatch firmware modules; on the host the shared ones are imported as `spasmfw.*` (never deployed)."""
