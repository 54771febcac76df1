"""Tests of the synthetic-EMG simulator (spasmsim) and the `spasmwatch simulate` command."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from spasmcore.events import TRUTH_KINDS, read_truth
from spasmcore.recording import read_recording
from spasmsim import adc, physiology
from spasmsim import generate as gen
from spasmsim.scenarios import SCENARIOS
from spasmwatch.cli import main

SPASM_KINDS = {"tonic", "clonus", "jerk", "cramp"}


def _hp(counts: np.ndarray, rate: float) -> np.ndarray:
    sos = signal.butter(4, 20.0, "highpass", fs=rate, output="sos")
    return signal.sosfiltfilt(sos, counts.astype(float))


def _masks(sim: gen.Simulation, ch: int = 0, margin_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Samples inside spasm truth, and samples well away from any truth interval."""
    n, r = len(sim.channels[ch]), sim.rate_hz
    inside, near = np.zeros(n, bool), np.zeros(n, bool)
    for t in sim.truth:
        if t.channel != ch:
            continue
        if t.kind != "fault":
            inside[int(t.onset_s * r) : int(t.offset_s * r)] = True
        near[max(0, int((t.onset_s - margin_s) * r)) : int((t.offset_s + margin_s) * r)] = True
    return inside, ~near


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def _floor_counts(floor_uv: float) -> float:
    """Expected rest RMS on RAW: electrode floor through the gains, ADC noise and quantisation."""
    emg = floor_uv * 1e-6 * adc.RAW_GAIN * adc.COUNTS_PER_V
    return float(np.sqrt(emg**2 + adc.ADC_NOISE_COUNTS**2 + 1 / 12))


@pytest.mark.parametrize(
    ("name", "minutes", "min_ratio"),
    [("tonic_moderate", 5, 6.0), ("tonic_low_snr", 5, 2.5), ("clonus_mixed", 5, 4.0), ("cramps_jerks", 8, 6.0)],
)
def test_truth_covers_the_injected_energy(name: str, minutes: float, min_ratio: float) -> None:
    sim = gen.generate(name, seed=3, minutes=minutes)
    x = _hp(sim.channels[0], sim.rate_hz)
    inside, outside = _masks(sim)
    assert inside.any() and outside.mean() > 0.3
    rest = _rms(x[outside])
    assert _rms(x[inside]) > min_ratio * rest
    # Outside the truth the signal is the floor everywhere: no 1-s window holds hidden activity...
    r = int(sim.rate_hz)
    windows = [_rms(x[i : i + r]) for i in range(0, x.size - r, r) if outside[i : i + r].all()]
    assert max(windows) < 1.6 * float(np.median(windows))
    # ...and that floor is the modelled one (5 µV through the front end plus ADC noise).
    sc = next(s for s in SCENARIOS if s.name == name)
    assert 0.7 < rest / _floor_counts(sc.floor_uv) < 1.5


def test_every_spasm_interval_holds_energy() -> None:
    sim = gen.generate("everyday_mixed", seed=2, minutes=10)
    x = _hp(sim.channels[0], sim.rate_hz)
    rest = _rms(x[_masks(sim)[1]])
    spasms = [t for t in sim.truth if t.kind in SPASM_KINDS]
    assert len(spasms) >= 5
    for t in spasms:
        seg = x[int(t.onset_s * sim.rate_hz) : int(t.offset_s * sim.rate_hz)]
        assert _rms(seg) > 1.5 * rest, t


def test_env_mode_rises_inside_truth() -> None:
    sim = gen.generate("tonic_moderate", seed=1, minutes=4, mode="env", rate_hz=50)
    c = sim.channels[0].astype(float)
    inside, outside = _masks(sim)
    assert len(c) == 4 * 60 * 50
    assert np.median(c[outside]) < 20  # ENV has no offset: rest sits in the ADC's dead zone
    assert np.mean(c[inside]) > 200


