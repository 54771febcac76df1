"""Error hierarchy: a FatalError is shown to the user as one line, without a traceback."""


class FatalError(Exception):
    """An error the user can act on; the CLI prints it and exits non-zero."""


class InputError(FatalError):
    """A recording, events or truth file that cannot be read."""


class ConfigError(FatalError):
    """A setting that is missing or out of range."""


class LinkError(FatalError):
    """A serial-port or device problem (busy, permission, not running the firmware)."""
