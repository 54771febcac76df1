"""Top level of the simulator: scenario + seed -> ADC-count channels and the ground-truth intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spasmcore.events import TruthInterval

from . import adc
from . import interference as itf
from . import physiology as phys
from .scenarios import Scenario, get_scenario

CHUNK = 1 << 18  # internal samples per chunk: bounds memory for multi-hour recordings
ENV_INTERNAL_HZ = 1000.0  # env mode simulates the analogue chain at >= this rate, then samples the ENV pin
AMP_FACTOR = {"jerk": 1.5, "cramp": 1.2, "clonus": 1.3}  # relative to tonic spasms of the same scenario
# One independent random stream per purpose, so changing one part of the model leaves the others alone.
S_SCHED, S_FAULT, S_FLOOR, S_EMG, S_ART, S_ADC, S_GLITCH, S_MAINS, S_ECG, S_SWING, S_ENV = range(11)


@dataclass
class Simulation:
    scenario: str
    rate_hz: float
    mode: str
    channels: list[np.ndarray]  # one uint16 array of ADC counts per channel
    truth: list[TruthInterval]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


class Patches:
    """Short waveforms (start sample, data) added into whichever chunks they overlap."""

    def __init__(self, items: list[tuple[int, np.ndarray]], scales: np.ndarray | list[float] | None = None) -> None:
        order = sorted(range(len(items)), key=lambda k: items[k][0])
        self.starts = np.array([items[k][0] for k in order], dtype=np.int64)
        self.data = [items[k][1] for k in order]  # may share arrays (heartbeat templates): never written
        self.scales = [1.0 if scales is None else float(scales[k]) for k in order]
        self.longest = max((d.size for d in self.data), default=0)

    def add_into(self, buf: np.ndarray, a: int) -> None:
        b = a + buf.size
        lo, hi = np.searchsorted(self.starts, [a - self.longest, b])
        for j in range(int(lo), int(hi)):
            s, d = int(self.starts[j]), self.data[j]
            i0, i1 = max(s, a), min(s + d.size, b)
            if i1 > i0:
                buf[i0 - a : i1 - a] += self.scales[j] * d[i0 - s : i1 - s]


def _faults(sc: Scenario, rng: np.random.Generator, fs: float, n: int) -> list[tuple[int, int, float]]:
    """Lead-off periods (start, end, output volts), spread over the recording, 5-20 s each."""
    out = []
    for j, kind in enumerate(sc.faults):
        dur = min(rng.uniform(5.0, 20.0), n / fs / 10)
        centre = n / fs * ((j + 1) / (len(sc.faults) + 1) + rng.uniform(-0.05, 0.05))
        level = adc.MID if kind == "flat" else (adc.RAIL_HI if rng.random() < 0.7 else adc.RAIL_LO)
        out.append((int((centre - dur / 2) * fs), int((centre + dur / 2) * fs), level))
    return out


def _spasms(sc: Scenario, rng: np.random.Generator, fs: float, n: int, blocked: list[tuple[int, int, float]]):
    """Place spasms one after another with rest gaps, skipping lead-off periods; -> [(kind, start, env)]."""
    if not sc.kinds:
        return []
    names = [k for k, _ in sc.kinds]
    weights = np.array([w for _, w in sc.kinds]) / sum(w for _, w in sc.kinds)
    durations = {"tonic": sc.tonic_s, "clonus": sc.clonus_s, "jerk": sc.jerk_s, "cramp": sc.cramp_s}
    min_gap, mean_gap = sc.gap_s
    events: list[tuple[str, int, np.ndarray]] = []
    t = rng.uniform(2.0, 2.0 + mean_gap)
    while True:
        kind = names[int(rng.choice(len(names), p=weights))]
        amp = float(np.exp(rng.uniform(*np.log(sc.amp_uv)))) * AMP_FACTOR.get(kind, 1.0)
        env = phys.SPASM_MAKERS[kind](rng, fs, amp, durations[kind])
        i0 = int(t * fs)
        i1 = i0 + env.size
        margin = int(min_gap * fs)
        clash = [f1 for f0, f1, _ in blocked if i0 < f1 + margin and i1 > f0 - margin]
        if clash:
            t = max(clash) / fs + min_gap + rng.exponential(mean_gap)
            continue
        if i1 > n - int(fs):
            return events
        events.append((kind, i0, env))
        t = i1 / fs + min_gap + rng.exponential(mean_gap)


def _artefacts(sc: Scenario, rng: np.random.Generator, fs: float, dur_s: float) -> Patches:
    items = []
    for t in itf.poisson_times(rng, dur_s, sc.motion_per_min):
        items.append((int(t * fs), itf.motion(rng, fs, rng.uniform(*sc.motion_uv))))
    for t in itf.poisson_times(rng, dur_s, sc.pop_per_min):
        items.append((int(t * fs), itf.pop(rng, fs, rng.uniform(*sc.pop_uv))))
    return Patches(items)


def _floor_steps(sc: Scenario, rng: np.random.Generator, dur_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and factors of the rest-level steps: spread over 15-85 % of the recording, the first one up
    by `floor_step_fold`, later ones up or down by as much."""
    if sc.floor_steps <= 0:
        return np.zeros(0), np.zeros(0)
    k = np.arange(sc.floor_steps)
    times = dur_s * (0.15 + 0.7 * (k + rng.uniform(0.2, 0.8, k.size)) / k.size)
    factors = rng.uniform(*sc.floor_step_fold, k.size)
    down = rng.random(k.size) < 0.5
    down[0] = False
    return times, np.where(down, 1.0 / factors, factors)


