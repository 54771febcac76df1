"""The terminal user interface: the live monitor's state and screen, and what commands say on stderr."""
