"""Heartbeat gate of the detector: narrow envelope bumps, the beat rhythm they keep, and where it predicts a beat."""

try:
    from .compat import const, micropython
    from .detchain import LO_INIT
except ImportError:  # flat modules on the board and the unix port
    from compat import const, micropython
    from detchain import LO_INIT

BEAT_LOCK = const(4)  # regular beats in a row before a heartbeat rhythm gates runs

# Methods of detector.Detector, bound there under the same names (one qstr each): `self` is the Detector,
# every state an int.


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
    # Heartbeat candidates: bumps that rise above the onset threshold and fall back
    # (below the offset threshold or a third of their peak) within beat_ms, also during calibration and
    # episodes, so the rhythm is known before the first beat could become a twitch.
    if self.bump < 0:
        if self.bump == -2:  # a bump ended on its decay: the next one starts only after a return to rest
            if e <= self.off_thr:
                self.bump = -1
        elif e > self.off_thr and (e > 3 * ms or ms == LO_INIT >> 5 or not self.raw) and e > self.on_thr:
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
        elif t - self.bump <= self.beat_w and (self.beats < BEAT_LOCK or self._beat_due(self.bump, 0)):
            # a narrow bump of another size where a beat is due: the beats may have changed (off a locked
            # rhythm it is not a beat: the bursts of a clonus train had shrunk the usual beat to a third)
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
                # Too soon after a beat to be one: a heart never beats this fast, so beat-like bumps this
                # close are EMG (the bursts of a clonus train), and the rhythm they seemed to keep loses
                # confidence.
                if self.beats > 0:
                    self.beats -= 1
                if iv < self.beat_w:
                    # within a beat's width: the first bump was this beat's start (a P wave before the QRS),
                    # so this one is its time, as for the rhythm's other beats
                    self.last_beat = tb
                return
        elif iv < self.rr_min:
            return  # too soon after the first candidate: keep it
        elif iv <= self.rr_max:
            self.rr = iv
            self.beats = 1
    self.last_beat = tb