def _swings(sc: Scenario, rng: np.random.Generator, fs: float, events: list[tuple[str, int, np.ndarray]]
            ) -> Patches:
    """Movement swings of the electrode potential starting just before a share `swing_p` of the spasms."""
    items = []
    for _, i0, env in events:
        if sc.swing_p <= 0 or rng.random() >= sc.swing_p:
            continue
        lead, wave = itf.swing(rng, fs, rng.uniform(*sc.swing_uv))
        items.append((max(0, i0 + phys.truth_bounds(env)[0] - lead), wave))
    return Patches(items)


def _env_offset(sc: Scenario, rng: np.random.Generator, dur_s: float) -> tuple[float, np.ndarray] | None:
    """ENV DC offset (volts that read `env_offset_counts`) and the knots of its slow ±5-10 % wander."""
    if sc.env_offset_counts <= 0:
        return None
    # the rest floor's own envelope (mean |N(0, s)| = 0.8 s) sits on the offset: rest reads env_offset_counts
    floor_env_v = 0.8 * sc.floor_uv * 1e-6 * adc.ENV_GAIN * sc.env_gain_fold
    volts = max(adc.counts_to_volts(sc.env_offset_counts) - floor_env_v, 0.0)
    return volts, itf.slow_curve(rng, dur_s, 5.0, 0.04)


