"""Virtual device state: a recording converted for the firmware (samples, vboard.json, config.json); precompile."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np

from spasmcore.errors import ConfigError, FatalError, InputError
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, compile_mpy, host_march
from spasmcore.tools import find_tool
from spasmfw import config as fwconfig

DATA_FILE = "samples.bin"
VIRTUAL_PINS = fwconfig.WIRED_PINS  # the ADC1 pins docs/firmware.md wires, one per channel
CLOCKS = ("wall", "sim")  # see vboard.py: wall drops samples on overruns like the ESP32, sim plays them late
# every firmware module but the ESP32's own board.py (vboard stands in) and the two run from source
FIRMWARE_MODULES = tuple(p.stem for p in sorted(FIRMWARE_DIR.glob("*.py"))
                         if p.stem not in ("__init__", "board", "boot", "main"))


def precompile(dest: Path, march: str | None = "host") -> list[str]:
    """Compile the firmware (and vboard) with mpy-cross into dest, as a deployment to the ESP32 would; native
    code for `march` (the interpreter's, spasmcore.firmware.interpreter_march; "host": this PC's unix port).

    Importing .py source makes MicroPython compile it in RAM: the peak alone overflows a 100 kB heap. A
    module that does not compile (no mpy-cross, or @native code on an unsupported CPU) is imported from its
    source instead. Returns the modules compiled.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.mpy"):
        old.unlink()
    if find_tool("mpy-cross") is None:
        return []
    arch = host_march() if march == "host" else march
    done = []
    sources = [FIRMWARE_DIR / f"{m}.py" for m in FIRMWARE_MODULES] + [UNIX_DIR / "vboard.py",
                                                                      UNIX_DIR / "rom_network.py"]
    for src in sources:
        try:
            compile_mpy(src, dest / f"{src.stem}.mpy", arch)
        except FatalError:
            continue  # imported from source instead
        done.append(src.stem)
    return done


def _pins(n: int) -> list[int]:
    if n > len(VIRTUAL_PINS):
        raise ConfigError(f"the firmware supports at most {len(VIRTUAL_PINS)} channels, the recording has {n}")
    return list(VIRTUAL_PINS[:n])


def prepare_state(
    recording_path: str | Path,
    state_dir: Path,
    mode: str | None = None,
    rate_hz: float | None = None,
    channel: int | None = None,
    speed: float = 1.0,
    loop: bool = False,
    units: str | None = None,
    clock: str = "wall",
    overrun_at: tuple[int, int] | None = None,
) -> dict:
    """Convert the recording into STATE/samples.bin (interleaved uint16 counts), write STATE/vboard.json and
    make STATE/config.json match the recording (rate, mode, one pin per channel); returns the vboard settings.

    clock: "wall" (overruns drop samples, as on the ESP32) or "sim" (late samples are played late, never
    dropped). overrun_at=(N, M): once N samples were played, drop M samples as one overrun (for tests).
    """
    if clock not in CLOCKS:
        raise ConfigError(f"clock must be wall or sim, not {clock!r}")
    from spasmcore.frontend import to_counts
    from spasmcore.recording import read_recording
    from spasmfw import app as fwapp

    rec = read_recording(recording_path, rate_hz=rate_hz, units=units)
    mode = mode or rec.mode or "raw"
    if mode not in ("raw", "env"):
        raise ConfigError(f"mode must be raw or env, not {mode!r}")
    chans = list(range(len(rec.channels)))
    if channel is not None:
        if not 0 <= channel < len(chans):
            raise InputError(f"{recording_path}: no channel {channel} (it has {len(chans)})")
        chans = [channel]
    if rec.n_samples == 0:
        raise InputError(f"{recording_path}: no samples")
    counts = [to_counts(rec.channels[c], rec.units, mode, rec.rate_hz) for c in chans]
    data = np.stack(counts, axis=1).astype("<u2")
    state_dir.mkdir(parents=True, exist_ok=True)
    data.tofile(state_dir / DATA_FILE)
    rate = int(round(rec.rate_hz))  # the firmware samples at whole Hz; a fractional rate plays back slightly off

    vpath = state_dir / "vboard.json"
    old = json.loads(vpath.read_text()) if vpath.exists() else {}
    vcfg = {
        "data": DATA_FILE,
        "channels": len(chans),
        "rate_hz": rate,
        "speed": 0.0 if not np.isfinite(speed) else float(speed),
        "loop": bool(loop),
        "clock": clock,
        "overrun_at": list(overrun_at) if overrun_at else None,
        "unique_id": old.get("unique_id") or "virt" + secrets.token_hex(4),
        "recording": str(Path(recording_path).resolve()),
    }
    vpath.write_text(json.dumps(vcfg, indent=1))

    cpath = str(state_dir / fwapp.CONFIG_FILE)
    cfg, _err = fwconfig.load(cpath)
    cfg = dict(cfg)
    cfg.update({"rate_hz": rate, "mode": mode})
    if len(cfg["channels"]) != len(chans):
        cfg["channels"] = _pins(len(chans))
    if mode == "raw" and cfg["mains_hz"] * 2 >= rate:
        cfg["mains_hz"] = 0  # a notch above Nyquist is impossible; such a recording has no mains band
    try:
        fwconfig.validate(cfg)
    except ValueError as exc:
        raise ConfigError(f"recording not playable by the firmware: {exc}") from None
    fwconfig.save(cpath, cfg)
    return vcfg
