"""spasmwatch firmware app: sampling loop, one detector per channel, flash event log, serial protocol."""

import gc
from array import array

try:  # CPython (tests) imports the firmware as the spasmfw package; the board and the unix port import it flat
    from . import appcmds, codes, compat, detector, eventlog, protocol
except ImportError:
    import appcmds
    import codes
    import compat
    import detector
    import eventlog
    import protocol

FW_VERSION = "0.2.0"
CONFIG_FILE = "config.json"  # start.CONFIG_FILE
CALIB_FILE = "calib.json"
BOOT_FILE = "boot.txt"
COUNTERS = "counters"  # counters.a / counters.b: the CRC-checked copy of boot id and eseq (eventlog.Counters)
LOG_DIR = "events"
BLOCK_MS = 50  # samples handed to the detectors per loop; flash writes may stall the loop up to this long
MAX_BLOCK = 256  # samples per block at most (2000 Hz x 50 ms = 100)
SYNC_PER_LOOP = 4  # log messages sent per loop during `sync`, so a long replay never stalls sampling
ENV_BATCH = 5  # envelope values per `env` message
IDLE, SPASM, FAULT = codes.IDLE, codes.SPASM, codes.FAULT  # LED states
STATE_NAMES = ("idle", "spasm", "fault")
TICKS_MASK = 0x3FFFFFFF
RUNNING_PASSES = 100  # loop passes (~5 s) after which a boot counts as good (start.py's failure count cleared)
HEADROOM = 8192  # heap a config must leave free once booted (heapfit.HEADROOM, where the check is)


def _path(board, name):
    d = board.storage_dir
    return d + name if d.endswith("/") else d + "/" + name


def _ms(sample, rate):
    return sample * 1000 // rate if sample >= 0 else -1