def generate(scenario: str | Scenario, seed: int = 1, minutes: float | None = None, mode: str = "raw",
             rate_hz: float | None = None, channels: int = 1, mains_hz: float = 50.0) -> Simulation:
    """Simulate `channels` independent channels (shared mains phase and heartbeat) of a scenario."""
    sc = scenario if isinstance(scenario, Scenario) else get_scenario(scenario)
    if mode not in ("raw", "env"):
        raise ValueError(f"mode must be raw or env, not {mode!r}")
    rate = float(rate_hz if rate_hz is not None else (1000.0 if mode == "raw" else 100.0))
    dur_s = 60.0 * float(minutes if minutes is not None else sc.minutes)
    fs = rate if mode == "raw" else max(rate, ENV_INTERNAL_HZ)
    n, n_out = int(dur_s * fs), int(dur_s * rate)
    # Shared by all channels: the mains phase and level, and the heart.
    shared = _rng(seed, 1000, S_MAINS)
    mains_phases = shared.uniform(0, 2 * np.pi, len(itf.MAINS_HARMONICS))
    mains_knots = itf.slow_curve(shared, dur_s, 20.0, 0.1)
    heart = _rng(seed, 1000, S_ECG)
    beats = itf.beat_times(heart, dur_s, sc.ecg_bpm) if sc.ecg_uv > 0 else np.zeros(0)
    beat_gain = itf.beat_gains(heart, beats) if beats.size else beats
    if sc.ecg_shape == "gauss":
        templates, beat_shape = [itf.ecg_template(fs, gaussian=True)], np.zeros(beats.size, dtype=np.int64)
    else:
        templates = [itf.ecg_template(fs, w) for w in itf.ECG_WIDTHS]
        beat_shape = heart.integers(0, len(templates), beats.size)
    beat_at = [int(t * fs) - int(itf.ECG_PRE_S * fs) for t in beats]
    pick = np.floor(np.arange(n_out) * (fs / rate)).astype(np.int64)  # ENV pin sampling instants

    out_channels, truth = [], []
    for ch in range(channels):
        faults = _faults(sc, _rng(seed, S_FAULT, ch), fs, n)
        events = _spasms(sc, _rng(seed, S_SCHED, ch), fs, n, faults)
        art_rng = _rng(seed, S_ART, ch)
        artefacts = _artefacts(sc, art_rng, fs, dur_s)
        wander = itf.wander_params(art_rng, sc.wander_uv)
        mains_amp = sc.mains_uv * art_rng.uniform(0.5, 1.5)
        ecg_amp = sc.ecg_uv * art_rng.uniform(*sc.ecg_spread) * (1 if art_rng.random() < 0.8 else -1)
        ecg = Patches([(i, templates[k]) for i, k in zip(beat_at, beat_shape, strict=True)], ecg_amp * beat_gain)
        floor_knots = itf.floor_knots(_rng(seed, S_FLOOR, ch), dur_s, sc.floor_fold)
        step_t, step_f = _floor_steps(sc, _rng(seed, S_FLOOR, ch, 2), dur_s)
        swings = _swings(sc, _rng(seed, S_SWING, ch), fs, events)
        env_offset = _env_offset(sc, _rng(seed, S_ENV, ch), dur_s)
        floor_rng, adc_rng = _rng(seed, S_FLOOR, ch, 1), _rng(seed, S_ADC, ch)
        emg = phys.ShapedNoise(_rng(seed, S_EMG, ch), fs)
        activation = Patches([(i0, env) for _, i0, env in events])
        front = adc.FrontEnd(fs)
        counts = np.zeros(n_out, dtype=np.uint16)
        for a in range(0, n, CHUNK):
            b = min(n, a + CHUNK)
            t = np.arange(a, b) / fs
            act = np.zeros(b - a)
            activation.add_into(act, a)
            uv = emg.next(b - a) * act
            floor = sc.floor_uv * itf.curve_at(floor_knots, t) * itf.step_factor(t, step_t, step_f)
            uv += floor_rng.standard_normal(b - a) * floor
            uv += itf.mains(t, mains_hz, fs, mains_phases) * (mains_amp * itf.curve_at(mains_knots, t))
            uv += itf.wander(t, wander)
            artefacts.add_into(uv, a)
            ecg.add_into(uv, a)
            swings.add_into(uv, a)
            volts = front.raw(uv)
            if mode == "env":
                offset = 0.0 if env_offset is None else env_offset[0] * itf.curve_at(env_offset[1], t)
                volts = front.env(volts, sc.env_gain_fold, offset)
            for f0, f1, level in faults:  # lead-off: the output sits flat or at a rail
                i0, i1 = max(f0, a) - a, max(min(f1, b) - a, 0)
                if mode == "env":  # RAW off mid-rail reads as a full envelope; RAW at mid-rail as none
                    off_v = np.broadcast_to(np.asarray(offset, dtype=float), volts.shape)[i0:i1]
                    volts[i0:i1] = np.clip(abs(level - adc.MID) * (adc.ENV_GAIN / adc.RAW_GAIN * sc.env_gain_fold)
                                           + off_v, adc.RAIL_LO, adc.RAIL_HI)
                else:
                    volts[i0:i1] = level
            k0, k1 = np.searchsorted(pick, [a, b])
            counts[k0:k1] = adc.to_counts(volts[pick[k0:k1] - a], adc_rng, sc.adc_noise)
        adc.add_glitches(counts, _rng(seed, S_GLITCH, ch), rate)
        out_channels.append(counts)
        for kind, i0, env in events:
            lo, hi = phys.truth_bounds(env)
            truth.append(TruthInterval(ch, round((i0 + lo) / fs, 4), round((i0 + hi + 1) / fs, 4), kind))
        truth += [TruthInterval(ch, round(f0 / fs, 4), round(f1 / fs, 4), "fault") for f0, f1, _ in faults]
    truth.sort(key=lambda ti: (ti.onset_s, ti.channel))
    return Simulation(sc.name, rate, mode, out_channels, truth)
