"""Calibration runs and their checks (rest is rest, a contraction well above it), and the saved calib.json."""

import json
import os
from array import array

REST_MAX_X = 2  # a new rest floor may be at most this many times the floor in use
REST_STEADY_X = 1.5  # the loudest quarter of a rest period at most this many times the quietest
MVC_MIN_X = 5  # a maximal contraction at least this many times the floor
MVC_HELD = 0.5  # ... and above that level for at least this share of the period
SCALE = 16  # detector.ENV_SCALE: levels are counts x 16 (not imported: this module needs no detector code)


def _counts(v):
    return "%.1f" % (v / SCALE)


class Run:
    """One `calibrate rest|mvc` run over the detectors: what each block looked like, for check()."""

    def __init__(self, kind, seconds, dets, capped=True):
        n = len(dets)
        self.kind = kind
        self.capped = capped  # hold a new rest floor to REST_MAX_X x the one in use (not right after a clear)
        self.seconds = seconds
        # the floor in use, the reference a new rest floor is held to (0: none yet, the start-up one is running)
        self.kept = [0 if d.cal_left else d.floor for d in dets]
        self.kept_mvc = [d.mvc for d in dets]
        self.qsum = array("i", bytes(16 * n))  # rest: envelope sum per quarter of the period, per channel
        self.qn = array("i", bytes(16 * n))
        self.held = array("i", bytes(4 * n))  # rest: highest level held over two blocks in a row (a burst)
        self.prev = array("i", bytes(4 * n))
        self.above = array("i", bytes(4 * n))  # mvc: blocks at or above MVC_MIN_X x the floor
        self.blocks = 0
        for d in dets:
            if kind == "mvc":
                d.calibrate_mvc(int(seconds * 1000))
            else:
                d.calibrate_rest(int(seconds * 1000))

    def sample(self, dets):
        """Take one block's envelope of every channel (no allocation: small ints into arrays)."""
        self.blocks += 1
        for c in range(len(dets)):
            d = dets[c]
            e = d.env
            if self.kind == "mvc":
                if d.mvc_left and e >= MVC_MIN_X * d.floor:
                    self.above[c] += 1
                continue
            if not d.cal_left:
                continue
            q = (d.cal_total - d.cal_left) * 4 // d.cal_total
            q = 4 * c + (q if q < 4 else 3)
            self.qsum[q] += e
            self.qn[q] += 1
            low = e if e < self.prev[c] else self.prev[c]
            if low > self.held[c]:
                self.held[c] = low
            self.prev[c] = e

    def done(self, dets):
        for d in dets:
            if (d.mvc_left if self.kind == "mvc" else d.cal_left) > 0:
                return False
        return True

    def check(self, dets):
        """The problems found, one short text per channel that failed ('' when all passed)."""
        out = []
        for c in range(len(dets)):
            d = dets[c]
            p = self._mvc(c, d) if self.kind == "mvc" else self._rest(c, d)
            if p:
                out.append("ch%d: %s" % (c, p))
        return "; ".join(out)

    def _rest(self, c, d):
        new = d.floor
        d._thresholds()
        on = d.on_thr  # the onset threshold of the new rest model
        if self.held[c] > on:
            return "not at rest: activity at %.0fx the new floor" % (self.held[c] / new)
        qs = [self.qsum[4 * c + i] // self.qn[4 * c + i] for i in range(4) if self.qn[4 * c + i]]
        if qs and max(qs) > REST_STEADY_X * max(1, min(qs)) + SCALE:  # + 1 count: ADC steps at a quiet rest
            return "not steady: %s to %s counts" % (_counts(min(qs)), _counts(max(qs)))
        if self.capped and self.kept[c] and new > REST_MAX_X * self.kept[c]:
            return "floor %s counts is over %dx the one in use (%s); if the electrodes moved: calibrate clear" % (
                _counts(new), REST_MAX_X, _counts(self.kept[c]))
        return ""

    def _mvc(self, c, d):
        floor = d.floor
        if d.mvc < MVC_MIN_X * floor:
            return "contraction %.1fx the floor, needs %dx" % (d.mvc / floor, MVC_MIN_X)
        share = self.above[c] / max(1, self.blocks)
        if share < MVC_HELD:
            return "not held: above %dx the floor for %d%% of the time" % (MVC_MIN_X, int(share * 100))
        return ""

    def undo(self, dets):
        """Put back what the detectors used before this run (a refused result must not stay in use)."""
        for c in range(len(dets)):
            if self.kind == "mvc":
                dets[c].mvc = self.kept_mvc[c]
            elif self.kept[c]:
                dets[c].set_floor(self.kept[c])
            else:  # there was none yet: learn it again as at start-up
                dets[c].calibrate_rest(dets[c].params["calib_ms"])


# -- the `calibrate` commands, run for the app (kept here, off the heap of a board that is not calibrating) -------
def command(app, name, args):
    """calibrate rest|mvc SECONDS (starts a Run), show, undo, clear."""
    sub = name[10:]
    dets = app.dets
    path = app.calib_path()
    if app.cal is not None and sub != "show":
        raise ValueError("a calibration is running")
    if sub == "rest" or sub == "mvc":
        app.cal = Run(sub, args[0], dets, not app.cleared)
        app.ok(name, {"state": "started", "seconds": args[0]})
        return
    if sub == "show":
        saved = read(path)
        app.ok(name, {"floor": [d.floor for d in dets], "mvc": [d.mvc for d in dets],
                      "saved": saved and {"floor": saved.get("floor"), "mvc": saved.get("mvc")},
                      "running": app.cal is not None})
        return
    if sub == "undo":
        back = undo(path)
        if back is not None and back.get("key") == app.calib_key():
            app.apply_calibration()
            app.ok(name, {"floor": back.get("floor"), "mvc": back.get("mvc")})
            return
    else:
        clear(path)
    app.cleared = True
    for d in dets:  # no calibration (or one for other settings): learn the floor again from now
        d.calibrate_rest(d.params["calib_ms"])
        d.mvc = 0
    app.ok(name, {"floor": None, "relearn_s": dets[0].params["calib_ms"] / 1000})


def step(app):
    """One block of the running calibration; True when it ended (reply sent, result kept or refused)."""
    run = app.cal
    dets = app.dets
    run.sample(dets)
    if not run.done(dets):
        return False
    app.cal = None
    name = "calibrate " + run.kind
    problem = run.check(dets)
    if problem:
        run.undo(dets)  # a refused result never stays in use
        app.error(name, problem)
        return True
    data = {"state": "done", "seconds": run.seconds, "floor": [d.floor for d in dets]}
    app.cleared = app.cleared and run.kind == "mvc"
    if run.kind == "mvc":
        data["mvc"] = [d.mvc for d in dets]
    else:
        data["kept"] = run.kept  # the floor in use before: the host shows both
    try:
        save(app.calib_path(), {"key": app.calib_key(), "floor": [d.floor for d in dets],
                                "mvc": [d.mvc for d in dets]})
    except OSError as e:
        app.error(name, "calibration not saved: %r" % (e,))
    app.ok(name, data)
    return True


# -- calib.json: the kept calibration, and calib.json.prev, what it replaced (for `calibrate undo`) -------------
def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def read(path):
    """The saved calibration (dict) or None when there is none or it is unreadable."""
    try:
        with open(path) as f:
            cal = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return cal if isinstance(cal, dict) and cal else None


def _write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    if _exists(path):
        os.remove(path)
    os.rename(path + ".tmp", path)


def _keep_prev(path):
    # What is saved now becomes the undo copy; "{}" stands for "no calibration", so a first one can be undone.
    prev = path + ".prev"
    if _exists(prev):
        os.remove(prev)
    if _exists(path):
        os.rename(path, prev)
    else:
        _write(prev, "{}")


def save(path, data):
    _keep_prev(path)
    _write(path, json.dumps(data))


def clear(path):
    """Forget the saved calibration (kept as the undo copy); nothing saved is not an error: the floor is
    learnt again either way."""
    if _exists(path):
        _keep_prev(path)


def undo(path):
    """Swap the saved calibration with the one it replaced; returns the one now saved (None: none)."""
    prev = path + ".prev"
    if not _exists(prev):
        raise ValueError("no earlier calibration to go back to")
    tmp = path + ".swap"
    if _exists(path):
        os.rename(path, tmp)
    os.rename(prev, path)
    if _exists(tmp):
        os.rename(tmp, prev)
    else:
        _write(prev, "{}")
    cal = read(path)
    if cal is None:
        os.remove(path)  # "{}": back to no calibration
    return cal
