"""deploy against a fake board (no hardware): what is copied, removed, configured, reset and checked."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from fake_serial import fake_serial_device

from spasmcore.errors import ConfigError, LinkError
from spasmfw import config as fwconfig
from spasmwatch.commands import deploy as dp

MPY_6_3_XTENSAWIN = 6 | 3 << 8 | 10 << 10


class FakeBoard:
    """A MicroPython filesystem in a dict; after a reset it 'runs' the app.mpy it holds."""

    port = "/dev/ttyFAKE0"

    def __init__(self, files: dict[str, bytes] | None = None, mpy: int | None = MPY_6_3_XTENSAWIN,
                 report_fw: str | None = None, hashes: bool = True, machine: str = "") -> None:
        self.fs = dict(files if files is not None else {"boot.py": b"# executed on every boot\n"})
        self.machine = machine  # sys.implementation._machine
        self.mpy = mpy
        self.report_fw = report_fw
        self.hashes = hashes
        self.ops: list[tuple[str, ...]] = []

    def list_files(self) -> dp.BoardInfo:
        self.ops.append(("list",))
        files = {n: (len(d), dp.sha(d) if self.hashes else "") for n, d in self.fs.items()}
        return dp.BoardInfo(files, "1.29.0", self.mpy, self.machine)

    def put(self, files: dict[str, bytes]) -> None:
        self.ops.append(("put", *sorted(files)))
        self.fs.update(files)

    def remove(self, names: list[str]) -> None:
        self.ops.append(("remove", *names))
        for n in names:
            del self.fs[n]

    def reset(self) -> None:
        self.ops.append(("reset",))

    def wait_hello(self, timeout: float) -> dict | None:
        app = self.fs.get("app.mpy")
        if app is None or self.fs.get("app.py"):
            return None  # no firmware, or a stale source shadowing it
        fw = self.report_fw or (dp.expected_version() if dp.expected_version().encode() in app else "?")
        return {"t": "hello", "fw": fw, "id": "a4cf12b0c3d8", "boot": 3}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return dp.build(tmp_path_factory.mktemp("build"), "xtensawin")


def run(board: FakeBoard, local: dict[str, bytes], **kw: object) -> tuple[dp.Plan, list[str]]:
    said: list[str] = []
    plan = dp.deploy(board, local, mpy=(6, 3), march="xtensawin", say=said.append, **kw)  # type: ignore[arg-type]
    return plan, said


def test_build_compiles_modules_for_the_esp32_and_keeps_boot_and_main_source(local: dict[str, bytes]) -> None:
    assert {"app.mpy", "detector.mpy", "protocol.mpy", "config.mpy", "eventlog.mpy", "board.mpy"} <= {*local}
    assert local["main.py"].startswith(b'"""') and local["boot.py"].startswith(b'"""')
    assert not any(n.endswith(".py") and n not in dp.SOURCE_ONLY for n in local)
    for name, data in local.items():
        if name.endswith(".mpy"):
            assert data[:2] == b"M\x06", name
    # the detector has native/viper code: its header names the ESP32's Xtensa windowed ABI (arch 10)
    assert local["detector.mpy"][2] >> 2 == 10


def test_fresh_board_gets_everything_a_default_config_and_is_checked(local: dict[str, bytes]) -> None:
    board = FakeBoard()
    plan, said = run(board, local)
    assert board.ops[0] == ("list",) and board.ops[-1] == ("reset",)
    assert set(board.ops[1][1:]) == set(local) | {"config.json"}
    cfg = json.loads(board.fs["config.json"])
    assert fwconfig.validate(cfg) == cfg and cfg["id"] == ""  # the board derives its id from its MAC
    assert board.fs["boot.py"] == local["boot.py"]  # MicroPython's own boot.py replaced
    assert "firmware " + dp.expected_version() + " running" in said[-1] and "device a4cf12b0c3d8" in said[-1]


def test_second_deploy_copies_nothing_and_only_changed_files_later(local: dict[str, bytes]) -> None:
    board = FakeBoard()
    run(board, local)
    board.ops.clear()
    plan, said = run(board, local)
    assert board.ops == [("list",), ("reset",)] and not plan.put and len(plan.unchanged) == len(local)
    assert "config.json kept" in " ".join(said)
    board.fs["detector.mpy"] = b"M\x06 an older build"
    board.ops.clear()
    plan, _ = run(board, local)
    assert board.ops == [("list",), ("put", "detector.mpy"), ("list",), ("reset",)]  # listed again: hashes checked


def test_a_copy_that_did_not_arrive_whole_is_an_error_before_the_reset(local: dict[str, bytes]) -> None:
    class Truncating(FakeBoard):
        def put(self, files: dict[str, bytes]) -> None:
            super().put(files)
            self.fs["detector.mpy"] = self.fs["detector.mpy"][:4096]  # flash full, or bytes lost on the link

    board = Truncating()
    with pytest.raises(LinkError, match=r"detector\.mpy on the board \(4096 bytes\) differs"):
        run(board, local)
    assert ("reset",) not in board.ops
    class Garbling(FakeBoard):
        def put(self, files: dict[str, bytes]) -> None:
            super().put({**files, "app.mpy": bytes(len(files["app.mpy"]))})  # right size, wrong bytes

    with pytest.raises(LinkError, match=r"app\.mpy on the board"):
        run(Garbling(), local)  # the hash catches what the size does not


def test_board_without_hashlib_is_compared_by_size(local: dict[str, bytes]) -> None:
    board = FakeBoard(hashes=False)
    run(board, local)
    board.ops.clear()
    board.fs["protocol.mpy"] = b"x" * (len(local["protocol.mpy"]) + 1)
    plan, _ = run(board, local)
    assert list(plan.put) == ["protocol.mpy"]


def test_stale_source_that_would_shadow_a_compiled_module_is_removed(local: dict[str, bytes]) -> None:
    board = FakeBoard({"boot.py": b"", "app.py": b"print('old app')", "notes.txt": b"mine"})
    plan, said = run(board, local)
    assert ("remove", "app.py") in board.ops and "app.py" not in board.fs
    assert board.fs["notes.txt"] == b"mine"  # the user's own files are left alone
    assert any("remove app.py" in s for s in said)


def test_dry_run_writes_nothing(local: dict[str, bytes]) -> None:
    board = FakeBoard({"boot.py": b"", "app.py": b"old"})
    before = dict(board.fs)
    plan, said = run(board, local, dry_run=True)
    assert board.fs == before and board.ops == [("list",), ("reset",)]
    assert plan.put and plan.remove == ["app.py"]
    assert any(s.startswith("  would copy app.mpy") for s in said) and "dry run" in said[-1]
    assert not [s for s in said if " written " in s and "would be written" not in s]  # claims no write
    assert any("config.json would be written with the defaults (the board had none)" in s for s in said)


def test_config_file_is_validated_and_installed(local: dict[str, bytes], tmp_path: Path) -> None:
    good = tmp_path / "cfg.json"
    good.write_text(json.dumps({"name": "left_calf", "mains_hz": 60, "params": {"sensitivity": 4}}))
    board = FakeBoard()
    run(board, local, config=dp.load_config(str(good)))
    cfg = json.loads(board.fs["config.json"])
    assert cfg["name"] == "left_calf" and cfg["mains_hz"] == 60 and cfg["params"] == {"sensitivity": 4}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rate_hz": 5}))
    with pytest.raises(ConfigError, match="rate_hz"):
        dp.load_config(str(bad))
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        dp.load_config(str(bad))


S3 = "Generic ESP32S3 module with Octal-SPIRAM with ESP32S3"  # what MicroPython's ESP32-S3 port says


def test_an_esp32_s3_gets_the_defaults_and_the_pins_of_its_chip(local: dict[str, bytes], tmp_path: Path) -> None:
    # With the ESP32's defaults (GPIO36, LED on GPIO2) an S3 board could not set up its channel: 36 is no ADC pin
    # there. Defaults and a --config file follow the chip the board names.
    board = FakeBoard(machine=S3)
    run(board, local)
    cfg = json.loads(board.fs["config.json"])
    assert cfg["channels"] == [{"pin": 1, "name": "ch0"}] and cfg["led_pin"] is None
    assert fwconfig.defaults()["channels"][0]["pin"] == 36  # the host's own tables are the ESP32's again
    path = tmp_path / "s3.json"
    path.write_text(json.dumps({"channels": [1, 2, 4, 5], "rate_hz": 1000, "led_pin": 21}))
    assert json.loads(dp.load_config(str(path), S3))["channels"][3] == {"pin": 5, "name": "ch3"}
    with pytest.raises(ConfigError, match=r"channels\.0\.pin=1 must be an ADC1 pin: 32, 33"):
        dp.load_config(str(path))  # an ESP32 has no ADC on GPIO1
    path.write_text(json.dumps({"channels": [36]}))
    with pytest.raises(ConfigError, match=r"channels\.0\.pin=36 must be an ADC1 pin: 1, 2, 3"):
        dp.load_config(str(path), S3)


def test_incompatible_micropython_is_refused_before_writing(local: dict[str, bytes]) -> None:
    board = FakeBoard(mpy=6 | 1 << 8 | 10 << 10)  # MicroPython 1.20-1.22 era: .mpy v6.1
    with pytest.raises(ConfigError, match=r"v6\.1.*v6\.3"):
        run(board, local)
    board = FakeBoard(mpy=6 | 3 << 8 | 11 << 10)  # an ESP32-C3 (RISC-V)
    with pytest.raises(ConfigError, match="rv32imc"):
        run(board, local)
    assert board.ops == [("list",)]


def test_wrong_version_or_no_hello_after_reset_is_an_error(local: dict[str, bytes]) -> None:
    with pytest.raises(LinkError, match=r"reports firmware 0\.0\.9, expected"):
        run(FakeBoard(report_fw="0.0.9"), local)
    board = FakeBoard()
    with pytest.raises(LinkError, match="did not answer `hello`"):
        run(board, {k: v for k, v in local.items() if k != "app.mpy"} | {"app.py": b""}, hello_wait=0.1)


def completed(rc: int, out: str = "", err: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], rc, out, err)


@pytest.mark.parametrize("err, needle", [
    ("mpremote: could not enter raw repl", "MicroPython is probably not installed"),
    ("mpremote: failed to access /dev/ttyUSB0 (it may be in use by another program)", "busy"),
    ("Traceback...\nOSError: [Errno 28] ENOSPC", "ENOSPC"),
])
def test_mpremote_failures_become_one_line_link_errors(err: str, needle: str) -> None:
    target = dp.MpremoteTarget("/dev/ttyUSB0", runner=lambda *a, **k: completed(1, "", err))
    with pytest.raises(LinkError, match=needle) as exc:
        target.list_files()
    assert "\n" not in str(exc.value)


def test_mpremote_target_commands(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def runner(cmd: list[str], **kw: object) -> subprocess.CompletedProcess:
        calls.append(cmd[cmd.index("connect") + 2:])
        assert cmd[cmd.index("connect") + 1] == "/dev/ttyUSB0"
        if cmd[-2] == "exec":
            info = {"files": {"app.mpy": [3, "ab"]}, "version": "1.29.0", "mpy": MPY_6_3_XTENSAWIN}
            return completed(0, "noise\n" + dp.MARKER + json.dumps(info) + "\n")
        return completed(0)

    target = dp.MpremoteTarget("/dev/ttyUSB0", runner=runner)
    info = target.list_files()
    assert info.files == {"app.mpy": (3, "ab")} and info.mpy == MPY_6_3_XTENSAWIN and info.version == "1.29.0"
    target.put({"a.mpy": b"1", "config.json": b"{}"})
    target.remove(["app.py"])
    target.reset()
    assert calls[1][:3] == ["fs", "cp", "-f"] and calls[1][-1] == ":"
    assert [Path(p).name for p in calls[1][3:-1]] == ["a.mpy", "config.json"]
    assert calls[2:] == [["fs", "rm", ":app.py"], ["reset"]]


@pytest.mark.micropython
def test_the_listing_script_runs_on_micropython(tmp_path: Path, micropython_bin: str) -> None:
    (tmp_path / "app.mpy").write_bytes(b"M\x06abc")
    (tmp_path / "sub").mkdir()
    script = dp.LIST_SCRIPT.replace("'/'", repr(str(tmp_path) + "/"))
    out = subprocess.run([micropython_bin, "-c", script], capture_output=True, text=True, check=True).stdout
    data = json.loads(out.split(dp.MARKER, 1)[1])
    assert data["files"] == {"app.mpy": [5, dp.sha(b"M\x06abc")]}  # directories skipped
    assert data["mpy"] & 0xFF == 6 and data["version"].count(".") == 2


def test_raw_repl_probe_accepts_micropython_and_explains_other_devices() -> None:
    got: list[bytes] = []

    def repl(data: bytes) -> bytes | None:
        got.append(data)
        return b"raw REPL; CTRL-B to exit\r\n>" if b"\x01" in data else b"NameError\r\n>>> "

    port, close = fake_serial_device(repl)
    try:
        dp.probe_raw_repl(port, timeout=10)  # returns at the banner; 10 s only bounds a loaded machine
        end = time.monotonic() + 10
        while b"\x02" not in b"".join(got) and time.monotonic() < end:  # the fake board may not have read
            time.sleep(0.01)  # the last byte yet (it runs in a thread, and a busy machine delays it)
    finally:
        close()
    sent = b"".join(got)
    assert sent.index(b"\x03\x03") < sent.index(b"\x01") < sent.index(b"\x02")  # stop app, raw REPL, back
    port, close = fake_serial_device(lambda data: b"\x00garbage\r\n")
    try:
        with pytest.raises(LinkError, match="MicroPython is probably not installed"):
            dp.probe_raw_repl(port, timeout=0.5)
    finally:
        close()


@pytest.mark.micropython
def test_deploy_to_a_virtual_device_says_there_is_no_repl(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    from signals import emg

    from spasmcore.recording import write_recording
    from spasmsim.device import VirtualDevice
    from spasmwatch import cli

    write_recording(tmp_path / "r.csv", 1000, [emg(5, 1000, [])], units="counts", mode="raw")
    with VirtualDevice(tmp_path / "r.csv", loop=True) as dev:
        assert cli.main(["deploy", "--port", dev.port, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "speaks the spasmwatch protocol but does not stop for Ctrl-C" in err and err.count("\n") == 1
