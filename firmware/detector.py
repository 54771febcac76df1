"""Streaming spasm detector: one channel's decisions on the integer chain; one source for ESP32, unix, CPython.

The jobs live in modules of their own (see docs/detector.md): codes (record codes and names), detparams
(parameters and validation), detchain (the per-sample viper chain and its slots), detbeats (heartbeat gate),
detepisode (runs and episodes); this module holds the Detector and re-exports what its users name as
`detector.X`, so they need import only this module.
"""

from array import array

try:  # CPython, the spasmfw package: what users name as detector.X is re-exported, so they import this module only
    from . import codes, detbeats, detchain, detepisode, detrest
    from .compat import const, micropython
    from .codes import EV_END, EV_FAULT_END, EV_FAULT_START, EV_ONSET, FAULT_FLAT, FAULT_NAMES, FAULT_RAIL  # noqa: F401
    from .codes import KIND_CLONUS, KIND_NAMES, KIND_TONIC, KIND_TWITCH  # noqa: F401
    from .detbeats import BEAT_LOCK
    from .detchain import COEF_BITS, ENV_SCALE, FLOOR_BITS, LO_INIT, S_DEV, S_ENV, S_FLOOR, S_IDLE, S_NT  # noqa: F401
    from .detchain import S_TAIL, S_TICK, S_TREND, TK_W, TOUCH_DEAD, chain
    from .detparams import ECG_MODES, PARAMS, filters, validate  # noqa: F401
except ImportError:  # the board and the unix port (flat modules): only the names used here or by the firmware as
    # detector.X (ENV_SCALE, PARAMS, validate), as every module global costs heap
    import codes  # (codes.X on faults only)
    import detbeats
    import detchain
    import detepisode
    import detrest
    from compat import const, micropython
    from detbeats import BEAT_LOCK
    from detchain import ENV_SCALE, FLOOR_BITS, LO_INIT, S_DEV, S_ENV, S_FLOOR, S_IDLE, S_NT, S_TAIL, S_TICK, S_TREND
    from detchain import TK_W, TOUCH_DEAD, chain
    from detparams import PARAMS, filters, validate  # noqa: F401

_TICK_HZ = const(100)  # decisions run on ~10 ms ticks; only the filter chain runs per sample
_REC_LEN = const(8)  # ints per queued record, the fields pop() returns
_QUEUE_LEN = const(16)


