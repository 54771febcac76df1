"""Runs and episodes of the detector: onset rules, pop rejection, the episode's end, its kind and clonus rhythm."""

try:
    from . import codes  # (codes.X once per episode: a name imported from it would cost heap in every module)
    from .detbeats import BEAT_LOCK
    from .compat import const, micropython
    from .detchain import FLOOR_BITS, LO_INIT, TOUCH_DEAD, TOUCH_ONE_SIDED, TOUCH_RAIL
except ImportError:  # flat modules on the board and the unix port
    import codes
    from compat import const, micropython
    from detbeats import BEAT_LOCK
    from detchain import FLOOR_BITS, LO_INIT, TOUCH_DEAD, TOUCH_ONE_SIDED, TOUCH_RAIL

_RH_HI = const(23)  # clonus rhythm hysteresis, x16: a swing rises above 1.5x and falls below 0.5x its mean
_RH_LO = const(9)

# Methods of detector.Detector, bound there under the same names (one qstr each): `self` is the Detector,
# every state an int.


@micropython.native
def _rest(self, e, rail_run, flat_run, elp, touch, ms_all):
    # An idle tick that reached _tick (its chain() call began while the detector was busy): chain()'s own idle
    # rule, step for step, so which of the two decides a tick never depends on where a block was cut.
    # True: the tick was rest and is done (floor re-learnt or updated); False: _tick decides it.
    if (self.run >= 0 or self.fault or self.blank or self.cal_left or self.mvc_left or self.bump != -1
            or self.warm < self.up_shift):
        return False
    f0 = self.floor_acc >> FLOOR_BITS
    if ms_all >> 4 < f0:
        f0 = (ms_all >> 5) + (ms_all >> 8)
        self.floor_acc = f0 << FLOOR_BITS
        self.trend_acc = 0
    f = self._thresholds()  # (on_thr and off_thr are set again before anything reads them)
    if e <= self.off_thr and rail_run == 0 and (flat_run < self.flat_ticks or elp >> 3 >= f * 3 or (
            f0 < self.flat_min and not touch & TOUCH_DEAD)):
        self._learn(e, f)
        return True
    return False


@micropython.native
def _start_run(self, t):
    # A run starts: it may become an episode, and lasts until min_off of quiet (so the bursts of a clonus
    # train add up even when each alone is too short).
    self.run = t
    self.run_tail = self.tail_acc
    self.on_ticks = 0
    self.gap = 0
    self.spike = 0
    self.touched = 0
    self.one_sided = 0
    # ecg on: every run must outlast a beat; auto: where a beat is due, and in the first seconds while a
    # rhythm is still being learnt from the narrow bumps seen (or a candidate bump began before this run did:
    # at the end of calibration, say). In raw mode that search holds before any bump was seen, too: the first
    # heartbeat after power-up or a re-calibration was otherwise a twitch. Not on an envelope, where a beat is
    # as wide as a brief grasp and waiting cost the grasps of the first seconds.
    searching = (t < self.search_end and (self.raw or self.last_beat >= 0) and (
        self.beats < BEAT_LOCK or self.last_beat < self.search_start)) or 0 <= self.bump < t
    self.beat_run = 1 if self.ecg == 2 or (self.ecg and (searching or (
        self.rr and self._beat_due(t, 0)))) else 0
    self._reset_episode()
    self.slow = self.fast * 2


@micropython.native
def _run_quiet(self, t, e, f):
    # A tick of a run (not yet an episode) below the offset threshold: rest, a gap, or the run's end.
    self._learn(e, f)  # quiet ticks in a run are rest too
    self.gap += 1
    if self.gap == 1 and self.lone and self.min_on > 1:
        # One tick above the onset threshold with rest on both sides: a single-sample spike (an ADC or supply
        # glitch), not a contraction, whose envelope is smooth (and smoothed here) over more than one tick.
        self.on_ticks -= 1
    if self.gap == 1 and self.beat_run and t - (self.run_on if self.on_ticks else self.run) <= self.beat_w:
        self.run = -1  # the run came when a beat was due and was no wider than one: a heartbeat
        return
    # A run that never reached the onset threshold was rest wobble: it ends at once, so it
    # cannot back-date a later spasm (its ticks were learnt as rest).
    if not self.on_ticks or self.gap >= self.min_off:
        if t - self.run <= self.twitch:
            self.tail_acc = self.run_tail  # the run was rest: its ticks count for the rest tail
        if self.spike:
            self.artefacts += 1  # a run rejected as a pop that ended so
        self.run = -1
        return
    self._collect(t, e)


