"""Detector parameters: defaults per mode, ranges and units, validation, and the filter corners a rate allows."""


def _p(raw, env, lo, hi, unit):
    # A literal tuple of constants would be stored whole, with a str object of its own for each unit (~1.3 KB of
    # heap); a tuple built here holds the one interned unit string.
    return (raw, env, lo, hi, unit)


# name: (default in raw mode, default in env mode, lowest, highest, unit); meanings in docs/detector.md
PARAMS = {
    "hp_hz": _p(40, 0, 0, 100, "Hz"),  # high-pass corner (4th-order Butterworth): removes drift, motion and most ECG
    "lp_hz": _p(450, 0, 0, 1000, "Hz"),  # low-pass corner (2nd order), off where within 0.4 x rate; 0 = off
    "mains_hz": _p(50, 0, 0, 60, "Hz"),  # mains notch frequency: 0 (off), 50 or 60
    "tkeo": _p(0, 0, 0, 1, ""),  # 1 = Teager-Kaiser energy instead of rectification
    "smooth_ms": _p(25, 20, 0, 500, "ms"),  # envelope smoothing time constant
    "sensitivity": _p(0.1, 0.1, 0.01, 1000, "false/h"),  # false onsets per hour of rest the onset threshold allows
    "off_sd": _p(2, 2, 0.5, 20, "x rest SD"),  # an episode ends below the floor + this many rest SDs
    "min_on_ms": _p(30, 40, 0, 2000, "ms"),  # time above the onset threshold before an onset is declared
    "min_dur_ms": _p(100, 100, 0, 5000, "ms"),  # minimum episode duration; shorter bursts are ignored
    "min_off_ms": _p(500, 500, 0, 10000, "ms"),  # quiet time below the offset threshold that ends an episode
    "twitch_ms": _p(500, 500, 50, 5000, "ms"),  # episodes shorter than this are twitches
    "max_episode_s": _p(600, 600, 10, 3600, "s"),  # longest episode before the floor is re-learnt
    "calib_ms": _p(1000, 1000, 200, 60000, "ms"),  # rest period at start that seeds the noise floor
    "floor_up_s": _p(10, 10, 1, 3600, "s"),  # time constant of a rising noise floor (drift)
    "floor_down_s": _p(10, 10, 0.1, 600, "s"),  # time constant of a falling noise floor
    "min_floor": _p(0.5, 0.5, 0.05, 100, "counts"),  # lowest noise floor, so a silent input cannot trigger
    "env_offset": _p(0, 0, 0, 4095, "counts"),  # offset subtracted from an envelope input (env mode)
    "flat_ms": _p(1000, 3000, 0, 60000, "ms"),  # window of a flat line (lead-off) before a fault; 0 = off
    "flat_step": _p(4, 0, 0, 100, "counts"),  # sample-to-sample change a flat line may still show (ADC noise)
    "rail_ms": _p(200, 500, 0, 60000, "ms"),  # time pinned at a rail before a saturation fault; 0 = off
    "rail_margin": _p(8, 8, 0, 500, "counts"),  # distance from 0 or adc_max that counts as the rail
    "adc_max": _p(4095, 4095, 255, 65535, "counts"),  # full-scale ADC count
    "blank_ms": _p(1000, 500, 0, 10000, "ms"),  # hold-off after a fault ends while the filters settle
    "spike_ms": _p(30, 0, 0, 200, "ms"),  # bursts whose area is at most this long times their peak are pops
    "ecg": _p(1, 1, 0, 2, ""),  # heartbeat gate: 0 off, 1 auto (once a regular beat rhythm is found), 2 on
    "beat_ms": _p(200, 300, 50, 500, "ms"),  # widest heartbeat bump in the envelope; longer activity is EMG
    "relearn_s": _p(15, 15, 0, 600, "s"),  # a low-contrast episode this long re-learns the floor; 0 = off
    "env_track": _p(0, 0, 0, 1, ""),  # env mode: track the envelope's resting level (no env_offset needed)
    "flat_min": _p(1, 1, 0, 100, "counts"),  # a flat line is a fault only if the rest floor was above this
    "pop_track": _p(1, 1, 0, 1, ""),  # 1: pops are one-sided against a tracking baseline; 0: the first sample
}
del _p

ECG_MODES = {"off": 0, "auto": 1, "on": 2}


def validate(params, mode, rate_hz):
    """Return the full parameter dict for mode and rate, or raise ValueError naming the bad value."""
    if mode not in ("raw", "env"):
        raise ValueError("mode must be 'raw' or 'env', not %r" % (mode,))
    if not 25 <= rate_hz <= 2000:
        raise ValueError("rate_hz=%s out of range 25..2000 Hz" % (rate_hz,))
    col = 0 if mode == "raw" else 1
    out = {}  # type: dict
    for name in PARAMS:
        out[name] = PARAMS[name][col]
    for name in params or {}:
        if name not in PARAMS:
            raise ValueError("unknown parameter %r (known: %s)" % (name, ", ".join(sorted(PARAMS))))
        spec = PARAMS[name]
        value = params[name]
        if name == "ecg" and value in ECG_MODES:
            value = ECG_MODES[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError("%s=%r is not a number" % (name, value))
        if not spec[2] <= value <= spec[3]:
            raise ValueError("%s=%s out of range %s..%s %s" % (name, value, spec[2], spec[3], spec[4]))
        out[name] = value
    if out["mains_hz"] not in (0, 50, 60):
        raise ValueError("mains_hz=%s must be 0, 50 or 60" % (out["mains_hz"],))
    return out


def filters(p, mode, rate_hz):
    """(hp, lp, mains) corners the chain really uses at this rate, and a note for each one changed."""
    notes = []
    raw = mode == "raw"
    nyq = rate_hz / 2
    hp = p["hp_hz"] if raw else 0
    if hp and hp >= 0.4 * nyq:  # clamp, never drop: the high-pass is what removes drift, motion and ECG
        hp = int(0.35 * nyq)
        notes.append("hp_hz=%s clamped to %s Hz (must be below 0.4 x Nyquist at %s Hz)" % (p["hp_hz"], hp, rate_hz))
    lp = p["lp_hz"] if raw else 0
    if lp and lp >= 0.4 * rate_hz:  # (the default 450 Hz applies from 1125 Hz up, below it says nothing)
        if lp != PARAMS["lp_hz"][0]:
            notes.append("lp_hz=%s is off: at %s Hz it would be within 0.4 x rate of Nyquist" % (lp, rate_hz))
        lp = 0
    mains = p["mains_hz"] if raw else 0
    if mains and mains >= 0.45 * rate_hz:
        notes.append("mains_hz=%s notch is off: it lies at or above Nyquist at %s Hz" % (mains, rate_hz))
        mains = 0
    return hp, lp, mains, notes

