"""spasmwatch firmware app: sampling loop, one detector per channel, flash event log, serial protocol."""

import gc
from array import array

try:  # CPython (tests) imports the firmware as the spasmfw package; the board and the unix port import it flat
    from . import config, detector, eventlog, protocol
except ImportError:
    import config
    import detector
    import eventlog
    import protocol

FW_VERSION = "0.1.0"
CONFIG_FILE = "config.json"
CALIB_FILE = "calib.json"
BOOT_FILE = "boot.txt"
LOG_DIR = "events"
BLOCK_MS = 50  # samples handed to the detectors per loop; flash writes may stall the loop up to this long
MAX_BLOCK = 256  # samples per block at most (2000 Hz x 50 ms = 100)
SYNC_PER_LOOP = 4  # log messages sent per loop during `sync`, so a long replay never stalls sampling
ENV_BATCH = 5  # envelope values per `env` message
IDLE, SPASM, FAULT = 0, 1, 2  # LED states (board.IDLE/SPASM/FAULT)
STATE_NAMES = ("idle", "spasm", "fault")
EV_NAMES = {1: "onset", 2: "end", 3: "fault", 4: "fault"}
TICKS_MASK = 0x3FFFFFFF


def _path(board, name):
    d = board.storage_dir
    return d + name if d.endswith("/") else d + "/" + name


def _ms(sample, rate):
    return sample * 1000 // rate if sample >= 0 else -1


