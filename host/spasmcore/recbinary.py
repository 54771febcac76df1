"""Reading binary recordings: PCM WAV and MATLAB .mat (emgGO layout or a single numeric array)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from .errors import InputError
from .recformat import _Parsed


def _read_wav(path: Path) -> _Parsed:
    try:
        with wave.open(str(path), "rb") as w:
            n_ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            frames = w.readframes(n)
    except (wave.Error, EOFError) as exc:
        raise InputError(f"{path}: not a PCM WAV file we can read ({exc})") from None
    n = len(frames) // (width * n_ch)
    frames = frames[: n * width * n_ch]
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        data = np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0
    elif width == 2:
        data = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    elif width == 3:
        b = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64)
    elif width == 4:
        data = np.frombuffer(frames, dtype="<i4").astype(np.float64)
    else:
        raise InputError(f"{path}: unsupported WAV sample width {8 * width} bits")
    if n == 0:
        raise InputError(f"{path}: WAV file without samples")
    return _Parsed(
        data=data.reshape(n, n_ch),
        names=[f"ch{i}" for i in range(n_ch)],
        rate_hz=float(rate),
        rate_origin="WAV header",
        units="au",  # PCM amplitude says nothing about volts or ADC counts
        mode=None,
        resolution=[None] * n_ch,
    )


def _read_mat(path: Path) -> _Parsed:
    from scipy.io import loadmat  # scipy is slow to import; only .mat files need it

    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic != b"MATLAB":  # (a version 4 file's header is 5 bare integers: any bytes pass for one, and its
        # claimed matrix size is allocated before the data is read)
        raise InputError(f"{path}: not a MATLAB 5 .mat file (no 'MATLAB' text header; save it with -v7 or -v6)")
    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as exc:  # noqa: BLE001 - scipy raises MatReadError, ValueError, IndexError, struct and zlib errors
        why = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read MATLAB file ({why})") from None
    if "EMG" in mat and hasattr(mat["EMG"], "channelData"):  # emgGO layout
        emg = mat["EMG"]
        data = np.asarray(emg.channelData, dtype=np.float64)
        rate = float(emg.fs) if hasattr(emg, "fs") else None
    else:
        arrays = {k: v for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)}
        numeric = {k: v for k, v in arrays.items() if v.dtype.kind in "iuf" and v.size > 1}
        if len(numeric) != 1:
            raise InputError(
                f"{path}: MATLAB file without an EMG struct (channelData, fs) or a single numeric array "
                f"(found {', '.join(sorted(numeric)) or 'none'})"
            )
        data = np.asarray(next(iter(numeric.values())), dtype=np.float64)
        fs = next((mat[k] for k in ("fs", "Fs", "rate", "srate") if k in mat), None)
        rate = float(fs) if fs is not None else None
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.size == 0:
        raise InputError(f"{path}: MATLAB signal has shape {data.shape}, expected samples x channels")
    if data.shape[0] < data.shape[1]:  # channels x samples: transpose
        data = data.T
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: NaN or infinite values in the MATLAB signal")
    return _Parsed(
        data=data,
        names=[f"ch{i}" for i in range(data.shape[1])],
        rate_hz=rate,
        rate_origin="MATLAB fs",
        units="mV",  # emgGO samples are in mV (probably; the upstream does not say)
        mode=None,
        resolution=[None] * data.shape[1],
    )
