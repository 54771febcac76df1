"""Detector parameters on the host: `--param NAME=VALUE` as the detector takes them, and BASE_PARAMS."""

from __future__ import annotations

from spasmcore.errors import ConfigError

# Overrides that switch off the mechanisms real recordings called for (heartbeat gate, floor re-learning, flat
# faults only above flat_min, pops against a tracking baseline) and calibrate for 2 s: kept to show what each buys
# (tests and bench; the board never uses it, so it is not in the firmware).
BASE_PARAMS = {"calib_ms": 2000, "ecg": 0, "relearn_s": 0, "env_track": 0, "flat_min": 0, "pop_track": 0}


def parse_params(items: list[str]) -> dict[str, int | float]:
    """NAME=VALUE strings to a dict; integer-looking values stay ints (the detector works in integers).

    A parameter with named values (`ecg=off|auto|on`) takes its name, mapped to the detector's number."""
    from spasmfw.detector import ECG_MODES

    params: dict[str, int | float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        if name == "ecg" and text in ECG_MODES:
            params[name] = ECG_MODES[text]
            continue
        try:
            params[name] = int(text)
        except ValueError:
            try:
                params[name] = float(text)
            except ValueError:
                raise ConfigError(f"--param {name}: {text!r} is not a number") from None
    return params


def adc_max(params: dict | None) -> int:
    """The full scale of input counts: the detector's `adc_max`, or the 12-bit default."""
    from spasmcore.frontend import ADC_MAX

    return int((params or {}).get("adc_max", ADC_MAX))
