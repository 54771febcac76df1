"""Tests of device config validation, load/save and `config set` (firmware/config.py) on both runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mpy_runner import run_json

from spasmfw import config as C

# (overrides, text the error must contain: the key and what it allows)
INVALID = [
    ({"name": ""}, "name="),
    ({"name": "a\nb"}, "name="),
    ({"id": 5}, "id="),
    ({"channels": []}, "channels must be a list of 1..4"),
    ({"channels": [32, 33, 34, 35, 36]}, "channels must be a list of 1..4"),
    ({"channels": [{"pin": 4}]}, "channels.0.pin=4 must be an ADC1 pin"),
    ({"channels": [{"pin": 25, "name": "x"}]}, "channels.0.pin=25"),
    ({"channels": [34, 34]}, "channels.1.pin=34 is used twice"),
    ({"channels": [{"pin": 34, "name": "a"}, {"pin": 35, "name": "a"}]}, "channels.1.name"),
    ({"channels": [{"pin": 34, "gain": 2}]}, "channels.0: unknown key 'gain'"),
    ({"channels": ["34"]}, "channels.0"),
    ({"mode": "emg"}, "mode='emg' must be raw or env"),
    ({"rate_hz": 10}, "rate_hz=10 out of range 25..2000"),
    ({"rate_hz": 2001}, "rate_hz=2001 out of range 25..2000"),
    ({"rate_hz": 999.5}, "rate_hz=999.5 must be an integer"),
    ({"rate_hz": "1000"}, "rate_hz="),
    ({"rate_hz": True}, "rate_hz=True"),
    ({"rate_hz": 2000, "channels": [32, 33, 34]}, "rate_hz=2000 x 3 channels"),
    ({"mains_hz": 55}, "mains_hz=55 must be 0, 50 or 60"),
    ({"mains_hz": False}, "mains_hz=False"),
    ({"mains_hz": 60, "rate_hz": 100}, "mains_hz=60 needs rate_hz above 120"),
    ({"params": {"sensitivity": 0.001}}, "params.sensitivity=0.001 out of range"),
    ({"params": {"off_sd": 30}}, "params.off_sd=30 out of range"),
    ({"params": {"no_such": 1}}, "params.no_such: unknown detector parameter; `spasmwatch config get` lists them"),
    ({"params": {"off_x": 4}}, "params.off_x: unknown detector parameter (did you mean off_sd?)"),
    ({"params": {"max_epis": 4}}, "params.max_epis: unknown detector parameter (did you mean max_episode_s?)"),
    ({"params": {"mains_hz": 50}}, "params.mains_hz"),
    ({"params": [1]}, "params must be an object"),
    ({"stream": {"env": "yes"}}, "stream.env='yes' must be true or false"),
    ({"stream": {"raw": 1}}, "stream.raw=1 must be true or false"),
    ({"stream": {"env_hz": 0}}, "stream.env_hz=0 out of range 1..100"),
    ({"stream": {"env_hz": 60}, "rate_hz": 50, "mains_hz": 0}, "stream.env_hz=60 out of range 1..50"),
    ({"stream": {"fast": True}}, "unknown key stream.fast"),
    ({"stream": True}, "stream must be an object"),
    ({"status_s": -1}, "status_s=-1 must be 0 (off) or 1..3600"),
    ({"status_s": 0.5}, "status_s=0.5"),
    ({"led_pin": 36}, "led_pin=36 must be null or an output GPIO"),
    ({"led_pin": 1}, "led_pin=1"),  # UART0 TX: the USB serial link
    ({"led_pin": 7}, "led_pin=7"),  # flash
    ({"buzzer_pin": 12}, "buzzer_pin=12"),  # strapping pin
    ({"buzzer_pin": 2}, "buzzer_pin=2 is already used"),  # the LED's pin
    ({"led_pin": 32, "channels": [32]}, "led_pin=32 is already used"),
    ({"watchdog": "on"}, "watchdog='on' must be true or false"),
    ({"log_kb": 4}, "log_kb=4 out of range 8..1024"),
    ({"log_kb": 4096}, "log_kb=4096 out of range"),
    ({"wifi": True}, "unknown config key 'wifi'"),
]

VALID = [
    {},
    {"channels": [34, 35], "rate_hz": 2000},
    {"channels": [{"pin": 39, "name": "left calf"}], "mode": "env", "rate_hz": 100, "mains_hz": 0},
    {"params": {"sensitivity": 5, "off_sd": 2.5}, "stream": {"env": True}, "buzzer_pin": 25, "led_pin": None},
    {"rate_hz": 1000.0, "status_s": 0, "watchdog": False, "log_kb": 8, "mains_hz": 60},
]


def test_defaults_are_valid_and_complete() -> None:
    d = C.defaults()
    assert set(d) == set(C.DEFAULTS)
    assert d == C.validate(d)
    assert d["channels"] == [{"pin": 36, "name": "ch0"}]
    assert C.defaults(b"\xa4\xcf\x12\xb0\xc3\xd8")["id"] == "a4cf12b0c3d8"
    assert C.validate({"id": "mine"}, b"\x01")["id"] == "mine"  # an explicit id wins


@pytest.mark.parametrize("bad,text", INVALID, ids=[str(b) for b, _ in INVALID])
def test_invalid_value_rejected_naming_the_key(bad: dict, text: str) -> None:
    with pytest.raises(ValueError) as e:
        C.validate(bad)
    assert text in str(e.value)


def test_validate_normalises_and_does_not_touch_its_input() -> None:
    cfg = {"channels": [34, {"pin": 35}], "rate_hz": 500.0, "stream": {"env": True}}
    snapshot = json.dumps(cfg)
    out = C.validate(cfg)
    assert json.dumps(cfg) == snapshot
    assert out["channels"] == [{"pin": 34, "name": "ch0"}, {"pin": 35, "name": "ch1"}]
    assert out["rate_hz"] == 500 and isinstance(out["rate_hz"], int)
    assert out["stream"] == {"env": True, "raw": False, "env_hz": 50}
    assert C.detector_params(out) == {"mains_hz": 50}
    assert C.detector_params(C.validate({"mode": "env", "params": {"smooth_ms": 40}})) == {"smooth_ms": 40}


def test_load_missing_corrupt_and_invalid(tmp_path: Path) -> None:
    cfg, err = C.load(str(tmp_path / "none.json"))
    assert cfg == C.defaults() and err is None
    (tmp_path / "bad.json").write_text('{"rate_hz": 1000,')
    cfg, err = C.load(str(tmp_path / "bad.json"), "dev1")
    assert cfg == C.defaults("dev1") and "not valid JSON" in err
    (tmp_path / "inv.json").write_text('{"rate_hz": 5}')
    cfg, err = C.load(str(tmp_path / "inv.json"))
    assert cfg == C.defaults() and "rate_hz=5" in err
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    cfg, err = C.load(str(tmp_path / "bin.json"))
    assert cfg == C.defaults() and err
    (tmp_path / "dir.json").mkdir()
    cfg, err = C.load(str(tmp_path / "dir.json"))
    assert cfg == C.defaults()


def test_save_load_roundtrip_and_interrupted_save(tmp_path: Path) -> None:
    path = str(tmp_path / "config.json")
    cfg = C.set_values(C.defaults("dev"), [("name", "left calf"), ("params.sensitivity", 6)])
    assert C.save(path, cfg) == cfg
    assert C.load(path) == (cfg, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    with pytest.raises(ValueError, match="rate_hz"):
        C.save(path, {**cfg, "rate_hz": 1})
    assert C.load(path) == (cfg, None)  # a refused save leaves the file alone
    # power lost after removing the old file but before the rename: the temp file is used
    Path(path).rename(path + ".tmp")
    assert C.load(path) == (cfg, None)


def test_set_values() -> None:
    base = C.defaults("dev")
    new = C.set_values(base, [("params.sensitivity", 5), ("stream.env", True), ("channels", [34, 35]),
                              ("channels.1.name", "calf"), ("rate_hz", 500)])
    assert new["params"] == {"sensitivity": 5}
    assert new["stream"]["env"] is True
    assert new["channels"] == [{"pin": 34, "name": "ch0"}, {"pin": 35, "name": "calf"}]
    assert new["rate_hz"] == 500 and new["id"] == "dev"
    assert base == C.defaults("dev")  # the input is not modified
    assert C.set_values(new, [("params.sensitivity", None)])["params"] == {}
    assert C.set_values(new, [("params", None)])["params"] == {}
    # pairs apply together: the final state is what gets validated
    both = C.set_values(base, [("params.sensitivity", 2), ("params.off_sd", 1.5)])
    assert both["params"] == {"sensitivity": 2, "off_sd": 1.5}


@pytest.mark.parametrize("pairs,text", [
    ([("wifi", 1)], "unknown config key 'wifi'"),
    ([("params.sensitivity", 0)], "params.sensitivity=0 out of range"),
    ([("stream.env", "yes")], "stream.env"),
    ([("channels.5.name", "x")], "channels.5: index out of range 0..0"),
    ([("channels.a.name", "x")], "channels.a: expected an index"),
    ([("rate_hz.x", 1)], "rate_hz is not an object"),
    ([("channels.0.pin", 4)], "channels.0.pin=4"),
])
def test_set_values_errors_name_the_key(pairs: list, text: str) -> None:
    with pytest.raises(ValueError) as e:
        C.set_values(C.defaults(), pairs)
    assert text in str(e.value)


SCENARIO = r"""
import json, sys
import config as C
D = sys.argv[1]
out = {"defaults": C.defaults(b"\x01\x02"), "valid": [C.validate(v) for v in VALID]}
errs = []
for bad, _ in INVALID:
    try:
        C.validate(bad)
        errs.append(None)
    except ValueError as e:
        errs.append(str(e))
