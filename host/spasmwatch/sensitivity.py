"""The detector's one user-facing setting, `sensitivity`, read from a board's config and said in the user's terms."""

from __future__ import annotations

import ast

from spasmfw import detparams

NAME = "sensitivity"
MAX_INFO = 64 * 1024  # a stored config longer than this is not parsed (it never is: the board's is ~1 kB)


def default(mode: str = "raw") -> float:
    """The firmware's default for this mode."""
    return float(detparams.PARAMS[NAME][0 if mode == "raw" else 1])


def words(value: float) -> str:
    """'0.1 false alarms per hour of rest' (what the onset threshold is set to allow)."""
    return f"{value:g} false alarm{'' if value == 1 else 's'} per hour of rest"


def from_params(params: dict | None, mode: str = "raw") -> tuple[float, bool]:
    """(sensitivity, set by the user) from detector parameters as given to replay or stored on a board."""
    value = (params or {}).get(NAME)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), True
    return default(mode), False


def from_info(info: object) -> tuple[float, bool] | None:
    """The sensitivity of a device from the config its hello carried (stored as text), or None if unknown."""
    if not isinstance(info, str) or not info or len(info) > MAX_INFO:
        return None
    try:
        cfg = ast.literal_eval(info)  # (stored as str(dict) of the parsed JSON: literals only)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(cfg, dict):
        return None
    params = cfg.get("params")
    mode = cfg.get("mode") if cfg.get("mode") in ("raw", "env") else "raw"
    return from_params(params if isinstance(params, dict) else None, str(mode))


def describe(params: dict | None, mode: str = "raw") -> str:
    """'sensitivity 0.1 false alarms/h of rest (default)': the setting a replay ran with, for its summary line."""
    value, given = from_params(params, mode)
    return f"sensitivity {value:g} false alarms/h of rest{'' if given else ' (default)'}"
