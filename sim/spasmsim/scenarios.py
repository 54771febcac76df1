"""Named simulator scenarios: which spasms, how strong, which interference, how long."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Amplitudes are µV RMS at the electrodes. With the default 5 µV floor plus ADC noise the rest floor is
# ~1.7 counts RMS on RAW, so 50-150 µV spasms are ~8-25x the floor ("moderate") and 18-28 µV are ~3-5x ("low").
MODERATE_UV = (50.0, 150.0)
LOW_UV = (18.0, 28.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    minutes: float  # default duration
    kinds: tuple[tuple[str, float], ...] = ()  # (spasm kind, relative weight); empty = rest only
    amp_uv: tuple[float, float] = MODERATE_UV  # spasm activation, µV RMS (log-uniform)
    gap_s: tuple[float, float] = (5.0, 20.0)  # rest gap between spasms: minimum + exponential mean
    tonic_s: tuple[float, float] = (2.0, 60.0)
    clonus_s: tuple[float, float] = (2.0, 12.0)
    jerk_s: tuple[float, float] = (0.1, 0.4)
    cramp_s: tuple[float, float] = (60.0, 300.0)
    floor_uv: float = 5.0  # rest noise floor, µV RMS
    floor_fold: float = 1.2  # the floor drifts up to this factor over the recording
    mains_uv: float = 1.0  # mains pick-up at the fundamental, µV amplitude
    wander_uv: float = 0.0  # electrode-potential wander, µV (mostly removed by the RAW high-pass)
    motion_per_min: float = 0.0
    motion_uv: tuple[float, float] = (1000.0, 8000.0)
    pop_per_min: float = 0.0
    pop_uv: tuple[float, float] = (5000.0, 40000.0)
    ecg_uv: float = 0.0  # R-wave amplitude at the skin; "pqrst" beats peak at ~0.4x this on RAW (20 Hz HP)
    ecg_bpm: tuple[float, float] = (60.0, 80.0)
    ecg_spread: tuple[float, float] = (0.6, 1.2)  # per-channel factor on ecg_uv (uniform)
    ecg_shape: str = "pqrst"  # "pqrst" (calibrated beat) or "gauss" (the older spike-like beat)
    faults: tuple[str, ...] = ()  # lead-off periods, each "rail" or "flat"
    adc_noise: float = 1.0  # ESP32 input noise, counts RMS
    floor_steps: int = 0  # the rest level steps this many times (an electrode shifting) and stays
    floor_step_fold: tuple[float, float] = (2.0, 4.0)  # size of each step (the first one is up)
    swing_uv: tuple[float, float] = (0.0, 0.0)  # movement swing of the electrode potential under a burst
    swing_p: float = 0.0  # share of spasms that sit on a movement swing
    env_offset_counts: float = 0.0  # ENV output resting on this DC offset (read as ADC counts); 0 = MyoWare
    env_gain_fold: float = 1.0  # ENV gain relative to the nominal 10200 (the MyoWare gain pot)


# MyoWare-scale quiet electrodes: 1.3 µV RMS (the quiet BioSPPy/BITalino `emg.txt`, 1.2-1.4 µV) is 0.33 counts
# at RAW gain 200; with a quiet (averaged) ADC the rest moves by less than a count.
QUIET_FLOOR_UV = 1.3
QUIET_ADC = 0.25
_ARTEFACTS: dict[str, Any] = dict(mains_uv=8.0, wander_uv=8000.0, motion_per_min=1.0, pop_per_min=0.5)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("rest_artifacts", "rest with motion, electrode pops, mains and wander only: any detection is a"
             " false alarm", 10, **_ARTEFACTS),
    Scenario("tonic_moderate", "clean tonic spasms (2 s-1 min, fast or slow rise) at ~8-25x the floor", 10,
             kinds=(("tonic", 1.0),)),
    Scenario("tonic_low_snr", "clean tonic spasms at only ~3-5x the floor", 10, kinds=(("tonic", 1.0),),
             amp_uv=LOW_UV),
    Scenario("clonus_mixed", "clonus trains (3-8 Hz bursts for 2-12 s) mixed with tonic spasms", 10,
             kinds=(("clonus", 0.6), ("tonic", 0.4)), tonic_s=(2.0, 30.0)),
    Scenario("cramps_jerks", "long cramps (1-5 min, fading with fatigue) with myoclonic jerks between", 20,
             kinds=(("cramp", 0.15), ("jerk", 0.85)), gap_s=(5.0, 25.0)),
    Scenario("drifting_floor", "noise floor drifting 4x over the recording, with tonic spasms, clonus and jerks", 60,
             kinds=(("tonic", 0.4), ("clonus", 0.3), ("jerk", 0.3)), amp_uv=(80.0, 250.0), floor_uv=4.0,
             floor_fold=4.0, gap_s=(8.0, 40.0), mains_uv=2.0, wander_uv=3000.0),
    Scenario("ecg_leadoff", "trunk muscle with ECG contamination (60-80 bpm), tonic spasms and jerks, one railed and"
             " one flat lead-off fault", 10, kinds=(("tonic", 0.7), ("jerk", 0.3)), ecg_uv=300.0,
             faults=("rail", "flat"), gap_s=(8.0, 30.0), ecg_shape="gauss"),
    Scenario("night", "sleep: sparse spasms of every kind, drifting floor, rare turning-over artefacts", 180,
             kinds=(("tonic", 0.35), ("clonus", 0.25), ("jerk", 0.3), ("cramp", 0.1)), gap_s=(60.0, 600.0),
             floor_fold=2.0, mains_uv=3.0, wander_uv=5000.0, motion_per_min=0.05, pop_per_min=0.02),
    Scenario("everyday_mixed", "all spasm kinds at moderate and low SNR among everyday artefacts and a railed"
             " lead-off", 30, kinds=(("tonic", 0.4), ("clonus", 0.25), ("jerk", 0.25), ("cramp", 0.1)),
             amp_uv=(25.0, 150.0), gap_s=(6.0, 40.0), faults=("rail",), mains_uv=5.0, wander_uv=6000.0,
             motion_per_min=0.5, pop_per_min=0.2, floor_fold=1.5),
    Scenario("strong_saturating", "strong tonic spasms and jerks that clip at the rails, with electrode pops", 5,
             kinds=(("tonic", 0.6), ("jerk", 0.4)), amp_uv=(1500.0, 5000.0), tonic_s=(2.0, 20.0),
             pop_per_min=0.5),
    Scenario("ecg_rest", "rest with a calibrated PQRST heartbeat only (50-110 bpm, RAW beat peak 100-600 µV): any"
             " detection is false", 10, ecg_uv=1000.0, ecg_bpm=(50.0, 110.0), ecg_spread=(0.25, 1.5), mains_uv=2.0),
    Scenario("ecg_spasms", "tonic spasms, clonus and jerks under a strong PQRST heartbeat (RAW beat peak 380-620 µV,"
             " as in emgGO's file; 60-100 bpm)", 10, kinds=(("tonic", 0.5), ("clonus", 0.2), ("jerk", 0.3)),
             ecg_uv=1250.0, ecg_bpm=(60.0, 100.0), ecg_spread=(0.8, 1.3), amp_uv=(40.0, 150.0), gap_s=(8.0, 25.0),
             mains_uv=2.0),
    Scenario("quantised_rest", "MyoWare-scale quiet rest: the electrode floor is a third of a count, so the RAW moves"
             " by less than a count; any detection or fault is false", 10, floor_uv=QUIET_FLOOR_UV,
             adc_noise=QUIET_ADC, floor_fold=1.1, mains_uv=0.3),
    Scenario("quantised_bursts", "tonic spasms, clonus and jerks (15-80 µV) on the sub-count quiet floor", 10,
             kinds=(("tonic", 0.4), ("clonus", 0.2), ("jerk", 0.4)), amp_uv=(15.0, 80.0), tonic_s=(0.5, 8.0),
             floor_uv=QUIET_FLOOR_UV, adc_noise=QUIET_ADC, floor_fold=1.1, mains_uv=0.3, gap_s=(6.0, 20.0)),
    Scenario("floor_step", "the rest level steps 3-6x (the first one up) and stays (an electrode shifting), twice,"
             " among tonic spasms and jerks", 20, kinds=(("tonic", 0.6), ("jerk", 0.4)), amp_uv=(60.0, 200.0),
             gap_s=(15.0, 40.0), floor_steps=2, floor_step_fold=(3.0, 6.0), floor_fold=1.0),
    Scenario("swing_bursts", "MyoWare-scale jerks and short spasms (sub-count floor) that sit on a movement-induced"
             " baseline swing (2-8 mV at the skin, tens of counts on RAW)", 10, kinds=(("jerk", 0.6), ("tonic", 0.4)),
             tonic_s=(0.6, 4.0), amp_uv=(20.0, 80.0), gap_s=(5.0, 15.0), swing_uv=(2000.0, 8000.0), swing_p=1.0,
             floor_uv=QUIET_FLOOR_UV, adc_noise=QUIET_ADC, floor_fold=1.1, mains_uv=0.3),
    Scenario("env_offset_grasps", "short grasps every few seconds on an envelope resting at +100 counts (an RMS/ENV"
             " output with a DC offset, ENV gain pot at 0.3x), rising 0.5-3x the offset above it", 5,
             kinds=(("tonic", 1.0),), amp_uv=(15.0, 90.0), tonic_s=(1.0, 3.0), gap_s=(2.0, 3.0),
             env_offset_counts=100.0, env_gain_fold=0.3),
)

BY_NAME = {sc.name: sc for sc in SCENARIOS}


def get_scenario(name: str) -> Scenario:
    """The named scenario; KeyError (with the known names) if there is none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(BY_NAME)})") from None