out["errors"] = errs
cfg = C.set_values(C.defaults(), [("params.sensitivity", 5), ("stream.env", True), ("channels", [34, 35]),
                                  ("channels.1.name", "calf")])
C.save(D + "/c.json", cfg)
out["roundtrip"] = C.load(D + "/c.json")[0] == cfg
out["set"] = cfg
with open(D + "/bad.json", "w") as f:
    f.write("{nope")
bad = C.load(D + "/bad.json")
out["bad"] = [bad[0] == C.defaults(), bad[1] is not None]
out["missing"] = C.load(D + "/none.json")[1]
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_same_results_under_micropython(micropython_bin: str, tmp_path: Path) -> None:
    code = f"VALID = {VALID!r}\nINVALID = {INVALID!r}\n" + SCENARIO
    results = {}
    for rt in ("cpython", "micropython"):
        d = tmp_path / rt
        d.mkdir()
        results[rt] = run_json(code, rt, args=(str(d),))
    cp, mp = results["cpython"], results["micropython"]
    assert mp == cp
    for (_, text), msg in zip(INVALID, cp["errors"], strict=True):
        assert msg is not None and text in msg
    assert cp["roundtrip"] is True and cp["bad"] == [True, True] and cp["missing"] is None
    assert cp["set"]["channels"][1] == {"pin": 35, "name": "calf"}
    assert cp["defaults"]["id"] == "0102"