class App:
    """State of the running firmware; run() is the main loop, step() one pass of it (used by tests)."""

    def __init__(self, board, cfg, err=None):
        self.b = board
        self.cfg = cfg
        self.seq = 0
        self.boot = eventlog.next_boot_id(_path(board, BOOT_FILE))
        self.log = eventlog.EventLog(_path(board, LOG_DIR), max_bytes=cfg["log_kb"] * 1024, ram=4,
                                     boot=self.boot)
        self.rate = cfg["rate_hz"]
        self.nch = len(cfg["channels"])
        self.block = min(MAX_BLOCK, max(1, self.rate * BLOCK_MS // 1000))
        self.bufs = [array("H", bytearray(2 * self.block)) for _ in range(self.nch)]
        self.reader = protocol.LineReader()
        self.samples = 0
        self.uptime = 0
        self.last_ticks = board.ticks_ms()
        self.last_status = 0
        self.status_ms = int(cfg["status_s"] * 1000)
        self.stream_env = cfg["stream"]["env"]
        self.stream_raw = cfg["stream"]["raw"]
        self.env_vals = [[] for _ in range(self.nch)]
        self.env_n = 0
        self.sync_gen = iter(())  # records still to send for `sync`
        self.sync_count = -1  # records sent so far; -1 = no sync running
        self.sync_at = 0  # eseq of the last record sent by the running sync
        self.cal_name = ""  # "calibrate rest" | "calibrate mvc" while calibrating
        self.cal_s = 0
        self.flushed = False
        self.errors = 0
        self.dets = []
        self.det_base = 0
        self._make_detectors()
        if err:
            self.error(None, err)

    # -- setup ---------------------------------------------------------------------------------------
    def _make_detectors(self):
        cfg = self.cfg
        params = config.detector_params(cfg)
        self.dets = []
        for _ in range(self.nch):
            gc.collect()  # old detectors and set-up garbage go first: a 100 kB heap has little to spare
            self.dets.append(detector.Detector(self.rate, cfg["mode"], params))
        self.det_base = self.samples
        self._load_calibration(params)

    def _calib_key(self, params):
        return {"mode": self.cfg["mode"], "rate_hz": self.rate, "channels": self.nch, "params": params}

    def _load_calibration(self, params):
        # A stored rest floor replaces the start-up calibration, but only for the same detector settings.
        try:
            with open(_path(self.b, CALIB_FILE)) as f:
                cal = protocol.json.loads(f.read())
        except (OSError, ValueError):
            return
        if cal.get("key") != self._calib_key(params):
            return
        floors = cal.get("floor") or []
        for c in range(min(len(floors), self.nch)):
            self.dets[c].set_floor(floors[c])

    def _save_calibration(self):
        data = {"key": self._calib_key(config.detector_params(self.cfg)), "floor": [d.floor for d in self.dets],
                "mvc": [d.mvc for d in self.dets]}
        with open(_path(self.b, CALIB_FILE), "w") as f:
            f.write(protocol.json.dumps(data))

    # -- output --------------------------------------------------------------------------------------
    def send(self, t, fields=None):
        try:
            data = protocol.encode(t, self.seq, fields)
        except protocol.ProtocolError as e:
            data = protocol.encode("error", self.seq, {"cmd": None, "msg": str(e)[:120]})
        self.seq += 1  # seq of the next message: 0 is the boot hello
        self.b.write(data)

    def error(self, cmd, msg):
        self.errors += 1
        self.send("error", {"cmd": cmd, "msg": str(msg)[:160]})

    def ok(self, cmd, data=None):
        self.send("ok", {"cmd": cmd, "data": data} if data is not None else {"cmd": cmd})

    def hello(self):
        cfg = self.cfg
        self.send("hello", {
            "proto": protocol.VERSION, "fw": FW_VERSION, "id": cfg["id"] or self.b.unique_id, "boot": self.boot,
            "name": cfg["name"], "rate": self.rate, "channels": [c["name"] for c in cfg["channels"]],
            "mode": cfg["mode"], "scale": detector.ENV_SCALE, "config": cfg,
        })

    def status(self):
        gc.collect()  # report the heap left after garbage is freed: flat over hours means no leak
        queue = self.log.last_seq - self.sync_at if self.sync_count >= 0 else 0  # records `sync` has yet to send
        faults = lost = pops = 0
        for d in self.dets:
            if d.fault:
                faults += 1
            lost += d.dropped  # records the detector's queue overwrote before the app drained it
            pops += d.artefacts  # bursts rejected as electrode pops
        self.send("status", {
            "uptime_ms": self.uptime, "samples": self.samples, "overruns": self.b.overruns,
            "dropped": self.b.dropped, "heap_free": self.b.mem_free(), "queue": queue,
            "faults": faults, "state": STATE_NAMES[self.state()], "eseq": self.log.last_seq, "boot": self.boot,
            "lost": lost, "pops": pops,
        })

    def state(self):
        s = IDLE
        for d in self.dets:
            if d.fault:
                return FAULT
            if d.state:
                s = SPASM
        return s

    # -- detector records ----------------------------------------------------------------------------
    def drain(self, ch):
        """Turn the records waiting in one detector into a log entry and a message each."""
        det = self.dets[ch]
        rate = self.rate
        base = self.det_base
        while True:
            r = det.pop()
            if r is None:
                return
            etype, kind, onset, offset, detected, peak, mean, floor = r
            onset_ms = _ms(base + onset, rate)
            offset_ms = _ms(base + offset, rate) if offset >= 0 else -1
            det_ms = _ms(base + detected, rate)
            try:
                eseq = self.log.append((etype, ch, kind, onset_ms, offset_ms, det_ms, peak, mean, floor))
            except Exception as e:  # flash full or failing: keep detecting and report it
                eseq = 0
                self.error("log", "event not stored: %r" % (e,))
            if etype == detector.EV_ONSET:
                self.send("onset", {"ch": ch, "eseq": eseq, "onset_ms": onset_ms, "detected_ms": det_ms})
            elif etype == detector.EV_END:
                self.send("end", {
                    "ch": ch, "eseq": eseq, "kind": protocol.KINDS.get(kind, str(kind)), "onset_ms": onset_ms,
                    "offset_ms": offset_ms, "detected_ms": det_ms, "duration_ms": offset_ms - onset_ms,
                    "peak": peak, "mean": mean, "floor": floor})
            else:
                start = etype == detector.EV_FAULT_START
                self.send("fault", {
                    "ch": ch, "eseq": eseq, "state": "start" if start else "end",
                    "detail": protocol.FAULTS.get(kind, str(kind)), "start_ms": onset_ms,
                    "end_ms": -1 if start else offset_ms})

    def log_message(self, r):
        et = r["etype"]
        f = {"ev": EV_NAMES.get(et, str(et)), "boot": r["boot"], "ch": r["ch"], "eseq": r["eseq"]}
        if et == detector.EV_ONSET:
            f["onset_ms"] = r["onset_ms"]
            f["detected_ms"] = r["detected_ms"]
        elif et == detector.EV_END:
            f["kind"] = protocol.KINDS.get(r["kind"], str(r["kind"]))
            for k in ("onset_ms", "offset_ms", "detected_ms", "peak", "mean", "floor"):
                f[k] = r[k]
            f["duration_ms"] = r["offset_ms"] - r["onset_ms"]
        else:
            f["state"] = "start" if et == detector.EV_FAULT_START else "end"
            f["detail"] = protocol.FAULTS.get(r["kind"], str(r["kind"]))
            f["start_ms"] = r["onset_ms"]
            f["end_ms"] = r["offset_ms"]
        self.send("log", f)

    # -- commands ------------------------------------------------------------------------------------
    def handle(self, line):
        if isinstance(line, tuple):  # LineReader: ("error", message) for an over-long or binary line
            self.error(None, line[1])
            return
        name = None
        gc.collect()  # commands are rare; a clean heap gives their replies (config, sync) room
        try:
            name, args = protocol.parse_command(line)
            getattr(self, "cmd_" + name.replace(" ", "_"))(name, args)
        except protocol.ProtocolError as e:
            self.error(name, e)
        except ValueError as e:
            self.error(name, e)
        except Exception as e:  # a bug in a handler must not stop sampling: report it and carry on
            self.error(name, "internal error: %r" % (e,))

    def cmd_hello(self, name, args):
        self.hello()

    def cmd_ping(self, name, args):
        self.ok(name)

    def cmd_status(self, name, args):
        self.status()

    def cmd_help(self, name, args):
        # One ok line per command: readable in a terminal, still one JSON message per line for programs.
        for k in sorted(protocol.COMMANDS):  # sorted: MicroPython dicts have no stable order
            self.send("ok", {"cmd": "help", "data": protocol.COMMANDS[k]})
        self.ok(name, "end of help")

    def cmd_config_get(self, name, args):
        self.ok(name, self.cfg)

    def cmd_config_set(self, name, args):
        new = config.set_values(self.cfg, args)  # ValueError names the bad key and its range
        config.save(_path(self.b, CONFIG_FILE), new)
        old = self.cfg
        self.cfg = new
        restart = False
        for k in ("channels", "rate_hz", "mode", "led_pin", "buzzer_pin", "watchdog", "log_kb"):
            if new[k] != old[k]:
                restart = True  # pins, sampling and flash layout are set up at boot
        if not restart and (new["params"] != old["params"] or new["mains_hz"] != old["mains_hz"]):
            try:
                self._make_detectors()
            except MemoryError:
                restart = True  # no room to rebuild them live: the saved config applies after a reboot
        self.status_ms = int(new["status_s"] * 1000)
        if new["stream"] != old["stream"]:
            self.stream_env = new["stream"]["env"]
            self.stream_raw = new["stream"]["raw"]
        self.ok(name, {"saved": True, "reboot": restart})
        if restart:
            self.b.reset()

    def _calibrate(self, name, seconds, mvc):
        ms = int(seconds * 1000)
        for d in self.dets:
            if mvc:
                d.calibrate_mvc(ms)
            else:
                d.calibrate_rest(ms)
        self.cal_name = name
        self.cal_s = seconds
        self.ok(name, {"state": "started", "seconds": seconds})

    def cmd_calibrate_rest(self, name, args):
        self._calibrate(name, args[0], False)

    def cmd_calibrate_mvc(self, name, args):
        self._calibrate(name, args[0], True)

    def _check_calibration(self):
        name = self.cal_name
        mvc = name == "calibrate mvc"
        for d in self.dets:
            if (d.mvc_left if mvc else d.cal_left) > 0:
                return
        self.cal_name = ""
        data = {"state": "done", "seconds": self.cal_s}
        if mvc:
            data["mvc"] = [d.mvc for d in self.dets]
        else:
            data["floor"] = [d.floor for d in self.dets]
        try:
            self._save_calibration()
        except OSError as e:
            self.error(name, "calibration not saved: %r" % (e,))
        self.ok(name, data)

    def cmd_stream_env(self, name, args):
        self.stream_env = args[0]
        self.env_vals = [[] for _ in range(self.nch)]
        self.ok(name, {"on": args[0], "hz": self.rate // self._env_step()})

    def cmd_stream_raw(self, name, args):
        self.stream_raw = args[0]
        self.ok(name, {"on": args[0]})

    def cmd_sync(self, name, args):
        self._stop_sync()
        self.sync_gen = self.log.since(args[0])
        self.sync_count = 0
        self.sync_at = args[0]

    def _stop_sync(self):
        close = getattr(self.sync_gen, "close", None)
        if close is not None:
            close()  # releases the segment file the generator holds open
        self.sync_count = -1

    def _sync_step(self):
        for _ in range(SYNC_PER_LOOP):
            try:
                r = next(self.sync_gen)
            except StopIteration:
                self.ok("sync", {"count": self.sync_count, "last": self.log.last_seq})
                self.sync_count = -1
                return
            self.log_message(r)
            self.sync_count += 1
            self.sync_at = r["eseq"]

    def cmd_log_clear(self, name, args):
        self._stop_sync()  # a sync in progress would read files being removed
        self.log.clear()
        self.ok(name, {"eseq": self.log.last_seq})

    def cmd_reboot(self, name, args):
        self.ok(name)
        self.b.reset()

    # -- main loop -----------------------------------------------------------------------------------
    def _env_step(self):
        return max(1, self.rate // self.cfg["stream"]["env_hz"])

    def _streams(self, n):
        if self.stream_raw:
            for c in range(self.nch):
                self.send("raw", {"ch": c, "n": self.samples - n, "values": list(self.bufs[c][:n])})
        if self.stream_env:
            if not self.env_vals[0]:
                self.env_n = self.samples  # value i of a batch is the envelope after n + i * step samples
            for c in range(self.nch):
                vals = self.env_vals[c]
                vals.append(self.dets[c].env)
                if len(vals) >= ENV_BATCH:
                    lv = self.dets[c].level()
                    self.send("env", {"ch": c, "n": self.env_n, "values": vals, "floor": lv[1], "on": lv[2],
                                      "off": lv[3]})
                    self.env_vals[c] = []

    def step(self):
        """One pass: a block of samples through the detectors, then LED, input, sync and heartbeat."""
        b = self.b
        n = self.block
        if self.stream_env:
            n = min(n, self._env_step())  # one envelope value per block
        got = b.read_block(self.bufs, n)
        if got:
            pending = 0
            for c in range(self.nch):
                if self.dets[c].process(self.bufs[c], got):
                    pending += 1
            self.samples += got
            if pending:
                for c in range(self.nch):
                    self.drain(c)
            if self.stream_raw or self.stream_env:
                self._streams(got)
        elif not self.flushed:  # the virtual board ran out of recording: close open episodes like detect()
            self.flushed = True
            for c in range(self.nch):
                self.dets[c].flush()
                self.drain(c)
        b.led(self.state())
        b.feed_watchdog()
        now = b.ticks_ms()
        self.uptime += (now - self.last_ticks) & TICKS_MASK  # ticks_ms wraps at 2**30 on the ESP32
        self.last_ticks = now
        data = b.poll_input()
        if data:
            self.reader.feed(data)
            for line in self.reader.lines():
                self.handle(line)
        if self.sync_count >= 0:
            self._sync_step()
        if self.cal_name:
            self._check_calibration()
        period = self.status_ms
        if period and self.uptime - self.last_status >= period:
            self.last_status = self.uptime
            self.status()

    def run(self):
        self.hello()
        while True:
            try:
                self.step()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as e:  # never let one bad pass stop the device: report and keep sampling
                try:
                    self.error(None, "loop: %r" % (e,))
                except Exception:
                    pass


def main(board_mod):
    """Boot: load config (bad config -> defaults and an error report), set up the board, run forever."""
    gc.collect()
    path = board_mod.STORAGE_DIR.rstrip("/") + "/" + CONFIG_FILE
    uid = board_mod.unique_id()
    cfg, err = config.load(path, uid)
    try:
        board = board_mod.Board(cfg)
    except Exception as e:  # e.g. a pin the hardware refuses: fall back to the default wiring
        err = "board setup failed with this config (%r); using defaults" % (e,)
        cfg = config.defaults(uid)
        board = board_mod.Board(cfg)
    gc.collect()
    App(board, cfg, err).run()
