"""spasmwatch host tool: replay, simulate, evaluate, monitor and store spasm events."""

__version__ = "0.1.0"