# ------------------------------------------------------------------------------------------ chips

S3 = "Generic ESP32S3 module with Octal-SPIRAM with ESP32S3"  # sys.implementation._machine on an ESP32-S3


def test_gpio_tables_follow_the_chip_the_firmware_runs_on() -> None:
    adc, wired, outputs, led = C.gpio("Generic ESP32 module with ESP32")
    assert (adc, wired, led) == (tuple(range(32, 40)), (36, 39, 34, 35), 2) and C.gpio("") == C.gpio("linux [GCC]")
    assert not {6, 7, 8, 9, 10, 11, 12, 1, 3} & set(outputs) and not set(range(34, 40)) & set(outputs)
    adc, wired, outputs, led = C.gpio(S3)
    assert adc == tuple(range(1, 11)) and set(wired) <= set(adc) and 3 not in wired and led is None
    # strapping pins, USB, flash and octal PSRAM, UART0: never an output
    assert not {0, 3, 45, 46, 19, 20, 43, 44, *range(26, 38)} & set(outputs) and {21, 47, 48} <= set(outputs)


def test_an_s3_config_validates_against_the_s3_pins() -> None:
    try:
        C.use_chip(S3)
        cfg = C.defaults()
        assert cfg["channels"] == [{"pin": 1, "name": "ch0"}] and cfg["led_pin"] is None
        out = C.validate({"channels": [1, 2, 4, 5], "led_pin": 21, "buzzer_pin": 47})
        assert [c["pin"] for c in out["channels"]] == [1, 2, 4, 5]
        for bad, text in (({"channels": [36]}, "channels.0.pin=36 must be an ADC1 pin: 1, 2, 3"),
                          ({"led_pin": 35}, "led_pin=35 must be null or an output GPIO: 1, 2, 4"),
                          ({"channels": [1], "led_pin": 1}, "led_pin=1 is already used")):
            with pytest.raises(ValueError, match=text.replace(".", r"\.")):
                C.validate(bad)
    finally:
        C.use_chip("")
    assert C.defaults()["channels"][0]["pin"] == 36 and C.defaults()["led_pin"] == 2  # the ESP32's again


@pytest.mark.micropython
def test_the_unix_port_takes_the_esp32_tables(micropython_bin: str) -> None:
    # sys.implementation._machine exists on every MicroPython port; the unix port's names no ESP32-S3
    code = ("import json, sys\nimport config\n"
            "print(json.dumps([sys.implementation._machine, config.ADC1_PINS, config.defaults()['led_pin']]))")
    machine, pins, led = run_json(code, "micropython")
    assert "ESP32S3" not in machine and pins == list(range(32, 40)) and led == 2
