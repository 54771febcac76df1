"""Streaming spasm detector: integer signal chain and episode logic, one source for ESP32, unix port and CPython."""

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the MicroPython emitter decorator and const() become no-ops

    class micropython:  # noqa: N801 - stands in for the MicroPython module
        @staticmethod
        def viper(f):
            return f

        native = viper

    def const(x):
        return x

    def ptr16(buf):  # in viper, a raw view of the sample buffer; in CPython the buffer itself
        return buf

from array import array
import math

try:  # the shared record codes and names (firmware/codes.py); re-exported here as detector.EV_ONSET etc.
    from .codes import EV_END, EV_FAULT_END, EV_FAULT_START, EV_ONSET, FAULT_FLAT, FAULT_RAIL
    from .codes import FAULT_NAMES, KIND_CLONUS, KIND_NAMES, KIND_TONIC, KIND_TWITCH  # noqa: F401
except ImportError:  # flat modules on the board and the unix port
    from codes import EV_END, EV_FAULT_END, EV_FAULT_START, EV_ONSET, FAULT_FLAT, FAULT_RAIL
    from codes import FAULT_NAMES, KIND_CLONUS, KIND_NAMES, KIND_TONIC, KIND_TWITCH  # noqa: F401

ENV_SCALE = const(16)  # envelope, floor and thresholds are in ADC counts x 16 (4 fractional bits)
COEF_BITS = const(12)  # biquad coefficients in Q12: every product stays below 2**28 (see docs/detector.md)
FLOOR_BITS = const(12)  # extra fractional bits of the slowly adapting noise floor
TICK_HZ = const(100)  # decisions run on ~10 ms ticks; only the filter chain runs per sample
TICKS_MAX = const(16)  # tick summaries one _chain call may produce before the decisions run
ST_LEN = const(72)  # per-sample chain state slots (see _chain); 48.. and 58.. hold minimum-statistics rings
C_LEN = const(28)  # chain coefficient slots
MS_SUB = const(50)  # ticks per sub-window of the floor's minimum statistics (~0.5 s)
MS_N = const(10)  # sub-windows kept: the minimum covers the last ~5 s
EB_SUB = const(200)  # ticks per sub-window of an envelope's resting level: its minimum covers ~20 s
TK_W = const(8)  # values per tick summary handed from _chain to _tick
BEAT_LOCK = const(4)  # regular beats in a row before a heartbeat rhythm gates runs
LO_INIT = const(0x3FFFFFFF)  # "no minimum yet": the largest small int of a 32-bit port
REC_LEN = const(8)
QUEUE_LEN = const(16)

# name: (default in raw mode, default in env mode, lowest, highest, unit); meanings in docs/detector.md
PARAMS = {
    "hp_hz": (40, 0, 0, 100, "Hz"),  # high-pass corner (4th-order Butterworth): removes drift, motion and most ECG
    "lp_hz": (450, 0, 0, 1000, "Hz"),  # low-pass corner (2nd order), off where within 0.4 x rate; 0 = off
    "mains_hz": (50, 0, 0, 60, "Hz"),  # mains notch frequency: 0 (off), 50 or 60
    "tkeo": (0, 0, 0, 1, ""),  # 1 = Teager-Kaiser energy instead of rectification
    "smooth_ms": (25, 20, 0, 500, "ms"),  # envelope smoothing time constant
    "on_mult": (4, 3, 1.2, 50, "x floor"),  # onset threshold, multiple of the noise floor
    "off_mult": (1.5, 1.5, 1.1, 50, "x floor"),  # offset threshold, multiple of the noise floor (< on_mult)
    "min_on_ms": (30, 40, 0, 2000, "ms"),  # time above the onset threshold before an onset is declared
    "min_dur_ms": (100, 100, 0, 5000, "ms"),  # minimum episode duration; shorter bursts are ignored
    "min_off_ms": (500, 500, 0, 10000, "ms"),  # quiet time below the offset threshold that ends an episode
    "twitch_ms": (500, 500, 50, 5000, "ms"),  # episodes shorter than this are twitches
    "max_episode_s": (600, 600, 10, 3600, "s"),  # longest episode before the floor is re-learnt
    "calib_ms": (1000, 1000, 200, 60000, "ms"),  # rest period at start that seeds the noise floor
    "floor_up_s": (10, 10, 1, 3600, "s"),  # time constant of a rising noise floor (drift)
    "floor_down_s": (10, 10, 0.1, 600, "s"),  # time constant of a falling noise floor
    "min_floor": (0.5, 0.5, 0.05, 100, "counts"),  # lowest noise floor, so a silent input cannot trigger
    "env_offset": (0, 0, 0, 4095, "counts"),  # offset subtracted from an envelope input (env mode)
    "flat_ms": (1000, 3000, 0, 60000, "ms"),  # window of a flat line (lead-off) before a fault; 0 = off
    "flat_step": (4, 0, 0, 100, "counts"),  # sample-to-sample change a flat line may still show (ADC noise)
    "rail_ms": (200, 500, 0, 60000, "ms"),  # time pinned at a rail before a saturation fault; 0 = off
    "rail_margin": (8, 8, 0, 500, "counts"),  # distance from 0 or adc_max that counts as the rail
    "adc_max": (4095, 4095, 255, 65535, "counts"),  # full-scale ADC count
    "blank_ms": (1000, 500, 0, 10000, "ms"),  # hold-off after a fault ends while the filters settle
    "spike_ms": (30, 0, 0, 200, "ms"),  # bursts above half their peak for at most this long are artefacts (pops)
    "margin": (2, 5, 0, 100, "counts"),  # thresholds lie at least this far above the floor (half for offset)
    "ecg": (1, 1, 0, 2, ""),  # heartbeat gate: 0 off, 1 auto (once a regular beat rhythm is found), 2 on
    "beat_ms": (200, 300, 50, 500, "ms"),  # widest heartbeat bump in the envelope; longer activity is EMG
    "relearn_s": (15, 15, 0, 600, "s"),  # a low-contrast episode this long re-learns the floor; 0 = off
    "env_track": (0, 1, 0, 1, ""),  # env mode: track the envelope's resting level (no env_offset needed)
    "flat_min": (1, 1, 0, 100, "counts"),  # a flat line is a fault only if the rest floor was above this
    "pop_track": (1, 1, 0, 1, ""),  # 1: pops are one-sided against a tracking baseline; 0: the first sample
}