@micropython.native
def _run_tick(self, t, e, f, on, touch):
    # A tick of a run (not yet an episode) above the offset threshold: the run goes on, perhaps to an onset.
    if self.gap and not self.beat_run and self.ecg and self.rr and self._beat_due(t, 0):
        self._start_run(t)  # resumed where a beat is due: a beat must not complete it (docs/detector.md)
    self._collect(t, e)
    lone = self.gap or t == self.run  # (this tick follows rest)
    self.gap = 0
    if touch & TOUCH_RAIL:
        self.touched = 1
    if touch & TOUCH_ONE_SIDED:
        self.one_sided += 1
    self.lone = 0
    if e > self._held(t, on):
        if not self.on_ticks:
            self.run_on = t
        self.on_ticks += 1
        self.lone = 1 if lone else 0
    # A run's ticks before an onset are rest statistics too (clipped in _learn, so a spasm's first ticks barely
    # move the model): learning only the ticks below the offset threshold would cut the rest distribution at its
    # middle and pull the floor and the spread down. Not where a locked heartbeat rhythm has a beat due: the beat
    # is the gate's to judge, and the rest model describes the rest between beats.
    if not (self.beat_run and self.beats >= BEAT_LOCK):
        self._learn(e, f)
    if self.on_ticks >= self.min_on and t - self.run + 1 >= self.min_dur and self.on_ticks:
        self._onset(t, e, f)


@micropython.native
def _onset(self, t, e, f):
    # A run has met the onset rules: an episode starts unless it is a heartbeat or an electrode pop.
    if self.beat_run and (t - self.run_on < self.beat_w or 3 * e < self.peak) and (
            self.peak < 2 * self.beat_amp or self.ecg == 2 or self.beats < BEAT_LOCK):
        # a run where a beat was due is EMG only once it outlasts a heartbeat bump: still near its
        # peak, not on the bump's decaying tail (which a low floor keeps above the offset threshold); or
        # once it rises over twice the usual beat of a locked rhythm (heartbeats vary little in size)
        return
    # A contraction outlasts spike_ms; an electrode pop or a click (a cable tap) is over within it. Narrow: the
    # run's area above the floor, in unsmoothed 10 ms means, is at most spike_ms of its peak (its width as a
    # rectangle of that peak). Not the ticks above half the peak: one 10 ms rectified mean of EMG swings by a
    # factor of two at random, and against one such tick a 110 ms burst counted two ticks. Near the floor
    # (below 5x), where noise ticks fill the area, those ticks stay the measure. A pop that drives the front
    # end onto a rail or far above the floor (40x) is also one when it decays from one side of the baseline
    # (strong EMG swings both ways; weaker runs, and few samples per tick, pass that test too easily).
    narrow = self.wide <= self.spike_ticks
    if self.peak > f * 5:
        narrow = self.farea <= self.spike_ticks * self.fpeak
    if self.spike_ticks and (narrow or (
            (self.touched or self.peak > f * 40) and self.one_sided >= 2)):
        self.spike = 1  # (counted in artefacts if the run ends so, _run_quiet: a run still rising may widen)
        return
    self._start_episode(t, f)


def _start_episode(self, t, f):
    self.state = 1
    self.onset = self.run
    self.run = -1
    self.ep_floor = f
    self._push(codes.EV_ONSET, 0, self.onset, -1, t + 1, 0, 0, f)


@micropython.native
def _collect(self, t, e):
    self.n_ep += 1
    if e > self.peak:
        self.peak = e
    # The 7/8 fall is measured from a peak that fades over 4 times the floor's rise time (~40 s): a cramp that
    # holds for minutes is not cut at 1/8 of its saturated start, while the pauses of a grasp-and-release
    # cycle (~5 s, a real MyoWare's log) still end the episode.
    self.tail_ref -= self.tail_ref >> (self.up_shift + 2)
    if e > self.tail_ref and not (
            self.ecg and self.rr and e < 2 * self.beat_amp and self._beat_due(t, self.beat_w)):
        # (a due heartbeat is not the episode's rise: measured from a beat far above a weak spasm, the 7/8
        # fall would end the spasm at the beat's decay)
        self.tail_ref = e
    v = self.fast  # width on the unsmoothed 10 ms mean: smoothing would stretch a pop
    if v > self.fpeak:
        if v > self.fpeak * 2:  # a new dominant peak: earlier ticks are no longer near it
            self.wide = 0
        self.fpeak = v
    if v * 2 >= self.fpeak:
        self.wide += 1
    v -= self.floor_acc >> FLOOR_BITS  # the run's area above the rest floor (see _onset)
    if v > 0 and self.farea < 1 << 24:
        self.farea += v
    self.mean_acc += ((e << 4) - self.mean_acc) // self.n_ep
    self._rhythm(t)