class Detector:
    """One channel: feed blocks of ADC counts with process(); read decided records with pop()."""

    # The decisions kept in modules of their own are bound here as methods: a call then costs one lookup in
    # this class, as for a method written here (a mixin base class would be searched after it, on every call).
    _beat_due = detbeats._beat_due
    _bump = detbeats._bump
    _beat = detbeats._beat
    _start_run = detepisode._start_run
    _run_quiet = detepisode._run_quiet
    _run_tick = detepisode._run_tick
    _onset = detepisode._onset
    _start_episode = detepisode._start_episode
    _collect = detepisode._collect
    _in_episode = detepisode._in_episode
    _rhythm = detepisode._rhythm
    _end_episode = detepisode._end_episode
    calibrate_rest = detrest.calibrate_rest
    _cal_start = detrest._cal_start
    set_floor = detrest.set_floor
    _thresholds = detrest._thresholds
    _learn = detrest._learn
    _rewarm = detrest._rewarm
    _calibrate = detrest._calibrate
    _held = detrest._held

    def __init__(self, rate_hz, mode="raw", params=None):
        p = validate(params, mode, rate_hz)
        self.rate_hz = rate_hz
        self.mode = mode
        self.params = p
        self.raw = mode == "raw"
        self.tick_samples = max(1, int(rate_hz / _TICK_HZ + 0.5))
        self.tick_hz = rate_hz / self.tick_samples
        self._timing(p)
        # levels, in counts x ENV_SCALE: the rest model (floor = mean rest envelope, dev = its spread) and the
        # thresholds above the floor as x16 multiples of the spread, the onset's from the false-alarm target
        window = max(self.min_on, self.min_dur >> 2, 1)
        self.on_q = int(detrest.onset_sd(p["sensitivity"], self.tick_hz, window) * 16 + 0.5)
        self.off_q = int(p["off_sd"] * detrest.SD_PER_DEV * 16 + 0.5)
        self.min_floor = max(1, int(p["min_floor"] * ENV_SCALE + 0.5))
        # The least spread: a uniform +-1/2 count quantisation error (mean deviation 1/4 count). An envelope
        # input can rest in the ADC's dead zone (an ESP32 reads 0 below ~0.1 V), which hides the converter's own
        # noise of about a count: there the spread is never taken below one count.
        self.dev_min = ENV_SCALE >> 2 if self.raw else ENV_SCALE
        self.dev_acc = 0
        self.tail_acc = 0
        self.trend_acc = 0
        self.run_tail = 0
        self.on_thr = 0
        self.off_thr = 0
        self.flat_min = int(p["flat_min"] * ENV_SCALE + 0.5)
        self.rail_hi = int(p["adc_max"]) - int(p["rail_margin"])
        self.rail_lo = int(p["rail_margin"]) if self.raw else -1  # an envelope resting at 0 is not a fault
        # filter chain, all integer: (flags, Q12 coefficients, shifts) packed for the per-sample loop
        hp, lp, mains, self.notes = filters(p, mode, rate_hz)
        self.env_track = 0 if self.raw else int(p["env_track"])
        self.coef = detchain.coefficients(self, p, hp, lp, mains)
        self.env_offset = int(p["env_offset"])
        self.st, self.tk = detchain.state()  # the chain's state slots and tick summaries (see detchain)
        self.q = array("i", bytes(4 * _REC_LEN * _QUEUE_LEN))  # records waiting for pop()
        self.q_head = 0
        self.q_len = 0
        self.dropped = 0
        self.tick = 0
        self.started = False
        self.env = 0
        self.floor_acc = 0
        self.mvc = 0
        self.calibrate_rest(p["calib_ms"])
        self.recal = self.cal_total  # ticks of the rest calibration after a fault
        self.mvc_left = 0
        self.state = 0  # 0 idle, 1 in episode
        self.fault = 0  # 0 none, else FAULT_FLAT / FAULT_RAIL
        self.blank = 0
        self._reset_episode()
        self.on_ticks = 0
        self.run_on = -1  # the run's first tick above the onset threshold
        self.fault_start = 0
        self.clear_run = 0
        self.hold_thr = 0  # the level that ended the last episode, and its tick (see _tick)
        self.hold_t = 0
        self.hold_w = 2 * self.min_off
        self.warm = self.up_shift  # the rest model's warm-up after a calibration (see detrest._learn)
        self.warm_n = 0

    def _timing(self, p):
        # Durations in ticks, the time constants of the one-pole filters as shifts, and the heartbeat gate.
        tick_hz = self.tick_hz
        ticks = lambda ms: max(0, int(ms * tick_hz / 1000 + 0.5))
        self.min_on = ticks(p["min_on_ms"])
        self.min_dur = ticks(p["min_dur_ms"])
        self.min_off = max(1, ticks(p["min_off_ms"]))
        self.twitch = ticks(p["twitch_ms"])
        self.max_ep = ticks(p["max_episode_s"] * 1000)
        # a disabled check never reaches its run length (LO_INIT ticks would be 124 days)
        self.flat_ticks = ticks(p["flat_ms"]) or LO_INIT
        self.rail_ticks = ticks(p["rail_ms"]) or LO_INIT
        self.blank_ticks = ticks(p["blank_ms"])
        self.spike_ticks = ticks(p["spike_ms"])
        self.flat_lag = ticks(200)
        self.relearn = ticks(p["relearn_s"] * 1000) or LO_INIT
        self.artefacts = 0  # bursts rejected as electrode pops
        self.run = -1  # first tick of a run above the offset threshold, or -1
        self.touched = 0
        self.one_sided = 0
        self.gap = 0
        self.lone = 0
        # clonus: burst period 3-8 Hz, with some slack for jitter (in ticks)
        self.cl_min = max(1, int(tick_hz / 9))
        self.cl_max = int(tick_hz / 2.5 + 0.5)
        self.up_shift = detchain.shift(p["floor_up_s"] * tick_hz)
        self.down_shift = detchain.shift(p["floor_down_s"] * tick_hz)
        self.slow_shift = detchain.shift(0.15 * tick_hz)  # ~150 ms mean level for the clonus rhythm test
        # (an envelope input is smooth already: averaging it again would flatten the 3-8 Hz swings themselves)
        # the rhythm signal averages ~16 samples, in ticks to the nearest power of two (not the next: at 250 Hz
        # 8 ticks were 24 samples, 96 ms, and flattened the 3-8 Hz swings of clonus)
        self.rh_shift = detchain.shift(16 / 1.4142 / self.tick_samples) if self.raw else 0
        self.fast = 0
        self.rh_sig = 0  # the rhythm signal: the rectified tick mean x2, smoothed over ~16 samples
        # heartbeat gate: a run starting where the learnt rhythm predicts a beat must outlast a beat bump
        self.ecg = int(p["ecg"])
        self.beat_w = max(1, ticks(p["beat_ms"]))
        self.rr_min = ticks(400)  # 150 bpm: above it, clonus bursts (3-8 Hz) and T waves would pass for beats
        self.rr_max = ticks(2000)  # 40 bpm: slower regular bumps are repeated movements (a grasp every 3-4 s)
        self.rr_stale = ticks(15000)  # a rhythm unseen this long is gone (after an episode: searched again)
        self.rr = 0  # learnt beat interval in ticks, 0 unknown
        self.last_beat = -1
        self.beats = 0  # regular beats in a row (capped): the rhythm is locked at BEAT_LOCK
        self.confirmed = 0  # the current rhythm has been locked once (since it was last started)
        self.beat_run = 0  # the current run started where a beat was due
        self.bump = -1  # first tick of a narrow bump that may be a heartbeat, or -1
        self.bump_peak = 0
        self.beat_amp = 0  # running mean peak of the beats
        self.young = ticks(3000)  # the first seconds of an episode, where beats may still be learnt
        self.search = ticks(6000)  # after calibration, the time the rhythm has to show (4 beats at 40 bpm)
        self.search_end = 0
        self.search_start = 0  # the search gates every run until a beat is seen after it began

    def _reset_episode(self):
        # The state of one run or episode (the decisions on it are in detepisode).
        self.onset = 0
        self.peak = 0
        self.tail_ref = 0  # the peak forgotten at the floor's rise rate: what the 7/8 fall is measured from
        self.fpeak = 0
        self.farea = 0  # sum of the 10 ms means above the floor: with fpeak, the run's width (detepisode._onset)
        self.wide = 0  # ticks at or above half the peak: a pop is a spike of one to three ticks
        self.spike = 0
        self.mean_acc = 0
        self.n_ep = 0
        self.quiet = -1
        self.blip = -1  # first tick of a narrow bump in a quiet stretch (see detepisode.in_episode)
        self.last_blip = -1024  # first tick of the last such bump taken for a heartbeat
        self.slow = 0
        self.hi_state = 0
        self.last_up = -1
        self.cl_good = 0
        self.cl_bad = 0
        self.ep_floor = 0

    # ---- calibration -------------------------------------------------------------------------------

    def calibrate_mvc(self, ms):
        """Record the peak envelope of the next ms (a maximal voluntary contraction) as the %MVC reference."""
        self.mvc = 0
        self.mvc_left = max(1, int(ms * self.tick_hz / 1000 + 0.5))

    def __getattr__(self, name):
        # `floor` (counts x ENV_SCALE) is computed when read. Not a @property: a class with one makes MicroPython
        # look the class up for a setter on every attribute store, which cost ~12 % of the per-sample time.
        if name == "floor":
            return max(self.min_floor, self.floor_acc >> FLOOR_BITS)
        raise AttributeError(name)

    def level(self):
        """(envelope, floor, on threshold, off threshold, state) in counts x ENV_SCALE, for live views."""
        f = self._thresholds()
        return (self.env, f, self.on_thr, self.off_thr, 3 if self.fault else (2 if self.cal_left else self.state))

    # ---- per-sample chain --------------------------------------------------------------------------

    def process(self, buf, n):
        """Run n samples of buf (unsigned 16-bit counts) through the detector; returns the records waiting."""
        if n <= 0:
            return self.q_len
        st = self.st
        if not self.started:
            self.started = True
            # DC reference: no start-up step in the filters; a tracked envelope starts from its first sample
            detchain.start(st, buf[0], buf[0] if self.raw or self.env_track else self.env_offset)
        tk = self.tk
        i = 0
        while i < n:
            st[S_IDLE] = -1 if self.fault else 0 if (self.state or self.run >= 0 or self.blank or self.cal_left
                                                     or self.mvc_left or self.bump != -1
                                                     or self.warm < self.up_shift) else 1
            st[S_FLOOR] = self.floor_acc
            st[S_DEV] = self.dev_acc
            st[S_TAIL] = self.tail_acc
            st[S_TREND] = self.trend_acc
            st[S_TICK] = self.tick
            i = chain(buf, i, n, st, self.coef, tk)
            self.floor_acc = st[S_FLOOR]
            self.dev_acc = st[S_DEV]
            self.tail_acc = st[S_TAIL]
            self.trend_acc = st[S_TREND]
            self.tick = st[S_TICK]
            self.env = st[S_ENV]
            j = 0
            end = st[S_NT] * TK_W
            while j < end:  # each tick summary, its TK_W slots in order (detchain _T_*), is one _tick call
                self._tick(tk[j], tk[j + 1], tk[j + 2], tk[j + 3], tk[j + 4], tk[j + 5], tk[j + 6], tk[j + 7])
                j += TK_W
        return self.q_len

    # ---- per-tick decisions ------------------------------------------------------------------------

    @micropython.native
    def _tick(self, acc, rail_run, flat_run, racc, elp, touch, ms_all, base):
        e = acc // self.tick_samples
        self.fast = racc // self.tick_samples
        t = self.tick
        self.tick = t + 1
        self.env = e
        if not self.state and detepisode._rest(self, e, rail_run, flat_run, elp, touch, ms_all):
            return
        if self.fault or rail_run >= self.rail_ticks or flat_run >= self.flat_ticks:
            self._faults(t, elp, rail_run, flat_run, touch & TOUCH_DEAD)
        if self.fault or self.blank:
            if self.blank:
                self.blank -= 1
                if not self.blank:  # after a lead-off the contact may differ: re-learn rest, as at power-up
                    self._cal_start(self.recal)
            self.run = -1
            self.bump = -1
            return
        f = self._thresholds()
        if self.ecg and (not self.state or t - self.onset <= self.beat_w or (
                self.beats < BEAT_LOCK and self.quiet >= 0 and t - self.onset <= self.young and not self.raw)):
            # In an episode, candidates only at its start, or (env mode, smoothing widens beats) in the quiet of its
            # first seconds while no rhythm is known; later (and in raw mode) EMG bursts would pass for beats.
            self._bump(t, e, ms_all >> 5)
        if self.cal_left:
            # A tracked envelope baseline is still falling to the rest minimum while calibrating: measure the
            # envelope against the baseline the calibration ends with.
            self._calibrate(e + (base << 4) if self.env_track else e, base << 4 if self.env_track else 0)
            self.run = -1
            return
        if self.mvc_left:
            self.mvc_left -= 1
            if e > self.mvc:
                self.mvc = e
        off = self.off_thr
        on = self.on_thr
        ms = ms_all >> 5  # the lowest ~300 ms mean of the last ~5 s (LO_INIT >> 5 while still unknown)
        if self.state == 0:
            if ms_all >> 4 < self.floor_acc >> FLOOR_BITS:
                # A floor above twice the lowest rest level of the last 5 s was seeded or learnt on activity
                # (or the electrode settled): re-learn it now rather than over the floor's 10 s time constant.
                self.floor_acc = (ms + (ms_all >> 8)) << FLOOR_BITS
                self.trend_acc = 0
                f = self._thresholds()
                off = self.off_thr
                on = self.on_thr
            if rail_run and (self.raw or self.run < 0 or self.on_ticks < 2):
                # A jump onto a rail is a fault in the making, never a spasm onset. An envelope that rose
                # through the range above the onset threshold first (two ticks or more) is a spasm under way
                # that saturates; a lead-off or a pop pins the envelope from rest within a tick.
                return
            if self.run < 0:
                if e <= off:
                    self._learn(e, f)  # the rest model follows rest only: spasms never pull it up
                    return
                self._start_run(t)
            elif off < ms < LO_INIT >> 5 and self.relearn < LO_INIT and not (
                    self.beats >= BEAT_LOCK and t - self.last_beat <= self.rr_stale):
                # No ~300 ms stretch of the last 5 s came back below the offset threshold, yet nothing rose
                # to an onset: the rest level itself stepped up (electrode shift, ECG, posture). Re-learn it.
                self.floor_acc = (ms + (ms_all >> 8)) << FLOOR_BITS
                self.run = -1
                self._rewarm()  # and its spread is measured anew
                return
            if e <= off:
                self._run_quiet(t, e, f)
                return
            self._run_tick(t, e, f, on, touch)
            return
        self._in_episode(t, e, off, ms, f)

    def _faults(self, t, elp, rail_run, flat_run, dead):
        # Runs are counted per tick in chain(); here they start and end fault records. A flat line is a raw
        # signal that barely moves AND an envelope (its ~300 ms mean) below 3/4 of the rest floor: the signal
        # is lost.
        # When rest itself was quieter than flat_min, or (env mode) stood no clearer of zero than its own offset
        # band (floor < offset threshold - floor: an envelope resting at the ADC's dead zone, where reading 0 is
        # rest; in raw mode an envelope near 0 means the input barely moves), the two cannot be told apart: only
        # a reading that does not change at all (dead) is then a fault, never a healthy electrode quieter than
        # a count.
        kind = 0
        if rail_run >= self.rail_ticks and (self.raw or not self.state):
            # An envelope pinned at the top rail by a spasm already under way is that spasm, saturated: the
            # strongest spasms must not be logged as sensor faults. (RAW saturating swings between the rails
            # and is never pinned; from rest, a jump onto a rail is a lead-off.)
            kind = codes.FAULT_RAIL
        elif (flat_run >= self.flat_ticks and elp >> 3 < self.floor * 3 and not (self.blank and not self.fault)
              and (dead or (self.floor_acc >> FLOOR_BITS >= self.flat_min
                            and (self.raw or (self.floor_acc >> (FLOOR_BITS - 1)) > self.off_thr)))):
            kind = codes.FAULT_FLAT
        if self.fault == 0:
            if kind:
                # back-date: a rail by its run; a flat line by the lag of its ~300 ms envelope test at most
                start = t + 1 - (rail_run if kind == codes.FAULT_RAIL else min(flat_run, self.flat_lag))
                if self.state:
                    self._end_episode(max(self.onset, start), t)
                self.fault = kind
                self.fault_start = start
                self.clear_run = 0
                self._push(codes.EV_FAULT_START, kind, start, -1, t + 1, 0, 0, self.floor)
            return
        if kind:
            self.clear_run = 0
            return
        self.clear_run += 1
        if self.clear_run >= 5:  # ~50 ms of signal again
            end = t + 1 - self.clear_run
            self._push(codes.EV_FAULT_END, self.fault, self.fault_start, end, t + 1, 0, 0, self.floor)
            self.fault = 0
            self.blank = self.blank_ticks
            # the filters hold the jump from the rail: restart them from the current level
            detchain.resettle(self.st, self.raw, self.env_track, self.env_offset)

    def flush(self):
        """Close any open episode or fault at the current position (end of a recording)."""
        t = self.tick
        if self.state:
            self._end_episode(t, t - 1)
        if self.fault:
            self._push(codes.EV_FAULT_END, self.fault, self.fault_start, t, t, 0, 0, self.floor)
            self.fault = 0
        return self.q_len

    # ---- record queue ------------------------------------------------------------------------------

    def _push(self, etype, kind, onset, offset, detected, peak, mean, floor):
        if self.q_len == _QUEUE_LEN:  # the caller did not drain: drop the oldest, count it
            self.q_head = (self.q_head + 1) % _QUEUE_LEN
            self.q_len -= 1
            self.dropped += 1
        j = ((self.q_head + self.q_len) % _QUEUE_LEN) * _REC_LEN
        q = self.q
        q[j] = etype
        q[j + 1] = kind
        q[j + 2] = onset
        q[j + 3] = offset
        q[j + 4] = detected
        q[j + 5] = peak
        q[j + 6] = mean
        q[j + 7] = floor
        self.q_len += 1

    def pop(self):
        """Oldest record: (etype, kind, onset, offset, detected sample index, peak, mean, floor), or None."""
        if not self.q_len:
            return None
        j = self.q_head * _REC_LEN
        q = self.q
        d = self.tick_samples
        self.q_head = (self.q_head + 1) % _QUEUE_LEN
        self.q_len -= 1
        off = q[j + 3]
        return (q[j], q[j + 1], q[j + 2] * d, off * d if off >= 0 else -1, q[j + 4] * d, q[j + 5], q[j + 6],
                q[j + 7])
