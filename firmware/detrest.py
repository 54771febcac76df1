"""The detector's rest model: floor and spread learnt from rest, and the thresholds a false-alarm target sets.

Functions of `detector.Detector` bound in its class body under the same names, as in detepisode: `self` is the
Detector, every state an int. `onset_sd` turns the user's `sensitivity` (false onsets per hour of rest) into the
onset threshold's distance from the floor, in rest standard deviations; see docs/detector.md.
"""

import math

try:
    from .compat import micropython
    from .detchain import ENV_SCALE, FLOOR_BITS, TAIL_Q, TAIL_SHIFT, TREND_BITS
except ImportError:  # flat modules on the board and the unix port
    from compat import micropython
    from detchain import ENV_SCALE, FLOOR_BITS, TAIL_Q, TAIL_SHIFT, TREND_BITS

SD_PER_DEV = 1.2533  # standard deviation / mean absolute deviation of a normal distribution
# The rest tail (tail_acc): the height above the floor that one rest tick in 2**TAIL_SHIFT + 1 exceeds (the
# 98.5th percentile), tracked as a running quantile. Divided by TAIL_Q, that percentile's height on a normal
# rest, it is a spread again: on a rest whose upper tail is heavier than normal (an envelope is skewed:
# rectified noise, the ADC's knee) it is above the deviation spread, and the onset threshold uses it.


def onset_sd(per_hour, tick_hz, window):
    """Onset threshold in rest SDs above the floor for `per_hour` false onsets per hour of rest.

    Rest is a sequence of independent windows of `window` ticks (an onset must stay above the threshold that
    long, and the smoothed envelope is correlated over about as long); one window in N may exceed the
    threshold, N = windows per hour / per_hour. The normal quantile (Abramowitz & Stegun 26.2.23, error
    < 4.5e-4) of that tail probability, scaled to the spread the detector measures (mean absolute deviation).
    """
    q = per_hour * window / (3600 * tick_hz)
    if q > 0.25:
        q = 0.25
    t = math.sqrt(-2 * math.log(q))
    z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
    return z * SD_PER_DEV


def calibrate_rest(self, ms):
    """Re-learn the noise floor from the next ms of rest (the lowest quarter of that period)."""
    self._cal_start(max(4, int(ms * self.tick_hz / 1000 + 0.5)))