@micropython.native
def _in_episode(self, t, e, off, ms, f):
    self._collect(t, e)
    if t - self.onset >= self.relearn and self.mean_acc >> 4 < self.on_thr + ((self.on_thr - f) >> 1):
        # Low contrast for long: on average within 1.5 times the onset test's margin of the floor for relearn_s,
        # this is a rest level that stepped up, not a spasm. End it and re-learn the floor from the minimum
        # statistics.
        self._end_episode(t, t)
        if ms < LO_INIT >> 5:
            self.floor_acc = (ms + (ms >> 3)) << FLOOR_BITS
        self._rewarm()  # a new rest level: its spread is measured anew too
        return
    # Back to rest is relative to the episode's size too: an envelope that fell by 7/8 of its rise above the
    # offset threshold is rest again (a strong grasp leaves a slowly relaxing tail many rest spreads high).
    mid = self.on_thr + off  # (x2) a quiet stretch is broken only above mid-way between the thresholds
    if self.tail_ref > off:
        off += (self.tail_ref - off) >> 3
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
    elif self.quiet < 0 or e * 2 > mid:
        # activity again: only a tick above mid-way between the thresholds breaks a quiet stretch,
        # so rest wobble just above the offset threshold (or a heartbeat) does not stretch the episode; a tick
        # above twice the usual beat is not a heartbeat (they vary little in size, as in _bump), nor is a
        # stretch above the offset threshold that outlasts a beat, nor a second bump within 3/4 of a beat
        # interval (as in _beat): deep in an episode no beat is seen, the phase is lost and a beat may be due
        # anywhere, and a weak spasm's bursts were then all excused
        if self.quiet >= 0 and self.ecg and self.rr and self.cl_good < 3 and e < 2 * self.beat_amp and (
                t - self.blip < self.beat_w if self.blip >= 0 else t - self.last_blip >= (3 * self.rr) >> 2
        ) and self._beat_due(t, self.beat_w):
            if self.blip < 0:
                self.blip = t
                self.last_blip = t
            return
        self.quiet = -1
        if t - self.onset >= self.max_ep:  # a floor that jumped (electrode shift): end and re-learn
            self._end_episode(t, t)
            self.floor_acc = e << FLOOR_BITS
            self._rewarm()


@micropython.native
def _rhythm(self, t):
    # Clonus: the 10 ms rectified mean, lightly smoothed so it averages ~16 samples (two ticks at 1 kHz,
    # eight at 200 Hz: fewer leave noise swinging in the band), swings around its ~150 ms mean at 3-8 Hz.
    # Count rising swings whose period is in that band (good) or not (bad). The smoothed envelope is not
    # used here: its own random wobble lies in the same band.
    v = self.fast
    if not self.raw:  # an envelope swings around its resting level, not around zero: measure from the floor
        v -= self.floor_acc >> FLOOR_BITS
        if v < 0:
            v = 0
    self.rh_sig += (2 * v - self.rh_sig) >> self.rh_shift
    v = self.rh_sig
    self.slow += (v - self.slow) >> self.slow_shift
    s = self.slow
    if self.hi_state:
        if v * 16 < s * _RH_LO:
            self.hi_state = 0
    elif v * 16 > s * _RH_HI:
        self.hi_state = 1
        if self.last_up >= 0:
            period = t - self.last_up
            if self.cl_min <= period <= self.cl_max:
                self.cl_good += 1
            else:
                self.cl_bad += 1
        self.last_up = t


def _end_episode(self, offset, t):
    if self.ecg and self.beats >= BEAT_LOCK and self.onset - self.last_beat <= self.rr_stale:
        # The rhythm was alive when the episode began, so the episode hid beats (however long it lasted): look
        # for them again before trusting a narrow bump.
        self.search_start = t
        self.search_end = t + self.search
    dur = offset - self.onset
    if dur < self.twitch:
        kind = codes.KIND_TWITCH
    elif self.cl_good >= 3 and self.cl_good >= 2 * self.cl_bad:
        kind = codes.KIND_CLONUS
    elif dur < 2 * self.twitch and self.wide * 2 < self.twitch:  # a strong jerk with a long tail
        kind = codes.KIND_TWITCH
    else:
        kind = codes.KIND_TONIC
    self._push(codes.EV_END, kind, self.onset, offset, t + 1, self.peak, self.mean_acc >> 4, self.ep_floor)
    off = self.off_thr
    self.hold_thr = off + ((self.tail_ref - off) >> 3) if self.tail_ref > off else 0
    self.hold_t = t
    self.state = 0
    self.run = -1
