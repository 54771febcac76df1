"""Tests of the synthetic-EMG simulator (spasmsim) and the `spasmwatch simulate` command."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from spasmsim import adc, physiology
from spasmsim import generate as gen
from spasmsim.scenarios import SCENARIOS
from spasmwatch.cli import main
from spasmwatch.events import TRUTH_KINDS, read_truth
from spasmwatch.recording import read_recording

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