# Overrides that restore the defaults and mechanisms of the detector before issue 8 (thresholds at 2.5x, no
# margin, no heartbeat gate, no floor re-learning, a fixed envelope offset): kept to show the real failures.
BASE_PARAMS = {"on_mult": 2.5, "margin": 0, "calib_ms": 2000, "ecg": 0, "relearn_s": 0, "env_track": 0,
               "flat_min": 0, "pop_track": 0}
ECG_MODES = {"off": 0, "auto": 1, "on": 2}


def validate(params, mode, rate_hz):
    """Return the full parameter dict for mode and rate, or raise ValueError naming the bad value."""
    if mode not in ("raw", "env"):
        raise ValueError("mode must be 'raw' or 'env', not %r" % (mode,))
    if not 25 <= rate_hz <= 2000:
        raise ValueError("rate_hz=%s out of range 25..2000 Hz" % (rate_hz,))
    col = 0 if mode == "raw" else 1
    out = {}  # type: dict
    for name in PARAMS:
        out[name] = PARAMS[name][col]
    for name in params or {}:
        if name not in PARAMS:
            raise ValueError("unknown parameter %r (known: %s)" % (name, ", ".join(sorted(PARAMS))))
        spec = PARAMS[name]
        value = params[name]
        if name == "ecg" and value in ECG_MODES:
            value = ECG_MODES[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError("%s=%r is not a number" % (name, value))
        if not spec[2] <= value <= spec[3]:
            raise ValueError("%s=%s out of range %s..%s %s" % (name, value, spec[2], spec[3], spec[4]))
        out[name] = value
    if out["off_mult"] >= out["on_mult"]:
        raise ValueError("off_mult=%s must be below on_mult=%s" % (out["off_mult"], out["on_mult"]))
    if out["mains_hz"] not in (0, 50, 60):
        raise ValueError("mains_hz=%s must be 0, 50 or 60" % (out["mains_hz"],))
    return out


def filters(p, mode, rate_hz):
    """(hp, lp, mains) corners the chain really uses at this rate, and a note for each one changed."""
    notes = []
    raw = mode == "raw"
    nyq = rate_hz / 2
    hp = p["hp_hz"] if raw else 0
    if hp and hp >= 0.4 * nyq:  # clamp, never drop: the high-pass is what removes drift, motion and ECG
        hp = int(0.35 * nyq)
        notes.append("hp_hz=%s clamped to %s Hz (must be below 0.4 x Nyquist at %s Hz)" % (p["hp_hz"], hp, rate_hz))
    lp = p["lp_hz"] if raw else 0
    if lp and lp >= 0.4 * rate_hz:  # (the default 450 Hz applies from 1125 Hz up, below it says nothing)
        if lp != PARAMS["lp_hz"][0]:
            notes.append("lp_hz=%s is off: at %s Hz it would be within 0.4 x rate of Nyquist" % (lp, rate_hz))
        lp = 0
    mains = p["mains_hz"] if raw else 0
    if mains and mains >= 0.45 * rate_hz:
        notes.append("mains_hz=%s notch is off: it lies at or above Nyquist at %s Hz" % (mains, rate_hz))
        mains = 0
    return hp, lp, mains, notes


def _biquad(kind, f0, q, rate):
    """Q12 coefficients (g, a1, a2) of an RBJ biquad; the numerator is g*[1,-2,1], g*[1,2,1] or notch."""
    w0 = 2 * math.pi * f0 / rate
    cw = math.cos(w0)
    alpha = math.sin(w0) / (2 * q)
    a0 = 1 + alpha
    if kind == "hp":
        g = (1 + cw) / 2 / a0
    elif kind == "lp":
        g = (1 - cw) / 2 / a0
    else:  # notch: b = [1, -2cos, 1] / a0, whose middle term equals a1
        g = 1 / a0
    s = 1 << COEF_BITS
    return int(round(g * s)), int(round(-2 * cw / a0 * s)), int(round((1 - alpha) / a0 * s))


class Detector:
    """One channel: feed blocks of ADC counts with process(); read decided records with pop()."""

    def __init__(self, rate_hz, mode="raw", params=None):
        p = validate(params, mode, rate_hz)
        # config
        self.rate_hz = rate_hz
        self.mode = mode
        self.params = p
        self.raw = mode == "raw"
        self.tick_samples = max(1, int(rate_hz / TICK_HZ + 0.5))
        tick_hz = rate_hz / self.tick_samples
        self.tick_hz = tick_hz
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
        self.artefacts = 0  # bursts rejected as electrode pops
        self.run = -1  # first tick of a run above the offset threshold, or -1
        self.touched = 0
        self.one_sided = 0
        self.run_sum = 0  # rest wobble above the offset threshold, for the floor (see _tick)
        self.run_n = 0
        self.gap = 0
        # clonus: burst period 3-8 Hz, with some slack for jitter (in ticks)
        self.cl_min = max(1, int(tick_hz / 9))
        self.cl_max = int(tick_hz / 2.5 + 0.5)
        self.up_shift = self._shift(p["floor_up_s"] * tick_hz)
        self.down_shift = self._shift(p["floor_down_s"] * tick_hz)
        self.slow_shift = self._shift(0.15 * tick_hz)  # ~150 ms mean level for the clonus rhythm test
        self.rh_hi = 23  # rhythm hysteresis, x16: a swing rises above 1.5x and falls below 0.5x the mean
        self.rh_lo = 9
        self.rh_shift = self._shift(16 / self.tick_samples)
        self.fast = 0
        self.rh_sig = 0  # the rhythm signal: the rectified tick mean x2, smoothed over >= ~16 samples
        self.on_q = int(p["on_mult"] * 16 + 0.5)
        self.off_q = int(p["off_mult"] * 16 + 0.5)
        self.min_floor = max(1, int(p["min_floor"] * ENV_SCALE + 0.5))
        self.on_margin = int(p["margin"] * ENV_SCALE + 0.5)
        self.off_margin = self.on_margin >> 1
        self.on_thr = 0
        self.off_thr = 0
        self.relearn = ticks(p["relearn_s"] * 1000) or LO_INIT
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
        amax = int(p["adc_max"])
        margin = int(p["rail_margin"])
        self.rail_hi = amax - margin
        self.rail_lo = margin if self.raw else -1  # an envelope resting at 0 is not a fault
        # filter chain, all integer: (flags, Q12 coefficients, shifts) packed for the per-sample loop
        hp, lp, mains, self.notes = filters(p, mode, rate_hz)
        self.env_track = 0 if self.raw else int(p["env_track"])
        c = array("i", bytes(4 * C_LEN))  # (from zero bytes: no temporary list on a small heap)
        c[0] = (1 if hp else 0) | (2 if mains else 0) | (4 if lp else 0) | (8 if p["tkeo"] else 0) | (
            16 if self.raw else 0) | (32 if self.env_track else 0) | (64 if p["pop_track"] else 0)
        if hp:  # 4th-order Butterworth as two biquads (Q = 0.5412, 1.3066)
            c[1], c[2], c[3] = _biquad("hp", hp, 0.5412, rate_hz)
            c[4], c[5], c[6] = _biquad("hp", hp, 1.3066, rate_hz)
        if mains:
            c[7], c[8], c[9] = _biquad("notch", mains, 8.0, rate_hz)
        if lp:
            c[10], c[11], c[12] = _biquad("lp", lp, 0.7071, rate_hz)
        c[13] = self._shift(p["smooth_ms"] * rate_hz / 1000)
        c[14] = self.tick_samples
        c[15] = int(p["flat_step"])
        c[16] = self.rail_hi
        c[17] = self.rail_lo
        c[18] = min(self.flat_ticks, 1 << 16)  # flat runs are capped here, so the glitch budget stays bounded
        c[19] = self.off_q
        c[20] = self.up_shift
        c[21] = self.down_shift
        c[22] = self.min_floor
        c[24] = self.flat_ticks
        c[25] = self.off_margin
        c[27] = int(p["flat_min"] * ENV_SCALE + 0.5)
        self.coef = c
        self.env_offset = int(p["env_offset"])
        # state of the per-sample chain: biquad delays, envelope, tick accumulators (see _chain)
        self.st = array("i", bytes(4 * ST_LEN))
        self.tk = array("i", bytes(4 * TK_W * TICKS_MAX))  # per tick: envelope sum, rail run, flat run, rectified sum,
        # the ~300 ms envelope mean, whether a sample touched a rail, and the floor's minimum statistic
        # state of the episode logic
        self.q = array("i", bytes(4 * REC_LEN * QUEUE_LEN))
        self.q_head = 0
        self.q_len = 0
        self.dropped = 0
        self.tick = 0
        self.started = False
        self.env = 0
        self.floor_acc = 0
        self.mvc = 0
        self.calibrate_rest(p["calib_ms"])
        self.mvc_left = 0
        self.state = 0  # 0 idle, 1 in episode
        self.fault = 0  # 0 none, else FAULT_FLAT / FAULT_RAIL
        self.blank = 0
        self._reset_episode()
        self.on_ticks = 0
        self.fault_start = 0
        self.clear_run = 0

    @staticmethod
    def _shift(n):
        """Smallest k with 2**k >= n: a one-pole filter x += (y - x) >> k has time constant ~n steps."""
        k = 0
        while (1 << k) < n and k < 24:
            k += 1
        return k

    def _reset_episode(self):
        self.onset = 0
        self.peak = 0
        self.fpeak = 0
        self.wide = 0  # ticks at or above half the peak: a pop is a spike of one to three ticks
        self.spike = 0
        self.mean_acc = 0
        self.n_ep = 0
        self.quiet = -1
        self.blip = -1  # first tick of a narrow bump in a quiet stretch (see _in_episode)
        self.slow = 0
        self.hi_state = 0
        self.last_up = -1
        self.cl_good = 0
        self.cl_bad = 0
        self.ep_floor = 0

    # ---- calibration -------------------------------------------------------------------------------

    def calibrate_rest(self, ms):
        """Re-learn the noise floor from the next ms of rest (the lowest quarter of that period)."""
        self.cal_total = max(4, int(ms * self.tick_hz / 1000 + 0.5))
        self.cal_left = self.cal_total
        self.cal_seg = max(1, self.cal_total // 4)
        self.cal_sum = 0
        self.cal_n = 0
        self.cal_best = -1
        self.cal_second = -1

    def calibrate_mvc(self, ms):
        """Record the peak envelope of the next ms (a maximal voluntary contraction) as the %MVC reference."""
        self.mvc = 0
        self.mvc_left = max(1, int(ms * self.tick_hz / 1000 + 0.5))

    def set_floor(self, floor):
        """Set the noise floor directly (counts x ENV_SCALE), e.g. from a stored calibration."""
        self.floor_acc = max(self.min_floor, int(floor)) << FLOOR_BITS
        self.cal_left = 0
        self.search_start = self.tick
        self.search_end = self.tick + self.search

    @property
    def floor(self):
        return max(self.min_floor, self.floor_acc >> FLOOR_BITS)

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
            st[0] = buf[0] if self.raw or self.env_track else self.env_offset
            st[20] = buf[0]
            st[17] = LO_INIT
            st[18] = -1
            st[41] = buf[0] << 4
            st[42] = buf[0]
            st[43] = LO_INIT
            st[44] = LO_INIT
            st[45] = -MS_SUB  # skip the first sub-window: the ~300 ms mean is still rising from 0
            st[47] = LO_INIT
            for j in range(48, 68):  # both minimum-statistics rings start empty
                st[j] = LO_INIT
        tk = self.tk
        i = 0
        while i < n:
            st[35] = 0 if (self.state or self.run >= 0 or self.fault or self.blank or self.cal_left
                           or self.mvc_left or self.bump != -1) else 1
            st[36] = self.floor_acc
            st[37] = self.tick
            i = self._chain(buf, i, n, st, self.coef, tk)
            self.floor_acc = st[36]
            self.tick = st[37]
            self.env = st[38]
            j = 0
            end = st[30] * TK_W
            while j < end:
                self._tick(tk[j], tk[j + 1], tk[j + 2], tk[j + 3], tk[j + 4], tk[j + 5], tk[j + 6], tk[j + 7])
                j += TK_W
        return self.q_len

    @micropython.viper
    def _chain(self, buf, i: int, n: int, st, c, tk) -> int:
        """Filter buf[i:n] (or until TICKS_MAX ticks are summarised in tk); returns the next sample index."""
        b = ptr16(buf)
        flags = int(c[0])
        off = int(st[0])
        x1 = int(st[1])
        x2 = int(st[2])
        y1 = int(st[3])
        y2 = int(st[4])
        z1 = int(st[5])
        z2 = int(st[6])
        w1 = int(st[7])
        w2 = int(st[8])
        v1 = int(st[9])
        v2 = int(st[10])
        u1 = int(st[11])
        u2 = int(st[12])
        env = int(st[13])
        acc = int(st[15])
        cnt = int(st[16])
        lo = int(st[17])
        hi = int(st[18])
        moves = int(st[19])
        prev = int(st[20])
        t1 = int(st[21])
        t2 = int(st[22])
        l1 = int(st[23])
        l2 = int(st[14])
        p1 = int(st[24])
        p2 = int(st[25])
        e1 = int(st[26])
        e2 = int(st[27])
        en = int(st[28])
        el = int(st[29])
        g1 = int(c[1])
        a11 = int(c[2])
        a12 = int(c[3])
        g2 = int(c[4])
        a21 = int(c[5])
        a22 = int(c[6])
        gn = int(c[7])
        an1 = int(c[8])
        an2 = int(c[9])
        gl = int(c[10])
        al1 = int(c[11])
        al2 = int(c[12])
        k = int(c[13])
        dec = int(c[14])
        step = int(c[15])
        rail_hi = int(c[16])
        rail_lo = int(c[17])
        flat_cap = int(c[18])
        rail_run = int(st[31])
        flat_run = int(st[32])
        flat_moves = int(st[33])
        racc = int(st[34])
        idle = int(st[35])
        floor_acc = int(st[36])
        tick = int(st[37])
        e = int(st[38])
        elp = int(st[39])
        off_q = int(c[19])
        up_shift = int(c[20])
        down_shift = int(c[21])
        min_floor = int(c[22])
        flat_ticks = int(c[24])
        off_m = int(c[25])
        flat_min = int(c[27])
        rsum = int(st[40])
        base = int(st[41])
        eb = int(st[42])
        eb_min = int(st[43])
        eb_cnt = int(st[68])
        eb_pos = int(st[69])
        ms_min = int(st[44])
        ms_cnt = int(st[45])
        ms_pos = int(st[46])
        ms_all = int(st[47])
        dead_run = int(st[70])
        dead_v = int(st[71])
        mask = (1 << COEF_BITS) - 1
        nt = 0
        while i < n:
            r = int(b[i])
            i += 1
            rsum += r
            if r < lo:
                lo = r
            if r > hi:
                hi = r
            d = r - prev
            prev = r
            if d > step or d < -step:
                moves += 1
            x = (r - off) << 1  # one fractional bit through the filters
            # Each biquad carries its rounding residue into the next sample (first-order error feedback):
            # without it, poles this close to z=1 leave a stuck DC output (a dead band) of tens of counts.
            if flags & 1:  # high-pass, two Butterworth sections (numerator g*[1,-2,1])
                y = g1 * (x - (x1 << 1) + x2) - a11 * y1 - a12 * y2 + e1
                e1 = y & mask
                y = y >> COEF_BITS
                x2 = x1
                x1 = x
                y2 = y1
                y1 = y
                x = g2 * (y - (z1 << 1) + z2) - a21 * w1 - a22 * w2 + e2
                e2 = x & mask
                x = x >> COEF_BITS
                z2 = z1
                z1 = y
                w2 = w1
                w1 = x
            if flags & 2:  # mains notch: numerator g*[1, -2cos, 1], whose middle term equals a1
                y = gn * (x + v2) + an1 * (v1 - u1) - an2 * u2 + en
                en = y & mask
                y = y >> COEF_BITS
                v2 = v1
                v1 = x
                u2 = u1
                u1 = y
                x = y
            if flags & 4:  # low-pass, numerator g*[1,2,1]
                y = gl * (x + (t1 << 1) + t2) - al1 * l1 - al2 * l2 + el
                el = y & mask
                y = y >> COEF_BITS
                t2 = t1
                t1 = x
                l2 = l1
                l1 = y
                x = y
            if flags & 16:
                if flags & 8:  # Teager-Kaiser energy p1^2 - x*p2, on x/4 so the squares stay below 2**28
                    y = x >> 2
                    x = p1 * p1 - y * p2
                    p2 = p1
                    p1 = y
                    if x < 0:
                        x = 0
                    elif x > 0x3FFFF:  # keep the smoothed sum (x 2**k, k <= 10) below 2**28
                        x = 0x3FFFF
                else:
                    if x < 0:
                        x = -x
                    x = x << 3  # counts x 16
            else:
                x = x << 3
                if x < 0:
                    x = 0
            env += x - (env >> k)  # env holds the smoothed envelope x 2**k: no truncation stall
            acc += env >> k
            racc += x  # unsmoothed, for the rhythm (clonus) test
            cnt += 1
            if cnt == dec:  # a tick is complete: hand its summary to the decision logic
                # Fault runs: a rail holds every sample of a tick; a flat run's moves fit a glitch budget of
                # ~1 per 256 samples.
                if lo >= rail_hi or hi <= rail_lo:
                    rail_run += 1
                else:
                    rail_run = 0
                touch = 1 if (hi >= rail_hi or lo <= rail_lo) else 0  # some sample at a rail
                # Every sample on one side of the tracking (~80 ms) baseline by more than the tick's own spread:
                # a pop decaying, not EMG (which swings both ways around its local mean, also on a slow swing).
                m = rsum // dec
                if flags & 64:
                    sp = hi - lo
                    if sp < 16:
                        sp = 16
                    if lo > (base >> 4) + sp or hi < (base >> 4) - sp:
                        touch += 2
                    base += ((m << 4) - base) >> 3
                elif lo > off + 16 or hi < off - 16:  # (pop_track=0: against the first sample, as before)
                    touch += 2
                if flags & 32:
                    # An envelope's resting level (an RMS output on an offset): the lowest tick mean of the
                    # last ~20 s, so it falls at once and rises only after 20 s without a return to rest.
                    if m < eb_min:
                        eb_min = m
                    eb_cnt += 1
                    if eb_cnt >= EB_SUB:
                        st[58 + eb_pos] = eb_min
                        eb_pos += 1
                        if eb_pos == MS_N:
                            eb_pos = 0
                        eb_min = LO_INIT
                        eb_cnt = 0
                        eb = LO_INIT
                        j = 58
                        while j < 58 + MS_N:
                            v = int(st[j])
                            if v < eb:
                                eb = v
                            j += 1
                    off = eb if eb < eb_min else eb_min
                rsum = 0
                flat_moves += moves
                if flat_moves > 2 + ((flat_run * dec) >> 8):
                    flat_run = 0
                    flat_moves = 0
                elif flat_run < flat_cap:
                    flat_run += 1
                # A raw ADC reading that does not change at all is dead (a healthy front end always shows some
                # noise, if only an ADC count): a lead-off even where rest was too quiet to compare with.
                if hi == lo and lo == dead_v and flags & 16:
                    if dead_run < flat_cap:
                        dead_run += 1
                else:
                    dead_run = 0
                dead_v = prev
                if dead_run >= flat_ticks:
                    touch += 4
                e = acc // dec
                elp += e - (elp >> 5)  # ~300 ms mean of the envelope (x 32), for the flat-line test
                # Minimum statistics: the lowest ~300 ms mean over the last ~5 s is the rest level even while
                # activity, heartbeats or a stepped-up electrode keep the envelope above the thresholds.
                if elp < ms_min and ms_cnt >= 0:
                    ms_min = elp
                ms_cnt += 1
                if ms_cnt >= MS_SUB:
                    st[48 + ms_pos] = ms_min
                    ms_pos += 1
                    if ms_pos == MS_N:
                        ms_pos = 0
                    ms_min = LO_INIT
                    ms_cnt = 0
                    ms_all = LO_INIT
                    j = 48
                    while j < 48 + MS_N:
                        v = int(st[j])
                        if v < ms_all:
                            ms_all = v
                        j += 1
                if idle:
                    # The common case stays here: idle, at rest, no fault brewing. The floor follows rest
                    # only (below the offset threshold): spasms never pull it up. (_tick does the same.)
                    f0 = floor_acc >> FLOOR_BITS
                    if ms_all >> 4 < f0:  # (as in _tick) a floor above twice the rest level is re-learnt
                        f0 = (ms_all >> 5) + (ms_all >> 8)
                        floor_acc = f0 << FLOOR_BITS
                    f = f0
                    if f < min_floor:
                        f = min_floor
                    thr = (f * off_q) >> 4
                    if thr < f + off_m:
                        thr = f + off_m
                    if e <= thr and rail_run == 0 and (flat_run < flat_ticks or elp >> 3 >= f * 3 or (
                            f0 < flat_min and not touch & 4)):
                        if e > f:
                            floor_acc += ((e << FLOOR_BITS) - floor_acc) >> up_shift
                        else:
                            floor_acc += ((e << FLOOR_BITS) - floor_acc) >> down_shift
                        tick += 1
                    else:
                        idle = 0  # from here on every tick goes to _tick, in order
                if not idle:
                    j = nt * TK_W
                    tk[j + 6] = ms_all
                    tk[j + 7] = off
                    tk[j] = acc
                    tk[j + 1] = rail_run
                    tk[j + 2] = flat_run
                    tk[j + 3] = racc
                    tk[j + 4] = elp
                    tk[j + 5] = touch
                    nt += 1
                racc = 0
                acc = 0
                cnt = 0
                lo = LO_INIT
                hi = -1
                moves = 0
                if nt == TICKS_MAX:
                    break
        st[1] = x1
        st[2] = x2
        st[3] = y1
        st[4] = y2
        st[5] = z1
        st[6] = z2
        st[7] = w1
        st[8] = w2
        st[9] = v1
        st[10] = v2
        st[11] = u1
        st[12] = u2
        st[13] = env
        st[15] = acc
        st[16] = cnt
        st[17] = lo
        st[18] = hi
        st[19] = moves
        st[20] = prev
        st[21] = t1
        st[22] = t2
        st[23] = l1
        st[14] = l2
        st[24] = p1
        st[25] = p2
        st[26] = e1
        st[27] = e2
        st[28] = en
        st[29] = el
        st[30] = nt
        st[31] = rail_run
        st[32] = flat_run
        st[33] = flat_moves
        st[34] = racc
        st[36] = floor_acc
        st[37] = tick  # the index of the first tick handed to _tick, or of the next tick
        st[38] = e
        st[39] = elp
        st[0] = off
        st[40] = rsum
        st[41] = base
        st[42] = eb
        st[43] = eb_min
        st[68] = eb_cnt
        st[69] = eb_pos
        st[44] = ms_min
        st[45] = ms_cnt
        st[46] = ms_pos
        st[47] = ms_all
        st[70] = dead_run
        st[71] = dead_v
        return i

    # ---- per-tick decisions ------------------------------------------------------------------------

    @micropython.native
    def _tick(self, acc, rail_run, flat_run, racc, elp, touch, ms_all, base):
        e = acc // self.tick_samples
        self.fast = racc // self.tick_samples
        t = self.tick
        self.tick = t + 1
        self.env = e
        if self.fault or rail_run >= self.rail_ticks or flat_run >= self.flat_ticks:
            self._faults(t, elp, rail_run, flat_run, touch & 4)
        if self.fault or self.blank:
            if self.blank:
                self.blank -= 1
            self.run = -1
            self.bump = -1
            return
        f = self._thresholds()
        if self.ecg and (not self.state or t - self.onset <= self.beat_w or (
                self.beats < BEAT_LOCK and self.quiet >= 0 and t - self.onset <= self.young and not self.raw)):
            # In an episode, candidates are only looked for at its start, or (env mode) while no rhythm is known
            # yet in the quiet stretches of its first seconds: the sensor's smoothing widens beats, so an episode
            # begun by a beat is kept going by the next ones until their rhythm is learnt. Later, and in raw mode
            # (where it fragmented clonus trains), EMG bursts would pass for beats.
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
                f = self._thresholds()
                off = self.off_thr
                on = self.on_thr
            if rail_run:  # a jump onto a rail is a fault in the making, never a spasm onset
                return
            if self.run < 0:
                if e <= off:
                    # The floor follows rest only (below the offset threshold): spasms never pull it up.
                    self.floor_acc += ((e << FLOOR_BITS) - self.floor_acc) >> (
                        self.up_shift if e > f else self.down_shift)
                    return
                # A run starts: it may become an episode, and lasts until min_off of quiet (so the bursts
                # of a clonus train add up even when each alone is too short).
                self.run = t
                self.on_ticks = 0
                self.gap = 0
                self.spike = 0
                self.touched = 0
                self.one_sided = 0
                self.run_sum = 0
                self.run_n = 0
                # ecg on: every run must outlast a beat; auto: where a beat is due, and in the first seconds
                # while a rhythm is still being learnt from the narrow bumps seen
                # (or a candidate bump began before this run did: at the end of calibration, say)
                searching = (t < self.search_end and self.last_beat >= 0 and (
                    self.beats < BEAT_LOCK or self.last_beat < self.search_start)) or 0 <= self.bump < t
                self.beat_run = 1 if self.ecg == 2 or (self.ecg and (searching or (
                    self.rr and self._beat_due(t, 0)))) else 0
                self._reset_episode()
                self.slow = self.fast * 2
            elif off < ms < LO_INIT >> 5 and self.relearn < LO_INIT:
                # No ~300 ms stretch of the last 5 s came back below the offset threshold, yet nothing rose
                # to an onset: the rest level itself stepped up (electrode shift, ECG, posture). Re-learn it.
                self.floor_acc = (ms + (ms_all >> 8)) << FLOOR_BITS
                self.run = -1
                return
            if e <= off:
                self.floor_acc += ((e << FLOOR_BITS) - self.floor_acc) >> (
                    self.up_shift if e > f else self.down_shift)  # quiet ticks in a run are rest too
                self.gap += 1
                if self.gap == 1 and self.beat_run and t - self.run <= self.beat_w:
                    self.run = -1  # the run came when a beat was due and was no wider than one: a heartbeat
                    return
                # A run that never reached the onset threshold was rest wobble: it ends at once, so it
                # cannot back-date a later spasm, and its ticks are rest the floor learns too (learning only
                # the ticks below the offset threshold would bias a wide rest distribution low).
                if not self.on_ticks:
                    if self.run_n:
                        d = min(self.run_sum // self.run_n - f, 1 << 18)
                        if self.up_shift >= FLOOR_BITS:
                            self.floor_acc += (d * self.run_n) >> (self.up_shift - FLOOR_BITS)
                        else:
                            self.floor_acc += (d * self.run_n) << (FLOOR_BITS - self.up_shift)
                    self.run = -1
                    return
                if self.gap >= self.min_off:
                    self.run = -1
                    return
                self._collect(t, e)
                return
            self._collect(t, e)
            self.gap = 0
            if touch & 1:
                self.touched = 1
            if touch & 2:
                self.one_sided += 1
            if e > on:
                self.on_ticks += 1
            elif self.run_n < 64 and not self.raw:  # (a raw envelope's rest is narrow: no bias to undo)
                self.run_sum += e
                self.run_n += 1
            if self.on_ticks >= self.min_on and t - self.run + 1 >= self.min_dur and self.on_ticks:
                if self.beat_run and (t - self.run < self.beat_w or 3 * e < self.peak):
                    # a run where a beat was due is EMG only once it outlasts a heartbeat bump: still near its
                    # peak, not on the bump's decaying tail (which a low floor keeps above the offset threshold)
                    return
                # An electrode pop drives the front end onto a rail or far above the floor (40x), and is
                # narrow or decays from one side of the baseline; a jerk as short is far weaker, and strong
                # EMG swings both ways. A narrow burst below 5x the floor is noise.
                narrow = self.wide <= self.spike_ticks
                strong = self.touched or self.peak > f * 40
                if self.spike_ticks and ((strong and (narrow or self.one_sided >= 2)) or (
                        narrow and self.peak < f * 5)):
                    if not self.spike:
                        self.spike = 1
                        self.artefacts += 1
                    return
                self._start_episode(t, f)
            return
        self._in_episode(t, e, off, ms)

    @micropython.native
    def _thresholds(self):
        # Multiples of the floor, but never closer to it than the margin: at a count or two of rest noise a
        # multiple alone sits inside the quantisation steps.
        f = self.floor_acc >> FLOOR_BITS
        if f < self.min_floor:
            f = self.min_floor
        on = f * self.on_q >> 4
        if on < f + self.on_margin:
            on = f + self.on_margin
        off = f * self.off_q >> 4
        if off < f + self.off_margin:
            off = f + self.off_margin
        self.on_thr = on
        self.off_thr = off
        return f

    @micropython.native
    def _beat_due(self, t, width):
        # Is tick t within width ticks after a beat the learnt rhythm predicts (any whole number of beats
        # on, with a tolerance for the beat-to-beat variability)?
        rr = self.rr
        if self.beats < BEAT_LOCK or t - self.last_beat > self.rr_stale:
            return False  # a rhythm not yet confirmed, or not seen for long (no ECG now), predicts nothing
        if t - self.last_beat > 4 * rr:
            return True  # no beat seen for a while: its phase is unknown, so any tick may be one
        tol = (rr >> 3) + 3  # +-12 %: beat-to-beat variability at rest
        d = (t - self.last_beat + tol) % rr
        return d <= 2 * tol + width

    @micropython.native
    def _bump(self, t, e, ms):
        # Heartbeat candidates: bumps that rise above the offset threshold and 3x the rest level and fall back
        # (below the offset threshold or a third of their peak) within beat_ms, also during calibration and
        # episodes, so the rhythm is known before the first beat could become a twitch.
        if self.bump < 0:
            if self.bump == -2:  # a bump ended on its decay: the next one starts only after a return to rest
                if e <= self.off_thr:
                    self.bump = -1
            elif e > self.off_thr and (e > 3 * ms or ms == LO_INIT >> 5):  # (in the first second: no minimum)
                self.bump = t
                self.bump_peak = e
            return
        if e > self.bump_peak:
            self.bump_peak = e
        if e <= self.off_thr or 3 * e < self.bump_peak:
            p = self.bump_peak
            if (t - self.bump <= self.beat_w and 2 * p > self.on_thr + self.off_thr and 2 * p > self.beat_amp
                    and (p < 2 * self.beat_amp or self.beats < 2)):
                # narrow, clear of the thresholds and like the usual beat (heartbeats vary little in size): not a
                # T wave, wobble or a burst of EMG
                self.beat_amp += (p - self.beat_amp) >> 2
                self._beat(self.bump)
            elif t - self.bump <= self.beat_w:  # a narrow bump of another size: the beats may have changed
                if 2 * p > self.beat_amp:
                    self.beat_amp += self.beat_amp >> 3
                else:
                    self.beat_amp -= self.beat_amp >> 3
            self.bump = -1 if e <= self.off_thr else -2

    @micropython.native
    def _beat(self, tb):
        # A narrow bump at tick tb: a beat if it keeps the rhythm (one or more whole intervals on, within 20 %).
        if self.last_beat >= 0:
            iv = tb - self.last_beat
            rr = self.rr
            if rr and iv > 4 * rr:
                # beats were hidden (by a spasm, say) or missed for a while: keep the rhythm, re-anchor it, and
                # if it had been confirmed, trust it again (the beats lost on the way were not off-rhythm)
                if self.confirmed and self.beats < BEAT_LOCK:
                    self.beats = BEAT_LOCK
            elif rr:
                k = (iv + (rr >> 1)) // rr
                if 1 <= k <= 3 and (iv - k * rr) * 5 <= rr and (k * rr - iv) * 5 <= rr:
                    if k == 1:
                        self.rr = max(self.rr_min, rr + ((iv - rr) >> 2))
                    if self.beats < 8:
                        self.beats += 1
                    if self.beats >= BEAT_LOCK:
                        self.confirmed = 1
                elif iv >= self.rr_min:
                    # Off the rhythm: the heart rate changed, a beat was missed when the rhythm was learnt (it
                    # is then twice too long and the true beats fall between), or noise. Lose some confidence;
                    # once it is gone, start again from this interval.
                    self.beats -= 1
                    if self.beats <= 0:
                        self.beats = 0
                        self.rr = iv if iv <= self.rr_max else 0
                    elif 4 * iv < 3 * rr:
                        return  # between two beats (a twitch or noise): keep the rhythm's reference
                else:
                    return  # too soon after a beat to be one
            elif iv < self.rr_min:
                return  # too soon after the first candidate: keep it
            elif iv <= self.rr_max:
                self.rr = iv
                self.beats = 1
        self.last_beat = tb

    def _calibrate(self, e, base):
        # Seed with the second-quietest quarter of the calibration period: a spasm in one or two quarters does
        # not raise the floor, and one unusually quiet quarter (between heartbeats, say) does not lower it.
        self.cal_left -= 1
        self.cal_sum += e
        self.cal_n += 1
        if self.cal_n == self.cal_seg or self.cal_left == 0:
            m = self.cal_sum // self.cal_n
            if self.cal_best < 0 or m < self.cal_best:
                self.cal_second = self.cal_best
                self.cal_best = m
            elif self.cal_second < 0 or m < self.cal_second:
                self.cal_second = m
            self.cal_sum = 0
            self.cal_n = 0
        if self.cal_left == 0:
            seed = (self.cal_second if self.cal_second >= 0 else self.cal_best) - base
            self.floor_acc = max(self.min_floor, seed) << FLOOR_BITS
            self.search_start = self.tick
            self.search_end = self.tick + self.search

    def _start_episode(self, t, f):
        self.state = 1
        self.onset = self.run
        self.run = -1
        self.ep_floor = f
        self._push(EV_ONSET, 0, self.onset, -1, t + 1, 0, 0, f)

    @micropython.native
    def _collect(self, t, e):
        self.n_ep += 1
        if e > self.peak:
            self.peak = e
        v = self.fast  # width on the unsmoothed 10 ms mean: smoothing would stretch a pop
        if v > self.fpeak:
            if v > self.fpeak * 2:  # a new dominant peak: earlier ticks are no longer near it
                self.wide = 0
            self.fpeak = v
        if v * 2 >= self.fpeak:
            self.wide += 1
        self.mean_acc += ((e << 4) - self.mean_acc) // self.n_ep
        self._rhythm(t)

    @micropython.native
    def _in_episode(self, t, e, off, ms):
        self._collect(t, e)
        if t - self.onset >= self.relearn and self.mean_acc >> 4 < self.on_thr:
            # Low contrast for long: on average below the onset threshold for relearn_s, this is a rest level
            # that stepped up, not a spasm. End it and re-learn the floor from the minimum statistics.
            self._end_episode(t, t)
            if ms < LO_INIT >> 5:
                self.floor_acc = (ms + (ms >> 3)) << FLOOR_BITS
            return
        if e < off:
            self.blip = -1
            if self.quiet < 0:
                self.quiet = t
            if t - self.quiet + 1 >= self.min_off:
                self._end_episode(self.quiet, t)
        elif self.ecg and not self.raw and self.quiet >= 0 and (
                t - self.blip < self.beat_w if self.blip >= 0 else t - self.quiet >= self.rr_min):
            # Env mode: an isolated narrow bump after a beat interval of quiet is a heartbeat until it outlasts
            # one, and does not keep the episode going (clonus bursts come closer, a spasm lasts longer). In raw
            # mode the QRS remnant is narrow enough for the beat gate; there this rule cut clonus trains.
            if self.blip < 0:
                self.blip = t
        elif self.quiet < 0 or (e * 2 > self.on_thr + off and not (
                self.ecg and self.rr and self._beat_due(t, self.beat_w))):
            # activity again: only a tick above mid-way between the thresholds breaks a quiet stretch,
            # so rest wobble just above the offset threshold (or a heartbeat) does not stretch the episode
            self.quiet = -1
            if t - self.onset >= self.max_ep:  # a floor that jumped (electrode shift): end and re-learn
                self._end_episode(t, t)
                self.floor_acc = e << FLOOR_BITS

    @micropython.native
    def _rhythm(self, t):
        # Clonus: the 10 ms rectified mean, lightly smoothed so it averages >= ~16 samples (two ticks at 1 kHz,
        # eight at 200 Hz: fewer leave noise swinging in the band), swings around its ~150 ms mean at 3-8 Hz.
        # Count rising swings whose period is in that band (good) or not (bad). The smoothed envelope is not
        # used here: its own random wobble lies in the same band.
        self.rh_sig += (2 * self.fast - self.rh_sig) >> self.rh_shift
        v = self.rh_sig
        self.slow += (v - self.slow) >> self.slow_shift
        s = self.slow
        if self.hi_state:
            if v * 16 < s * self.rh_lo:
                self.hi_state = 0
        elif v * 16 > s * self.rh_hi:
            self.hi_state = 1
            if self.last_up >= 0:
                period = t - self.last_up
                if self.cl_min <= period <= self.cl_max:
                    self.cl_good += 1
                else:
                    self.cl_bad += 1
            self.last_up = t

    def _end_episode(self, offset, t):
        if self.ecg and self.beats >= BEAT_LOCK and t - self.last_beat <= self.rr_stale:
            self.search_start = t  # beats were hidden: look for them again before trusting a narrow bump
            self.search_end = t + self.search
        dur = offset - self.onset
        if dur < self.twitch:
            kind = KIND_TWITCH
        elif self.cl_good >= 3 and self.cl_good >= 2 * self.cl_bad:
            kind = KIND_CLONUS
        elif dur < 2 * self.twitch and self.wide * 2 < self.twitch:  # a strong jerk with a long tail
            kind = KIND_TWITCH
        else:
            kind = KIND_TONIC
        self._push(EV_END, kind, self.onset, offset, t + 1, self.peak, self.mean_acc >> 4, self.ep_floor)
        self.state = 0
        self.run = -1

    def _faults(self, t, elp, rail_run, flat_run, dead):
        # Runs are counted per tick in _chain; here they start and end fault records. A flat line is a raw
        # signal that barely moves AND an envelope (its ~300 ms mean) below 3/4 of the rest floor: the signal
        # is lost.
        # When rest itself was quieter than flat_min the two cannot be told apart: only a reading that does
        # not change at all (dead) is then a fault, never a healthy electrode quieter than a count.
        kind = 0
        if rail_run >= self.rail_ticks:
            kind = FAULT_RAIL
        elif (flat_run >= self.flat_ticks and elp >> 3 < self.floor * 3
              and (dead or self.floor_acc >> FLOOR_BITS >= self.coef[27])):
            kind = FAULT_FLAT
        if self.fault == 0:
            if kind:
                # back-date: a rail by its run; a flat line by the lag of its ~300 ms envelope test at most
                start = t + 1 - (rail_run if kind == FAULT_RAIL else min(flat_run, self.flat_lag))
                if self.state:
                    self._end_episode(max(self.onset, start), t)
                self.fault = kind
                self.fault_start = start
                self.clear_run = 0
                self._push(EV_FAULT_START, kind, start, -1, t + 1, 0, 0, self.floor)
            return
        if kind:
            self.clear_run = 0
            return
        self.clear_run += 1
        if self.clear_run >= 5:  # ~50 ms of signal again
            end = t + 1 - self.clear_run
            self._push(EV_FAULT_END, self.fault, self.fault_start, end, t + 1, 0, 0, self.floor)
            self.fault = 0
            self.blank = self.blank_ticks
            self._resettle()

    def _resettle(self):
        # After a fault the filters hold the jump from the rail; restart them from the current level.
        st = self.st
        for j in range(1, 15):
            st[j] = 0
        for j in range(21, 30):
            st[j] = 0
        st[0] = st[20] if self.raw else (st[42] if self.env_track else self.env_offset)

    def flush(self):
        """Close any open episode or fault at the current position (end of a recording)."""
        t = self.tick
        if self.state:
            self._end_episode(t, t - 1)
        if self.fault:
            self._push(EV_FAULT_END, self.fault, self.fault_start, t, t, 0, 0, self.floor)
            self.fault = 0
        return self.q_len

    # ---- record queue ------------------------------------------------------------------------------

    def _push(self, etype, kind, onset, offset, detected, peak, mean, floor):
        if self.q_len == QUEUE_LEN:  # the caller did not drain: drop the oldest, count it
            self.q_head = (self.q_head + 1) % QUEUE_LEN
            self.q_len -= 1
            self.dropped += 1
        j = ((self.q_head + self.q_len) % QUEUE_LEN) * REC_LEN
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
        j = self.q_head * REC_LEN
        q = self.q
        d = self.tick_samples
        self.q_head = (self.q_head + 1) % QUEUE_LEN
        self.q_len -= 1
        off = q[j + 3]
        return (q[j], q[j + 1], q[j + 2] * d, off * d if off >= 0 else -1, q[j + 4] * d, q[j + 5], q[j + 6],
                q[j + 7])
