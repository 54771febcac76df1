"""The self-test's verdict: the board's figures (firmware/selftest.py) judged one check at a time, pass/warn/fail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from spasmfw.app import BLOCK_MS, HEADROOM
from spasmwatch.board.selftest_run import BoardRun

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
ORDER = {SKIP: 0, PASS: 1, WARN: 2, FAIL: 3}
ADC_MAX = 4095
RAIL = 8  # counts from 0 or full scale that are the rail (detparams rail_margin)
FLOAT_SD = 200  # counts: a pin whose readings at rest spread this much is floating (or the muscle is not at rest)
NOISY_SD = 40  # counts: a MyoWare at rest reads a few; this much is mains pickup or a loose electrode
MID_LO, MID_HI = 1024, 3072  # where the RAW output rests (half the supply reads about 2048)
ENV_REST_HI = 1024  # the ENV output at rest sits near 0; above this it is not at rest


@dataclass
class Check:
    name: str
    level: str
    reason: str


def worst(checks: list[Check]) -> str:
    return max((c.level for c in checks), key=ORDER.__getitem__, default=PASS)


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} kB"


def boot_check(run: BoardRun) -> Check:
    if run.boot_error and run.heap_boot is None:
        had = f" ({_kb(run.heap_start)} of heap free before it)" if run.heap_start is not None else ""
        return Check("boot", FAIL, f"the firmware did not boot{had}: {run.boot_error}")
    if run.boot_errors:  # start.py booted the defaults instead of the config, or the app reported a problem
        return Check("boot", FAIL, "; ".join(run.boot_errors))
    cfg = (run.result or {}).get("config", {})
    pins = cfg.get("pins", [])
    net = ", Wi-Fi configured" if cfg.get("wifi") else ""
    return Check("boot", PASS, f"{len(pins)} channel(s) on pin(s) {', '.join(map(str, pins))} at "
                               f"{cfg.get('rate_hz')} Hz, {cfg.get('mode')} mode{net}")


def heap_check(run: BoardRun) -> Check:
    if run.heap_boot is None:
        return Check("heap", SKIP, "not measured (the firmware did not boot)")
    boot = run.heap_boot
    need = f"the firmware keeps {_kb(HEADROOM)} free for sync, replies and calibration"
    if boot < HEADROOM:
        return Check("heap", FAIL, f"{_kb(boot)} free after boot: {need}; this board's heap is too small for "
                                   "this config (fewer channels, or a board with more RAM)")
    res = run.result
    if res is None:
        return Check("heap", FAIL, f"{_kb(boot)} free after boot: {run.boot_error or 'no result'}; {need}")
    after = int(res["heap_run"]) + int(res["own_bytes"])  # what the firmware alone leaves: the test's share added
    text = f"{_kb(boot)} free after boot, {_kb(after)} after {res['seconds']} s of running"
    if after < HEADROOM // 2:
        return Check("heap", FAIL, f"{text}: {need}")
    if after < HEADROOM:
        return Check("heap", WARN, f"{text}: under the {_kb(HEADROOM)} the firmware keeps free")
    return Check("heap", PASS, text)


def timing_check(res: dict[str, Any]) -> Check:
    r = res["run"]
    budget = int(res["block_us"])
    blocks, samples = int(r["blocks"]), int(r["samples"])
    if not blocks:
        return Check("timing", FAIL, "no block was read in the run: the sampling loop did not run")
    text = (f"work per {budget / 1000:g} ms block: mean {r['mean_us'] / 1000:.2f} ms, 99th percentile "
            f"{r['p99_us'] / 1000:.2f} ms, max {r['max_us'] / 1000:.2f} ms over {blocks} blocks; "
            f"{r['overruns']} overrun(s)")
    dropped, overruns = int(r["dropped"]), int(r["overruns"])
    # one overrun in a short run is a stall (or, on board-sim, this PC preempting it); many, or the usual
    # block's work over the budget, is a board that cannot keep up
    if (overruns >= 2 and overruns * 100 > blocks) or int(r["p99_us"]) > budget:
        return Check("timing", FAIL, f"{text}, {dropped} of {samples + dropped} samples skipped: the board "
                                     "cannot keep up with this rate and channel count")
    if overruns:
        where = ("a block's work took longer than the block (a flash write, Wi-Fi, a garbage collection)"
                 if int(r["max_us"]) > budget else "the longest work fits a block, so the time was lost outside "
                 "it (the ADC reads, or the interpreter paused: on board-sim, this PC's load)")
        return Check("timing", WARN, f"{text}, {dropped} samples skipped: {where}")
    if int(r["p99_us"]) * 2 > budget:
        return Check("timing", WARN, f"{text}: little margin (over half the block)")
    if r["errors"]:
        return Check("timing", WARN, f"{text}; the app reported {r['errors']} error(s) while running")
    return Check("timing", PASS, text)


def adc_check(ch: dict[str, Any], mode: str) -> Check:
    """One pin at rest: railed, floating or silent fail or warn; a plausible rest level and noise pass."""
    name = f"adc pin {ch['pin']} (ch{ch['ch']})"
    mean, sd, lo, hi = int(ch["mean"]), float(ch["sd"]), int(ch["min"]), int(ch["max"])
    text = f"mean {mean}, sd {sd:g}, range {lo}-{hi} counts over {ch['n']} samples"
    if lo >= ADC_MAX - RAIL:
        return Check(name, FAIL, f"{text}: stuck at full scale (shorted to 3.3 V, or the wrong pin)")
    if hi <= RAIL and mode == "raw":
        return Check(name, FAIL, f"{text}: stuck at 0 V (sensor unpowered, not connected, or shorted to GND)")
    if sd >= FLOAT_SD:
        return Check(name, FAIL, f"{text}: swings widely: the pin floats (sensor not connected?) or the "
                                 "muscle was not at rest")
    if lo == hi:
        return Check(name, WARN, f"{text}: no noise at all, as a pin tied to a fixed voltage reads; a sensor "
                                 "at rest shows a few counts")
    if mode == "raw" and not MID_LO <= mean <= MID_HI:
        return Check(name, WARN, f"{text}: the RAW output rests near mid-scale (about 2048); is the ENV output "
                                 "wired, or the sensor's supply low?")
    if mode == "env" and mean > ENV_REST_HI:
        return Check(name, WARN, f"{text}: high for the ENV output at rest (muscle active, or the RAW output "
                                 "wired?)")
    if sd >= NOISY_SD:
        return Check(name, WARN, f"{text}: noisy for a muscle at rest (mains pickup, a loose electrode?)")
    return Check(name, PASS, f"{text}: a plausible sensor at rest")


def log_check(log: dict[str, Any]) -> Check:
    n = int(log.get("written", 0))
    if log.get("error"):
        return Check("flash log", FAIL, f"the log check failed: {log['error']}")
    if log["read"] != n or not log["same"]:
        return Check("flash log", FAIL, f"{n} records written, {log['read']} read back "
                                        f"{'unchanged' if log['same'] else 'changed'}")
    if not log["torn_dropped"] or not log["append_after"]:
        return Check("flash log", FAIL, "a record torn by a power cut was not recovered: "
                     + ("it was not dropped at reopen" if not log["torn_dropped"] else "no append after it"))
    text = (f"{n} records written and read back, a torn record dropped at reopen and the log appended after "
            f"it; a write took {log['write_us_mean'] / 1000:.1f} ms on average, {log['write_us_max'] / 1000:.1f} "
            "ms at most")
    if int(log["write_us_max"]) > BLOCK_MS * 1000:
        return Check("flash log", WARN, f"{text}: over a {BLOCK_MS} ms block, so logging an event can skip "
                                        "samples")
    return Check("flash log", PASS, text)


def wifi_check(wifi: dict[str, Any] | None) -> Check:
    if wifi is None:
        return Check("wifi", SKIP, "not configured (no net.ssid)")
    if not wifi["up"]:
        return Check("wifi", FAIL, f"did not join {wifi['ssid']!r} in {wifi.get('attempts', '?')} attempt(s): "
                                   f"state {wifi['state']} (no_ap: not found, badpw: password refused, join: "
                                   "still joining after the wait)")
    return Check("wifi", PASS, f"joined {wifi['ssid']!r}, signal {wifi['rssi']} dBm")


def judge(run: BoardRun) -> list[Check]:
    """Every check, in the order the board ran them."""
    checks = [boot_check(run), heap_check(run)]
    res = run.result
    if res is None:
        return checks
    checks += [adc_check(ch, res["config"]["mode"]) for ch in res["adc"]]
    checks += [timing_check(res), wifi_check(res.get("wifi")), log_check(res["log"])]
    return checks


def report(port: str, run: BoardRun, checks: list[Check]) -> dict[str, Any]:
    """The --json document: verdict, checks, and the board's own figures (to attach to a bug report)."""
    return {"port": port, "verdict": worst(checks), "checks": [asdict(c) for c in checks],
            "heap_start": run.heap_start, "heap_boot": run.heap_boot, "board": run.result,
            "app_errors": run.boot_errors + run.run_errors}