def test_spasms_are_separated_by_rest_gaps() -> None:
    sim = gen.generate("clonus_mixed", seed=5, minutes=10, channels=2)
    for ch in (0, 1):
        spans = sorted((t.onset_s, t.offset_s) for t in sim.truth if t.channel == ch)
        assert len(spans) >= 5
        gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
        assert min(gaps) >= 5.0


def test_envelopes_have_the_specified_shapes() -> None:
    rng, fs = np.random.default_rng(0), 1000.0
    for _ in range(20):
        env = physiology.clonus(rng, fs, 100.0, (2.0, 12.0))
        lo, hi = physiology.truth_bounds(env)
        above = env > 0.1 * env.max()
        bursts = int(np.count_nonzero(above[1:] & ~above[:-1])) + int(above[0])
        rate = (bursts - 1) / ((hi - lo) / fs)
        assert bursts >= 3 and 2.5 <= rate <= 9.0
        j = physiology.jerk(rng, fs, 100.0, (0.1, 0.4))
        lo, hi = physiology.truth_bounds(j)
        assert 0.05 <= (hi - lo) / fs <= 0.4
        c = physiology.cramp(rng, fs, 100.0, (60.0, 300.0))
        assert 55 <= c.size / fs <= 305
        third = c.size // 3
        assert c[third : 2 * third].mean() > c[2 * third :].mean() * 1.05  # fatigue: amplitude declines


def test_emg_noise_has_an_emg_spectrum() -> None:
    x = physiology.ShapedNoise(np.random.default_rng(1), 1000.0).next(200_000)
    f, p = signal.welch(x, fs=1000.0, nperseg=1024)
    assert 0.9 < _rms(x) < 1.1
    assert 40 <= f[np.argmax(p)] <= 120
    assert p[(f >= 30) & (f <= 200)].sum() > 0.7 * p.sum()


def test_chunking_does_not_change_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    a = gen.generate("ecg_leadoff", seed=4, minutes=2, channels=2)
    monkeypatch.setattr(gen, "CHUNK", 9973)
    b = gen.generate("ecg_leadoff", seed=4, minutes=2, channels=2)
    assert all(np.array_equal(x, y) for x, y in zip(a.channels, b.channels, strict=True))
    assert a.truth == b.truth


@pytest.mark.parametrize("mode", ["raw", "env"])
def test_fault_intervals_are_flat_or_railed(mode: str) -> None:
    sim = gen.generate("ecg_leadoff", seed=1, minutes=6, mode=mode)
    c, r = sim.channels[0].astype(float), sim.rate_hz
    faults = [t for t in sim.truth if t.kind == "fault"]
    assert len(faults) == 2
    kinds = set()
    for t in faults:
        seg = c[int(t.onset_s * r) + int(0.5 * r) : int(t.offset_s * r)]  # ENV settles within ~0.3 s
        railed = np.mean((seg <= 0) | (seg >= 4095))
        if railed > 0.99:
            kinds.add("rail")
        else:
            assert np.median(np.abs(seg - np.median(seg))) <= 1  # only ADC noise left
            assert np.std(seg) < 3  # (the odd single-sample glitch aside)
            kinds.add("flat")
    assert kinds == {"rail", "flat"} if mode == "raw" else kinds <= {"rail", "flat"}


def test_scenarios_are_named_described_and_valid() -> None:
    assert len(SCENARIOS) >= 8 and len({s.name for s in SCENARIOS}) == len(SCENARIOS)
    for sc in SCENARIOS:
        sim = gen.generate(sc, seed=1, minutes=1.5, rate_hz=500)
        counts = sim.channels[0]
        assert counts.dtype == np.uint16 and counts.size == 45_000 and counts.max() <= 4095
        assert {t.kind for t in sim.truth} <= set(TRUTH_KINDS)
        assert all(0 <= t.onset_s < t.offset_s <= 90 for t in sim.truth)
    rest = gen.generate("rest_artifacts", seed=1)
    assert rest.truth == [] and int(rest.channels[0].max()) - int(rest.channels[0].min()) > 500


