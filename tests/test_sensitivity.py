"""The detector's one user-facing setting, said in the user's terms by replay, config, the dashboard and the report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spasmfw import detparams
from spasmfw.detector import Detector
from spasmfw.detrest import onset_sd
from spasmwatch import sensitivity as S
from spasmwatch.dashboard.app import device_info


def test_words_and_defaults_come_from_the_firmware() -> None:
    assert S.words(1) == "1 false alarm per hour of rest"
    assert S.words(0.1) == "0.1 false alarms per hour of rest"
    assert S.default("raw") == detparams.PARAMS["sensitivity"][0]
    assert S.from_params({"sensitivity": 3}) == (3.0, True)
    assert S.from_params({}, "env") == (detparams.PARAMS["sensitivity"][1], False)
    assert S.describe(None) == f"sensitivity {S.default():g} false alarms/h of rest (default)"
    assert S.describe({"sensitivity": 3}) == "sensitivity 3 false alarms/h of rest"


@pytest.mark.parametrize("info, want", [
    (str({"mode": "raw", "params": {"sensitivity": 10}}), (10.0, True)),
    (str({"mode": "env", "params": {}}), (detparams.PARAMS["sensitivity"][1], False)),
    ("not a dict literal (", None), ("[1, 2]", None), (None, None), ("x" * (S.MAX_INFO + 1), None),
])
def test_a_devices_sensitivity_is_read_from_its_stored_config(info: object, want: object) -> None:
    assert S.from_info(info) == want


def test_the_dashboard_lists_each_devices_sensitivity() -> None:
    set_to_2 = str({"params": {"sensitivity": 2}})
    devs = device_info([{"device_id": "a1", "name": None, "channel_names": [], "info": set_to_2},
                        {"device_id": "b2", "name": None, "channel_names": [], "info": None}])
    assert devs[0]["sensitivity"] == "2 false alarms per hour of rest"
    assert devs[1]["sensitivity"] is None


def test_the_onset_threshold_rises_as_fewer_false_alarms_are_allowed() -> None:
    # the normal quantile: one window of rest in N exceeds it; 10x fewer false alarms -> a higher threshold
    ks = [onset_sd(r, 100.0, 3) for r in (100, 10, 1, 0.1, 0.01)]
    assert all(a < b for a, b in zip(ks, ks[1:], strict=False))
    # 1 per hour at 100 ticks/s and 3-tick windows: a tail of 1/120000 -> 4.3 SD (scaled to mean deviations)
    assert math.isclose(ks[2], 4.31 * 1.2533, rel_tol=0.01)
    on = [Detector(1000, "raw", {"sensitivity": r}).on_q for r in (10, 0.1)]
    assert on[0] < on[1]


def test_an_envelope_at_rest_holds_about_the_stated_false_alarm_rate() -> None:
    # An ENV at rest made of the noise the model assumes (correlated normal noise on a 400-count offset, one
    # hour at 100 Hz): false onsets per hour stay within 10x below and 3x above the setting where there are
    # enough to count (measured: 190 at 1000/h, 13 at 100/h), and none at 0.1/h. Real rest is not normal
    # noise: docs/accuracy.md has the curves on recordings.
    from scipy.signal import lfilter

    from spasmwatch.engine.detect import detect

    rng = np.random.default_rng(5)
    x = lfilter([0.3], [1, -0.7], rng.normal(0, 1, 100 * 3600))
    env = np.rint(400 + x / x.std() * 6).astype(int)
    for per_hour in (1000, 100):
        n = len([e for e in detect(env, 100, "env", {"sensitivity": per_hour}) if e.kind != "fault"])
        assert per_hour / 10 <= n <= per_hour * 3, (per_hour, n)
    assert [e for e in detect(env, 100, "env", {"sensitivity": 0.1}) if e.kind != "fault"] == []


def test_raw_rest_noise_never_passes_the_least_rise() -> None:
    # Raw mode: an onset needs the rectified envelope to at least double; steady normal rest noise never does,
    # whatever the setting (so there the setting is an upper bound).
    from signals import emg

    from spasmwatch.engine.detect import detect

    rest = emg(600, 1000, [], rest_rms=3.0, seed=5)
    assert [e for e in detect(rest, 1000, "raw", {"sensitivity": 1000}) if e.kind != "fault"] == []