class App:
    """State of the running firmware; run() is the main loop, step() one pass of it (used by tests)."""

    def __init__(self, board, cfg, err=None, params=None, dets=None, det_bytes=0, fails=None, reply=None):
        """dets: detectors start.py built for cfg on a clean heap (None: build them here), det_bytes: the heap
        one of them took, fails: start.py's boot-failure counter file, cleared once the app has run a while,
        reply: (type, fields) of a `config set` start.py applied at boot, sent after the hello."""
        self.fails = fails
        self.boot_reply = reply
        self.b = board
        self.cfg = cfg
        # what the detectors get (start.py passes them; else the config code works them out, then leaves)
        self.params = params if params is not None else compat.mod("config").detector_params(cfg)
        self.seq = 0
        self.rate = cfg["rate_hz"]
        self.nch = len(cfg["channels"])
        self.samples = 0
        self.det_base = 0
        self.det_bytes = det_bytes  # heap one detector took when built (measured, used to check new configs)
        self.cleared = False  # the calibration was cleared: the next rest floor is not held to the old one
        self.dets = dets or []
        if dets is None:
            self._make_detectors()
        else:
            self.apply_calibration()
        counters = eventlog.Counters(_path(board, COUNTERS))
        self.log = eventlog.EventLog(_path(board, LOG_DIR), max_bytes=cfg["log_kb"] * 1024, counters=counters)
        # The boot id follows the highest one anywhere on flash: the counter file, its checked copy, the log.
        self.boot = eventlog.next_boot_id(_path(board, BOOT_FILE), max(self.log.last_boot, counters.boot))
        self.log.boot_id = self.boot
        for _ in (0, 1):  # into both copies: a spoilt one alone can never lose this boot's id
            counters.write(self.boot, self.log.last_seq)
        self.block = min(MAX_BLOCK, max(1, self.rate * BLOCK_MS // 1000))
        self.bufs = [array("H", bytearray(2 * self.block)) for _ in range(self.nch)]
        self.reader = protocol.LineReader()
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
        self.cal = None  # calib.Run while `calibrate rest|mvc` runs
        self.rebuild = None  # `config set` waiting for new detectors (see _rebuild)
        self.flushed = False
        self.errors = 0
        self.net = None  # net.Net when Wi-Fi is configured (start.boot sets it)
        self.passes = 0
        gc.collect()
        self.heap_idle = board.mem_free()  # left once booted: what a config with more channels would take from
        if err:
            self.error(None, err)

    # -- setup ---------------------------------------------------------------------------------------
    def _make_detectors(self):
        cfg = self.cfg
        params = self.params
        if len(self.dets) == self.nch:
            # New parameters: set the same objects up again. Their attribute tables keep their size and place,
            # where new objects would need contiguous room a long-running heap seldom has.
            for d in self.dets:
                d.__init__(self.rate, cfg["mode"], params)
                gc.collect()
        else:
            self.dets = []
            for _ in range(self.nch):
                gc.collect()  # old detectors and set-up garbage go first: a 100 kB heap has little to spare
                free = self.b.mem_free()
                self.dets.append(detector.Detector(self.rate, cfg["mode"], params))
                gc.collect()
                self.det_bytes = max(self.det_bytes, free - self.b.mem_free())
        self.det_base = self.samples
        self.apply_calibration()

    def path(self, name):
        """A file of the board's storage."""
        return _path(self.b, name)

    def calib_path(self):
        return _path(self.b, CALIB_FILE)

    def calib_key(self):
        # the settings a calibration is valid for
        return {"mode": self.cfg["mode"], "rate_hz": self.rate, "channels": self.nch, "params": self.params}

    def apply_calibration(self):
        # A stored calibration replaces the start-up floor, but only for the same detector settings.
        try:
            with open(self.calib_path()) as f:
                cal = protocol.json.loads(f.read())
        except (OSError, ValueError):
            return
        if not isinstance(cal, dict) or cal.get("key") != self.calib_key():
            return
        for name in ("floor", "mvc"):
            vals = cal.get(name) or []
            for c in range(min(len(vals), self.nch)):
                if name == "floor":
                    self.dets[c].set_floor(vals[c])
                else:
                    self.dets[c].mvc = vals[c]

    def heap_at_boot(self):
        """What this board measured at boot, for heapfit: [heap left, one detector's heap, channels, Wi-Fi on]."""
        return [self.heap_idle, self.det_bytes, self.nch, 1 if self.cfg.get("net", {}).get("ssid") else 0]

    def memory_problem(self, new):
        """Why config `new` would not leave HEADROOM free after boot ('' if it would): heapfit.fit_problem."""
        # a few hundred bytes, loaded for the question only (and unloaded by the caller)
        return compat.mod("heapfit").fit_problem(self.heap_at_boot(), new)

    # -- output --------------------------------------------------------------------------------------
    def send(self, t, fields=None):
        try:
            data = protocol.encode_into(protocol.OUT, t, self.seq, fields)
        except protocol.ProtocolError as e:
            data = protocol.encode_into(protocol.OUT, "error", self.seq, {"cmd": None, "msg": str(e)[:120]})
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
            "mode": cfg["mode"], "scale": detector.ENV_SCALE, "config": appcmds.public(cfg),
            "machine": getattr(compat.sys.implementation, "_machine", ""),  # the chip: its pins (config.gpio)
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
        f = {
            "uptime_ms": self.uptime, "samples": self.samples, "overruns": self.b.overruns,
            "dropped": self.b.dropped, "heap_free": self.b.mem_free(), "queue": queue,
            "faults": faults, "state": STATE_NAMES[self.state()], "eseq": self.log.last_seq, "boot": self.boot,
            "lost": lost, "pops": pops,
        }
        if self.net is not None:
            self.net.add_status(f)  # wifi, rssi, mqtt, reconn
        self.send("status", f)

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
            etype, kind = r[0], r[1]
            rec = {"etype": etype, "ch": ch, "kind": kind}  # and the fields of codes.REC_FIELDS by name
            i = 2
            for name in codes.REC_FIELDS:
                v = r[i]
                rec[name] = _ms(base + v, rate) if v >= 0 and codes.REC_KINDS[i - 2] == "t" else v  # -1: none
                i += 1
            try:
                eseq = self.log.append(rec)
            except Exception as e:  # flash full or failing: keep detecting and report it
                eseq = 0
                self.error("log", "event not stored: %r" % (e,))
            t, f = protocol.event_fields(etype, ch, eseq, kind, rec)
            f["boot"] = self.boot  # a host that missed this boot's hello must not file it under the last boot
            self.send(t, f)

    def log_message(self, r):
        et = r["etype"]
        f = protocol.event_fields(et, r["ch"], r["eseq"], r["kind"], r)[1]
        f["ev"] = codes.EV_NAMES.get(et, str(et))
        f["boot"] = r["boot"]
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
            # the command table: appcmds' function of the same name (calibrate: one for all its subcommands)
            fn = getattr(appcmds, name.replace(" ", "_"), None) or getattr(appcmds, name.split(" ")[0])
            fn(self, name, args)
        except ValueError as e:  # ProtocolError included: a bad argument, named in the message
            self.error(name, e)
        except Exception as e:  # a bug in a handler must not stop sampling: report it and carry on
            self.error(name, "internal error: %r" % (e,))

    def _rebuild(self):
        # New detectors for new parameters, then the `config set` reply. Done from step() before it touches a
        # detector: the VM keeps stale references in frame slots, and a frame below this one holding an old
        # detector would keep its heap (new ones need the same contiguous room).
        name = self.rebuild
        self.rebuild = None
        restart = False
        try:
            self._make_detectors()
        except MemoryError:
            restart = True  # no room to rebuild them live: the saved config applies after a reboot
        self.ok(name, {"saved": True, "reboot": restart})
        if restart:
            self.reset()

    def _calibrating(self):
        if compat.mod("calib").step(self):  # the run ended (result kept or refused)
            compat.unload("calib")

    def stop_sync(self):
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

    # -- main loop -----------------------------------------------------------------------------------
    def env_step(self):
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
        """One pass: input, a block of samples through the detectors, then LED, sync and heartbeat."""
        b = self.b
        # Commands first, while this frame holds no detector: MicroPython frames keep stale references, and
        # `config set` may drop the detectors (and rebuild them at once) to make room for the config code.
        data = b.poll_input()
        if data:
            self.reader.feed(data)
            for line in self.reader.lines():
                self.handle(line)
        if self.rebuild:
            self._rebuild()
        n = self.block
        if self.stream_env:
            n = min(n, self.env_step())  # one envelope value per block
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
            if self.cal is not None:
                self._calibrating()
        elif not self.flushed:  # the virtual board ran out of recording: close open episodes like detect()
            self.flushed = True
            for c in range(self.nch):
                self.dets[c].flush()
                self.drain(c)
        b.led(self.state() if self.net is None else self.net.led_state(self.state()))
        b.feed_watchdog()
        now = b.ticks_ms()
        self.uptime += (now - self.last_ticks) & TICKS_MASK  # ticks_ms wraps at 2**30 on the ESP32
        self.last_ticks = now
        if self.net is not None:
            self.net.poll(self)  # Wi-Fi, TCP clients, MQTT: a step each, never waiting
        if self.sync_count >= 0:
            self._sync_step()
        period = self.status_ms
        if period and self.uptime - self.last_status >= period:
            self.last_status = self.uptime
            self.status()
        if self.passes < RUNNING_PASSES:
            self.passes += 1
            if self.passes == RUNNING_PASSES:
                self._running()

    def reset(self):
        """Restart the board on purpose: not a failed boot for start.py's count."""
        self._running()
        self.b.reset()

    def _running(self):
        # This boot got the app running: start.py's count of failed boots in a row begins again.
        if self.fails:
            try:
                with open(self.fails, "w") as f:
                    f.write("0")
            except OSError:
                pass

    def run(self):
        self.hello()
        if self.boot_reply:
            self.send(*self.boot_reply)
            self.boot_reply = None
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