def _cal_start(self, ticks):
    # (integers only: also called from the per-tick path, after a fault)
    self.cal_total = ticks
    self.cal_left = self.cal_total
    self.cal_seg = max(1, self.cal_total // 4)
    self.cal_sum = 0
    self.cal_n = 0
    self.cal_best = -1
    self.cal_second = -1
    self.cal_dsum = 0
    self.cal_dbest = 0
    self.cal_dsecond = 0


def set_floor(self, floor, dev=-1):
    """Set the rest model directly (counts x ENV_SCALE), e.g. from a stored calibration.

    Without a stored spread, a quarter of the floor: a rectified-noise envelope's usual relative spread.
    """
    self.floor_acc = max(self.min_floor, int(floor)) << FLOOR_BITS
    self.dev_acc = (int(dev) if dev >= 0 else self.floor_acc >> (FLOOR_BITS + 2)) << FLOOR_BITS
    self.tail_acc = (self.dev_acc >> 4) * TAIL_Q
    self.trend_acc = 0
    self.cal_left = 0
    self.search_start = self.tick
    self.search_end = self.tick + self.search
    self.warm = self.up_shift  # a stored calibration was learnt over long rest: no warm-up
    self.warm_n = 1 << self.up_shift


def _rewarm(self):
    # The rest level was re-learnt (it stepped): the spread learnt at the old level says nothing about the new
    # one, so the model warms up again as after a calibration, a running mean of the rest seen from here on.
    self.warm = 2
    self.warm_n = 4
    self.trend_acc = 0


@micropython.native
def _thresholds(self):
    # The floor plus multiples of the rest spread: the onset's from the false-alarm target (onset_sd).
    f = self.floor_acc >> FLOOR_BITS
    if f < self.min_floor:
        f = self.min_floor
    sd = self.dev_acc >> FLOOR_BITS
    if sd < self.dev_min:
        sd = self.dev_min
    self.off_thr = f + (sd * self.off_q >> 4)
    tail = ((self.tail_acc >> FLOOR_BITS) << 4) // TAIL_Q
    if tail > sd:
        sd = tail if tail < sd + (sd >> 1) else sd + (sd >> 1)
    self.on_thr = f + (sd * self.on_q >> 4)
    if self.raw and self.on_thr < (f << 1) + ENV_SCALE:
        # The least rise that is a contraction: raw EMG's rectified envelope doubles (+6 dB), and by more than
        # the one-count step an integer envelope moves in. Real rest is not the normal noise the spread test
        # assumes: slow wander of 1.5-1.9x the floor (BioSPPy's quiet baseline) and one- and two-count steps
        # on a sub-count armband rest passed it. Not in env mode, where the floor includes the sensor's offset.
        self.on_thr = (f << 1) + ENV_SCALE
    return f

@micropython.native
def _learn(self, e, f):
    # A rest tick: the floor (mean) and the spread (mean absolute deviation) follow it, its deviation
    # clipped at 3 spreads (a Huber-type robust estimate: a heartbeat, a pop or a spasm's first ticks
    # move the model as a 3-spread tick would). chain() does the same for the ticks it decides itself.
    # Env mode, once warmed up: the floor is a level and a trend (Brown's double exponential smoothing): the level
    # steps by the trend, then moves by 2a of the deviation and the trend by a**2, so a drifting offset is
    # followed without lag. Raw mode (no offset left after the high-pass) and the warm-up keep a one-pole mean.
    one_pole = self.warm < self.up_shift or self.raw
    if not one_pole:
        self.floor_acc += self.trend_acc >> TREND_BITS
    f0 = self.floor_acc >> FLOOR_BITS
    sd = self.dev_acc >> FLOOR_BITS
    if sd < self.dev_min:
        sd = self.dev_min
    d = e - f0
    # The tail quantile moves up by 1/8 of the spread where exceeded, down by 1/64 of that otherwise. A run's
    # ticks move a provisional tail, kept only if the run ends as rest (see _run_quiet): a spasm's rise is not
    # rest, and in its first ticks it is not yet known to be a spasm.
    s = ((self.tail_acc >> FLOOR_BITS) << 4) // TAIL_Q
    if s < sd:
        s = sd
    elif s > sd + (sd >> 1):
        s = sd + (sd >> 1)
    if self.run >= 0:
        if d << FLOOR_BITS > self.run_tail:
            self.run_tail += s << (FLOOR_BITS - 3)
        else:
            self.run_tail -= s << (FLOOR_BITS - 3 - TAIL_SHIFT)
    elif d << FLOOR_BITS > self.tail_acc:
        self.tail_acc += s << (FLOOR_BITS - 3)
    else:
        self.tail_acc -= s << (FLOOR_BITS - 3 - TAIL_SHIFT)
    if d > 3 * sd:
        d = 3 * sd
    elif d < -3 * sd:
        d = -3 * sd
    k = self.up_shift if e > f else self.down_shift
    kd = self.up_shift
    if self.warm < kd:
        # Warming up (after a calibration): a running mean of the rest seen so far, weight ~1/n, until the
        # moving averages' own length of rest has been seen; the seed counts as 4 ticks.
        self.warm_n += 1
        if self.warm_n >= 2 << self.warm:
            self.warm += 1
        if self.warm < k:
            k = self.warm
        kd = self.warm
    if one_pole:
        self.floor_acc += (d << FLOOR_BITS) >> k
    else:
        self.floor_acc += (d << FLOOR_BITS) >> (k - 1)
        self.trend_acc += (d << FLOOR_BITS) >> (self.up_shift + self.up_shift - TREND_BITS)
    if d < 0:
        d = -d
    self.dev_acc += ((d << FLOOR_BITS) - self.dev_acc) >> kd


@micropython.native
def _held(self, t, on):
    # Just after an episode its tail is still settling: the onset threshold falls back from the level that
    # ended the episode to the rest test's over hold_w ticks, so a settling tail is not a new spasm.
    dt = t - self.hold_t
    if dt < self.hold_w and self.hold_thr > on:
        return on + (self.hold_thr - on) * (self.hold_w - dt) // self.hold_w
    return on


def _calibrate(self, e, base):
    # Seed with the second-quietest quarter of the calibration period: a spasm in one or two quarters does
    # not raise the floor, and one unusually quiet quarter (between heartbeats, say) does not lower it. The
    # spread is seeded from the same quarter: its ticks' mean absolute deviation from its running mean.
    self.cal_left -= 1
    self.cal_sum += e
    self.cal_n += 1
    d = e - self.cal_sum // self.cal_n
    self.cal_dsum += d if d > 0 else -d
    if self.cal_n == self.cal_seg or self.cal_left == 0:
        m = self.cal_sum // self.cal_n
        dm = self.cal_dsum // self.cal_n
        if self.cal_best < 0 or m < self.cal_best:
            self.cal_second = self.cal_best
            self.cal_dsecond = self.cal_dbest
            self.cal_best = m
            self.cal_dbest = dm
        elif self.cal_second < 0 or m < self.cal_second:
            self.cal_second = m
            self.cal_dsecond = dm
        self.cal_sum = 0
        self.cal_n = 0
        self.cal_dsum = 0
    if self.cal_left == 0:
        seed = (self.cal_second if self.cal_second >= 0 else self.cal_best) - base
        self.floor_acc = max(self.min_floor, seed) << FLOOR_BITS
        self.dev_acc = (self.cal_dsecond if self.cal_second >= 0 else self.cal_dbest) << FLOOR_BITS
        self.tail_acc = (self.dev_acc >> 4) * TAIL_Q
        self.trend_acc = 0
        self.search_start = self.tick
        self.search_end = self.tick + self.search
        self.warm = 2  # the seed counts as 4 ticks of rest (see _learn)
        self.warm_n = 4
