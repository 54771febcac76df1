"""`spasmwatch config` (issue 12.5): the help's own examples work, effective defaults are shown beside changes,
`config reset` and `config defaults`, and an unknown key's message is whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spasmfw import config as fwconfig
from spasmwatch import cli
from spasmwatch.commands.config import describe, reset_pairs


def one_line(text: str) -> str:
    text = text.strip()
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_config_get_reset_on_the_virtual_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from signals import emg

    from spasmcore.recording import write_recording
    from spasmsim.device import VirtualDevice

    write_recording(tmp_path / "r.csv", 1000, [emg(10, 1000, [(6, 9, 80)], seed=3)], units="counts")
    with VirtualDevice(tmp_path / "r.csv", speed=4, loop=True, state_dir=tmp_path / "board") as dev:
        p = dev.port
        # the help's example on a board that has changed nothing: the default in effect
        assert cli.main(["config", "get", "--port", p, "params.sensitivity"]) == 0
        assert capsys.readouterr().out.strip() == json.dumps(fwconfig.detector.PARAMS["sensitivity"][0])
        assert cli.main(["config", "set", "--port", p, "params.sensitivity=5", "status_s=30"]) == 0
        capsys.readouterr()
        assert cli.main(["config", "get", "--port", p]) == 0
        lines = {line.split(" = ")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
        assert lines["params.sensitivity"].split("=", 1)[1].split()[:4] == ["5", "#", "default", "0.1"]
        assert lines["params.sensitivity"].endswith("(5 false alarms per hour of rest)")
        assert lines["status_s"].endswith("# default 10")
        assert "#" not in lines["params.hp_hz"] and "params.twitch_ms" in lines  # defaults listed too
        # a key that does not exist: the whole message, with the closest names, one line
        assert cli.main(["config", "set", "--port", p, "params.off_x=4"]) == 2
        err = one_line(capsys.readouterr().err)
        assert "params.off_x: unknown detector parameter (did you mean off_sd?)" in err
        assert err.endswith("`spasmwatch config get` lists them")
        assert cli.main(["config", "reset", "--port", p, "params.sensitivity"]) == 0
        assert "saved: params.sensitivity=null" in capsys.readouterr().out
        assert cli.main(["config", "get", "--port", p, "--json"]) == 0
        stored = json.loads(capsys.readouterr().out)
        assert stored["params"] == {} and stored["status_s"] == 30
        assert cli.main(["config", "reset", "--port", p, "--all"]) == 0
        assert "saved: status_s=10" in capsys.readouterr().out
        assert cli.main(["config", "reset", "--port", p, "--all"]) == 0
        assert "nothing changed" in capsys.readouterr().out
        assert cli.main(["config", "reset", "--port", p]) == 2
        assert "give the KEYs to reset, or --all" in one_line(capsys.readouterr().err)


def test_reset_pairs() -> None:
    cfg = fwconfig.set_values(fwconfig.defaults("dev"), [("params.sensitivity", 6), ("channels", [34, 35]),
                                                         ("rate_hz", 2000), ("name", "calf"), ("stream.env", True)])
    pairs = reset_pairs(cfg, [], everything=True)
    assert pairs[0] == ("channels", [{"pin": 36, "name": "ch0"}])  # before the rate
    assert ("params", None) in pairs and ("name", "spasmwatch") in pairs and ("rate_hz", 1000) in pairs
    assert all(k != "id" for k, _ in pairs)
    assert fwconfig.set_values(cfg, pairs) == fwconfig.defaults("dev")
    assert reset_pairs(cfg, ["stream.env", "params.hp_hz"], everything=False) == [("stream.env", False)]
    with pytest.raises(Exception, match="no detector parameter 'nope'"):
        reset_pairs(cfg, ["params.nope"], everything=False)


def test_reset_pairs_give_the_defaults_of_the_boards_chip() -> None:
    # An ESP32-S3 reset to the ESP32's channel (GPIO36) and LED (GPIO2, an S3 channel pin) would be refused, or
    # drive a sensor's pin: `config reset` takes the defaults of the chip the board's hello names.
    from spasmwatch.board.deploy_build import chip

    s3 = "Generic ESP32S3 module with ESP32S3"
    with chip(s3):
        cfg = fwconfig.set_values(fwconfig.defaults("dev"), [("channels", [4, 5]), ("led_pin", 21)])
        pairs = reset_pairs(cfg, ["channels", "led_pin"], everything=False)
        assert pairs == [("channels", [{"pin": 1, "name": "ch0"}]), ("led_pin", None)]
        assert fwconfig.set_values(cfg, pairs)["channels"] == [{"pin": 1, "name": "ch0"}]
    assert reset_pairs(fwconfig.defaults("dev"), ["led_pin"], everything=False) == []  # the ESP32's again


def test_describe_marks_changes_only() -> None:
    cfg = fwconfig.set_values(fwconfig.defaults("dev"), [("params.sensitivity", 0.1), ("mains_hz", 60)])
    text = describe(cfg, cfg["params"])
    on = next(line for line in text.splitlines() if line.startswith("params.sensitivity "))
    assert on.endswith("# default 0.1 (0.1 false alarms per hour of rest)")  # set explicitly, even to the default
    assert next(line for line in text.splitlines() if line.startswith("mains_hz ")).endswith("# default 50")
    assert "params.mains_hz" not in text


def test_config_defaults_needs_no_board(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "defaults", "--mode", "env", "--rate", "100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "env" and data["params"]["sensitivity"] == fwconfig.detector.PARAMS["sensitivity"][1]
    assert cli.main(["config", "defaults"]) == 0
    assert "params.sensitivity" in capsys.readouterr().out
    assert cli.main(["config", "defaults", "--rate", "5"]) == 2
    assert "rate_hz=5 out of range" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("name", sorted(fwconfig.detector.PARAMS))
def test_unknown_parameter_messages_fit_the_wire(name: str) -> None:
    # the board cuts error messages at 160 characters: a near-miss of every real name must fit
    with pytest.raises(ValueError) as info:
        fwconfig.validate({"params": {name + "_x" * 12: 1}})
    assert len(str(info.value)) <= 160 and str(info.value).endswith("lists them")


def test_reset_errors_name_config_reset(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from spasmwatch.commands import config as cmd
    from spasmwatch.link.client import DeviceError

    class Refusing:  # a board that refuses the change: its reply names the wire command, `config set`
        hello_info = None  # (no hello: an ESP32's defaults)

        def config_get(self) -> dict:
            return dict(fwconfig.defaults(), status_s=30)

        def request(self, name: str, *args: object, **kw: object) -> dict:
            raise DeviceError(f"the device refused `{name}`: no room")

        def close(self) -> None:
            pass

    monkeypatch.setattr(cmd, "connect", lambda port: Refusing())
    assert cli.main(["config", "reset", "--port", "x", "--all"]) == 2
    assert one_line(capsys.readouterr().err).endswith("the device refused `config reset`: no room")
    assert cli.main(["config", "set", "--port", "x", "status_s=5"]) == 2
    assert "the device refused `config set`: no room" in one_line(capsys.readouterr().err)