def _simulate(tmp_path, name: str, *args: str) -> tuple[bytes, bytes]:
    out = tmp_path / f"{name}.csv"
    assert main(["simulate", str(out), *args]) == 0
    return out.read_bytes(), (tmp_path / f"{name}.truth.csv").read_bytes()


def test_seed_reproduces_bytes_and_other_seeds_differ(tmp_path) -> None:
    args = ["--scenario", "clonus_mixed", "--minutes", "1.5", "--channels", "2"]
    a = _simulate(tmp_path, "a", *args, "--seed", "9")
    b = _simulate(tmp_path, "b", *args, "--seed", "9")
    c = _simulate(tmp_path, "c", *args, "--seed", "10")
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


@pytest.mark.parametrize(("mode", "rate"), [("raw", 500), ("raw", 1000), ("raw", 2000), ("env", 50)])
def test_cli_honours_mode_rate_and_channels(tmp_path, mode: str, rate: int) -> None:
    out = tmp_path / "rec.csv"
    args = ["--scenario", "everyday_mixed", "--minutes", "1", "--mode", mode, "--rate", str(rate)]
    assert main(["simulate", str(out), *args, "--channels", "2", "--mains", "60"]) == 0
    rec = read_recording(out)
    assert rec.rate_hz == rate and rec.mode == mode and rec.units == "counts"
    assert len(rec.channels) == 2 and rec.n_samples == 60 * rate
    for ch in rec.channels:
        assert np.issubdtype(ch.dtype, np.integer) and ch.min() >= 0 and ch.max() <= 4095
    truth = read_truth(tmp_path / "rec.truth.csv")
    assert {t.channel for t in truth} <= {0, 1}


def test_cli_defaults_come_from_the_scenario(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    real = gen.generate

    def fake(name, **kw):
        seen.update(kw, name=name)
        return real(name, **{**kw, "minutes": 0.2})

    monkeypatch.setattr(gen, "generate", fake)
    assert main(["simulate", str(tmp_path / "n.csv"), "--scenario", "night", "--mode", "env"]) == 0
    assert seen == dict(name="night", seed=1, minutes=None, mode="env", rate_hz=100.0, channels=1, mains_hz=50.0)


def test_list_shows_every_scenario_with_a_description(capsys) -> None:
    assert main(["simulate", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 8
    for sc, line in zip(SCENARIOS, lines, strict=True):
        assert line.split()[0] == sc.name and sc.description in line and len(sc.description) > 20


@pytest.mark.parametrize(
    "argv",
    [
        ["x.csv", "--scenario", "no_such"],
        ["x.csv"],
        ["x.csv", "--scenario", "night", "--mode", "env", "--rate", "4000"],
        ["x.csv", "--scenario", "night", "--minutes", "0"],
        ["x.csv", "--scenario", "night", "--channels", "0"],
    ],
)
def test_bad_options_give_one_line_and_exit_2(tmp_path, monkeypatch, capsys, argv) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spasmwatch simulate: error:") and err.count("\n") == 1
    assert not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------------------------------------ calibration (issue 8)

ECG_FILE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emgGO" / "ecg_contaminated.mat"
UV_PER_COUNT = 1e6 / (adc.COUNTS_PER_V * adc.RAW_GAIN)  # ~3.8 µV electrode-referred per RAW count


def _beats(v: np.ndarray, fs: float) -> np.ndarray:
    """R-peak samples: 8-40 Hz energy peaks at least 0.4 s apart, refined to the largest excursion."""
    band = np.abs(signal.sosfiltfilt(signal.butter(2, [8, 40], "bandpass", fs=fs, output="sos"), v))
    k = int(0.03 * fs)
    smooth = np.convolve(band, np.ones(k) / k, "same")
    peaks, _ = signal.find_peaks(smooth, distance=int(0.4 * fs), height=0.5 * np.percentile(smooth, 97))
    w = int(0.05 * fs)
    out = []
    for p in peaks:
        seg = v[max(0, p - w) : p + w]
        out.append(max(0, p - w) + int(np.argmax(np.abs(seg - np.median(seg)))))
    return np.array(out)


def beat_figures(v: np.ndarray, fs: float) -> dict[str, float]:
    """Median beat: QRS width (|beat| > 15 % of its peak), peak (µV if v is), spectral centroid and the power
    ratio 5-40 Hz / 40-200 Hz of the median beat's ±100 ms; beats per minute."""
    v = v - np.median(v)
    pk = _beats(v, fs)
    w = int(0.1 * fs)
    segs = np.array([v[p - w : p + w] for p in pk if w <= p <= v.size - w])
    tpl = np.median(segs, axis=0)
    above = np.flatnonzero(np.abs(tpl) > 0.15 * np.abs(tpl).max())
    spec = np.abs(np.fft.rfft(tpl * np.hanning(tpl.size), 4096)) ** 2
    f = np.fft.rfftfreq(4096, 1 / fs)
    return {
        "width_ms": (above[-1] - above[0]) / fs * 1000,
        "peak": float(np.abs(tpl).max()),
        "centroid_hz": float((f * spec).sum() / spec.sum()),
        "band_ratio": float(spec[(f >= 5) & (f < 40)].sum() / spec[(f >= 40) & (f < 200)].sum()),
        "bpm": 60.0 / float(np.median(np.diff(pk)) / fs),
    }


def test_pqrst_beat_matches_the_real_ecg_file() -> None:
    if not ECG_FILE.exists():
        pytest.skip(f"real ECG-contaminated recording not present: {ECG_FILE}")
    from scipy import io

    rec = io.loadmat(ECG_FILE, squeeze_me=True, struct_as_record=False)["EMG"]
    fs = float(rec.fs)
    real = [beat_figures(np.asarray(rec.channelData, float)[:, c] * 1000.0, fs) for c in range(8)]
    ref = {k: float(np.median([r[k] for r in real])) for k in real[0]}
    for seed in (1, 2):
        sim = gen.generate("ecg_spasms", seed=seed, minutes=0.5, rate_hz=fs)
        got = beat_figures(sim.channels[0].astype(float) * UV_PER_COUNT, fs)
        assert 0.7 < got["width_ms"] / ref["width_ms"] < 1.3, (got, ref)
        assert 0.75 < got["centroid_hz"] / ref["centroid_hz"] < 1.3, (got, ref)
        assert 0.4 < got["band_ratio"] / ref["band_ratio"] < 2.5, (got, ref)
        assert 0.6 < got["peak"] / ref["peak"] < 1.6, (got, ref)  # ecg_spasms: as strong as the file


def test_heart_rates_vary_over_50_to_110_bpm_with_beat_to_beat_variability() -> None:
    from spasmsim import interference as itf

    rates, cvs = [], []
    for seed in range(12):
        t = itf.beat_times(np.random.default_rng(seed), 300.0, (50.0, 110.0))
        rr = np.diff(t)
        rates.append(60 / rr.mean())
        cvs.append(rr.std() / rr.mean())
    assert 48 <= min(rates) and max(rates) <= 115 and max(rates) - min(rates) > 25
    assert 0.02 < float(np.median(cvs)) < 0.08  # the real file: 5 % over 20 s


def test_env_heartbeat_bumps_repeat_at_the_beat_interval() -> None:
    sim = gen.generate("ecg_rest", seed=3, minutes=2, mode="env", rate_hz=100)
    c = sim.channels[0].astype(float)
    c -= c.mean()
    ac = np.correlate(c, c, "full")[c.size - 1 :]
    ac /= ac[0]
    lag = 40 + int(np.argmax(ac[40:160]))  # 0.4-1.6 s
    assert ac[lag] > 0.3
    raw = gen.generate("ecg_rest", seed=3, minutes=2, rate_hz=1000)
    bpm = beat_figures(raw.channels[0].astype(float), 1000.0)["bpm"]
    assert abs(lag / 100 - 60 / bpm) < 0.1


def test_quantised_rest_moves_by_less_than_a_count() -> None:
    sim = gen.generate("quantised_rest", seed=2, minutes=1)
    d = np.diff(sim.channels[0].astype(int))
    assert np.std(d) / np.sqrt(2) < 1.0
    assert np.mean(d == 0) > 0.4 and np.mean(np.abs(d) <= 1) > 0.95


def test_floor_step_raises_the_rest_level_and_stays() -> None:
    from spasmsim.scenarios import get_scenario

    sc = get_scenario("floor_step")
    times, factors = gen._floor_steps(sc, gen._rng(1, gen.S_FLOOR, 0, 2), 600.0)
    sim = gen.generate(replace_kinds(sc), seed=1, minutes=10)
    x = _hp(sim.channels[0], 1000.0)
    before = _rms(x[int((times[0] - 40) * 1000) : int((times[0] - 5) * 1000)])
    after = _rms(x[int((times[0] + 5) * 1000) : int((times[0] + 40) * 1000)])
    assert factors[0] >= 3 and after > 2.0 * before


def replace_kinds(sc):  # a rest-only copy of a scenario
    from dataclasses import replace

    return replace(sc, kinds=())


def test_bursts_sit_on_a_one_sided_movement_swing() -> None:
    sim = gen.generate("swing_bursts", seed=2, minutes=5)
    c = sim.channels[0].astype(float)
    slow = signal.sosfiltfilt(signal.butter(2, 8.0, "lowpass", fs=1000.0, output="sos"), c)
    shifts = []
    for t in sim.truth:
        i = int(t.onset_s * 1000)
        if i < 500:
            continue
        base = np.median(c[i - 500 : i - 300])
        shifts.append(np.max(np.abs(slow[i : i + 150] - base)))
    assert len(shifts) >= 8
    assert np.median(shifts) > 8  # tens of counts off the pre-burst baseline


def test_env_offset_rest_and_grasps() -> None:
    sim = gen.generate("env_offset_grasps", seed=1, minutes=2, mode="env", rate_hz=100)
    c = sim.channels[0].astype(float)
    inside, outside = _masks(sim)
    rest = float(np.median(c[outside]))
    assert 85 <= rest <= 115
    peaks = [c[int(t.onset_s * 100) : int(t.offset_s * 100)].max() for t in sim.truth]
    rise = (np.array(peaks) - rest) / rest
    assert 0.3 < np.min(rise) and np.max(rise) < 5


def test_env_rest_stays_within_a_few_counts_under_electrode_wander() -> None:
    # A MyoWare's ENV rests within a few counts of its level (the real sensor's ENV in
    # ../shared/data/myoware_rrp moves by 0.005-0.14 V at rest under bursts of 0.4-1.9 V): mV of slow electrode
    # wander must not rectify into ENV humps. Rest only (no spasms, no motion or pops), the most wander of any
    # scenario, while RAW still carries that wander's residue.
    base = next(s for s in SCENARIOS if s.name == "everyday_mixed")
    quiet = dataclasses.replace(base, kinds=(), faults=(), motion_per_min=0.0, pop_per_min=0.0)
    env = gen.generate(quiet, seed=2, minutes=3, mode="env", rate_hz=100).channels[0].astype(float)
    assert np.percentile(env, 99.9) - np.median(env) <= 12
    raw = gen.generate(quiet, seed=2, minutes=3, mode="raw", rate_hz=1000).channels[0].astype(float)
    slow = np.convolve(raw, np.ones(500) / 500, mode="valid")
    assert slow.max() - slow.min() > 5  # the wander is there on RAW: ENV is quiet because of the coupling
