"""The detector's per-sample chain: integer filters, envelope and 10 ms tick summaries, and its slot layout."""

try:  # CPython, the spasmfw package
    from .compat import const, micropython, ptr16
except ImportError:  # flat: the board and the unix port, where viper code has ptr16 built in, and CPython running
    from compat import const, micropython  # the flat files (bench/detector_cost.py), where compat makes it a builtin

from array import array
import math

# MicroPython folds a const() only inside the module that defines it, and viper indexes and shifts with native
# ints only: so every slot and constant chain() uses is defined here. Names with an underscore exist only at
# compile time (no RAM on the board); the public ones are also module globals, for detector.py. That is why this
# module is longer than the project's 450 lines: chain() (~340 lines, viper) and the ~100 slots it reads as
# folded constants cannot be split apart without turning every slot access of the per-sample loop into a module
# dict lookup.
ENV_SCALE = const(16)  # envelope, floor and thresholds are in ADC counts x 16 (4 fractional bits)
COEF_BITS = const(12)  # biquad coefficients in Q12: every product stays below 2**28 (see docs/detector.md)
FLOOR_BITS = const(12)  # extra fractional bits of the slowly adapting noise floor
_TICKS_MAX = const(16)  # tick summaries one chain() call may produce before the decisions run
TK_W = const(8)  # values per tick summary handed from chain() to Detector._tick
TAIL_SHIFT = const(6)  # the rest tail (detrest): 1 rest tick in 2**6 + 1 above it, the 98.5th percentile
TAIL_Q = const(43)  # its height on a normal rest: 2.16 SD = 2.71 mean absolute deviations, x16
TREND_BITS = const(8)  # extra fractional bits of the floor's trend (floor units per tick, see detrest._learn)
LO_INIT = const(0x3FFFFFFF)  # "no minimum yet": the largest small int of a 32-bit port
_MS_SUB = const(50)  # ticks per sub-window of the floor's minimum statistics (~0.5 s)
_MS_N = const(10)  # sub-windows kept: the minimum covers the last ~5 s
_EB_SUB = const(200)  # ticks per sub-window of an envelope's resting level: its minimum covers ~20 s

# ---- state slots: array('i') st, one per detector ---------------------------------------------------------
_S_OFF = const(0)  # DC reference (raw), envelope offset or tracked resting level (env), subtracted first
_S_X1 = const(1)  # high-pass section 1: inputs x[n-1], x[n-2], outputs y[n-1], y[n-2]
_S_X2 = const(2)
_S_Y1 = const(3)
_S_Y2 = const(4)
_S_Z1 = const(5)  # high-pass section 2: inputs, outputs
_S_Z2 = const(6)
_S_W1 = const(7)
_S_W2 = const(8)
_S_V1 = const(9)  # mains notch: inputs, outputs
_S_V2 = const(10)
_S_U1 = const(11)
_S_U2 = const(12)
_S_T1 = const(13)  # low-pass: inputs, outputs
_S_T2 = const(14)
_S_L1 = const(15)
_S_L2 = const(16)
_S_P1 = const(17)  # Teager-Kaiser: the previous two (x/4) inputs
_S_P2 = const(18)
_S_E1 = const(19)  # rounding residues carried by the high-pass sections, the notch and the low-pass
_S_E2 = const(20)
_S_EN = const(21)
_S_EL = const(22)
_S_SMOOTH = const(23)  # the smoothed envelope x 2**k (k = c[_C_SMOOTH])
_S_FILTERS = const(24)  # slots 1 .. _S_FILTERS - 1 are the filters and envelope: resettle() clears them
_S_ACC = const(24)  # this tick so far: envelope sum, samples, lowest and highest sample, sample-to-sample moves
_S_CNT = const(25)
_S_LO = const(26)
_S_HI = const(27)
_S_MOVES = const(28)
_S_PREV = const(29)  # the previous sample
_S_RACC = const(30)  # this tick so far: unsmoothed rectified sum (clonus rhythm), raw sample sum (baseline)
_S_RSUM = const(31)
_S_RAIL_RUN = const(32)  # fault runs in ticks: at a rail, flat (with its glitch count), dead (one repeated value)
_S_FLAT_RUN = const(33)
_S_FLAT_MOVES = const(34)
_S_DEAD_RUN = const(35)
_S_DEAD_V = const(36)
_S_ELP = const(37)  # ~300 ms mean of the envelope x 32
_S_BASE = const(38)  # tracking (~80 ms) baseline of the raw tick means x 16, for the one-sided pop test
_S_EB = const(39)  # env_track: resting level (lowest of the ring), this sub-window's minimum, its ticks, ring index
_S_EB_MIN = const(40)
_S_EB_CNT = const(41)
_S_EB_POS = const(42)
_S_MS_MIN = const(43)  # floor minimum statistics: this sub-window's minimum, its ticks, ring index, lowest of ring
_S_MS_CNT = const(44)
_S_MS_POS = const(45)
_S_MS_ALL = const(46)
S_IDLE = const(47)  # in: 1 if idle ticks may finish inside chain(), -1 one tick per call (Detector.process)
S_FLOOR = const(48)  # in/out: Detector.floor_acc
S_TICK = const(49)  # in/out: the index of the first tick handed to _tick, or of the next tick
S_ENV = const(50)  # out: the last tick's mean envelope
S_NT = const(51)  # out: tick summaries written to tk
_S_MS_RING = const(52)  # _MS_N sub-window minima of the ~300 ms mean
_S_EB_RING = const(62)  # _MS_N sub-window minima of the tick means (env_track)
S_DEV = const(72)  # in/out: Detector.dev_acc, the rest envelope's spread (see Detector._learn)
S_TAIL = const(73)  # in/out: Detector.tail_acc, the rest envelope's upper tail (see detrest)
S_TREND = const(74)  # in/out: Detector.trend_acc, the floor's trend (see detrest._learn)
_ST_LEN = const(75)

# ---- coefficient slots: array('i') c, fixed once the parameters are known ---------------------------------
_C_FLAGS = const(0)  # _F_* bits
_C_HP1_G = const(1)  # high-pass sections, notch and low-pass: Q12 (g, a1, a2), see biquad()
_C_HP1_A1 = const(2)
_C_HP1_A2 = const(3)
_C_HP2_G = const(4)
_C_HP2_A1 = const(5)
_C_HP2_A2 = const(6)
_C_NOTCH_G = const(7)
_C_NOTCH_A1 = const(8)
_C_NOTCH_A2 = const(9)
_C_LP_G = const(10)
_C_LP_A1 = const(11)
_C_LP_A2 = const(12)
_C_SMOOTH = const(13)  # envelope smoothing shift k
_C_DEC = const(14)  # samples per tick
_C_STEP = const(15)  # flat_step in counts
_C_RAIL_HI = const(16)  # a sample at or beyond these is at a rail
_C_RAIL_LO = const(17)
_C_FLAT_CAP = const(18)  # cap of the flat and dead runs (bounds the glitch budget)
_C_OFF_Q = const(19)  # offset threshold above the floor, x16 multiple of the rest spread
_C_UP = const(20)  # shifts of the rising and falling floor
_C_DOWN = const(21)
_C_MIN_FLOOR = const(22)
_C_FLAT_TICKS = const(23)  # flat/dead run that is a fault
_C_DEV_MIN = const(24)  # least rest spread (quantisation)
_C_FLAT_MIN = const(25)  # rest floor a flat line is compared with (below it, only a dead line is a fault)
_C_LEN = const(26)
_F_HP = const(1)
_F_NOTCH = const(2)
_F_LP = const(4)
_F_TKEO = const(8)
_F_RAW = const(16)
_F_TRACK = const(32)
_F_POP = const(64)

# ---- tick summary slots: TK_W values per tick in tk, Detector._tick's arguments in this order ------------------
_T_ACC = const(0)  # envelope sum over the tick
_T_RAIL = const(1)  # rail run
_T_FLAT = const(2)  # flat run
_T_RACC = const(3)  # unsmoothed rectified sum
_T_ELP = const(4)  # ~300 ms mean x 32
_T_TOUCH = const(5)  # TOUCH_* bits
_T_MS = const(6)  # lowest ~300 ms mean of the last ~5 s (x 32)
_T_BASE = const(7)  # the offset in use (env_track: the resting level)
TOUCH_RAIL = const(1)  # some sample of the tick at a rail
TOUCH_ONE_SIDED = const(2)  # every sample on one side of the tracking baseline (a pop decaying)
TOUCH_DEAD = const(4)  # a raw reading that has not changed at all for flat_ms


def shift(n):
    """Smallest k with 2**k >= n: a one-pole filter x += (y - x) >> k has time constant ~n steps."""
    k = 0
    while (1 << k) < n and k < 24:
        k += 1
    return k


def biquad(kind, f0, q, rate):
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


def coefficients(d, p, hp, lp, mains):
    """The coefficient array of detector d (its derived settings) for parameters p and the corners in use."""
    rate_hz = d.rate_hz
    c = array("i", bytes(4 * _C_LEN))  # (from zero bytes: no temporary list on a small heap)
    c[_C_FLAGS] = (_F_HP if hp else 0) | (_F_NOTCH if mains else 0) | (_F_LP if lp else 0) | (
        _F_TKEO if p["tkeo"] else 0) | (_F_RAW if d.raw else 0) | (_F_TRACK if d.env_track else 0) | (
        _F_POP if p["pop_track"] else 0)
    if hp:  # 4th-order Butterworth as two biquads (Q = 0.5412, 1.3066)
        c[_C_HP1_G], c[_C_HP1_A1], c[_C_HP1_A2] = biquad("hp", hp, 0.5412, rate_hz)
        c[_C_HP2_G], c[_C_HP2_A1], c[_C_HP2_A2] = biquad("hp", hp, 1.3066, rate_hz)
    if mains:
        c[_C_NOTCH_G], c[_C_NOTCH_A1], c[_C_NOTCH_A2] = biquad("notch", mains, 8.0, rate_hz)
    if lp:
        c[_C_LP_G], c[_C_LP_A1], c[_C_LP_A2] = biquad("lp", lp, 0.7071, rate_hz)
    c[_C_SMOOTH] = shift(p["smooth_ms"] * rate_hz / 1000)
    c[_C_DEC] = d.tick_samples
    c[_C_STEP] = int(p["flat_step"])
    c[_C_RAIL_HI] = d.rail_hi
    c[_C_RAIL_LO] = d.rail_lo
    c[_C_FLAT_CAP] = min(d.flat_ticks, 1 << 16)  # flat runs are capped here, so the glitch budget stays bounded
    c[_C_OFF_Q] = d.off_q
    c[_C_UP] = d.up_shift
    c[_C_DOWN] = d.down_shift
    c[_C_MIN_FLOOR] = d.min_floor
    c[_C_FLAT_TICKS] = d.flat_ticks
    c[_C_DEV_MIN] = d.dev_min
    c[_C_FLAT_MIN] = d.flat_min
    return c


def state():
    """(st, tk): the chain's state slots and its buffer of _TICKS_MAX tick summaries, all zero."""
    return array("i", bytes(4 * _ST_LEN)), array("i", bytes(4 * TK_W * _TICKS_MAX))


def start(st, first, off):
    """Seed the state from the first sample (no start-up step in the filters) and the offset to subtract."""
    st[_S_OFF] = off
    st[_S_PREV] = first
    st[_S_LO] = LO_INIT
    st[_S_HI] = -1
    st[_S_BASE] = first << 4
    st[_S_EB] = first
    st[_S_EB_MIN] = LO_INIT
    st[_S_MS_MIN] = LO_INIT
    st[_S_MS_CNT] = -_MS_SUB  # skip the first sub-window: the ~300 ms mean is still rising from 0
    st[_S_MS_ALL] = LO_INIT
    for j in range(_S_MS_RING, _S_EB_RING + _MS_N):  # both minimum-statistics rings start empty
        st[j] = LO_INIT


def resettle(st, raw, env_track, env_offset):
    """After a fault the filters hold the jump from the rail: restart them from the current level."""
    for j in range(1, _S_FILTERS):
        st[j] = 0
    st[_S_OFF] = st[_S_PREV] if raw else (st[_S_EB] if env_track else env_offset)


# One long function on purpose: viper keeps every state in a machine register or stack slot only within one
# function, and a call per sample or per tick would box its arguments; so chain() loads the state once, runs a
# whole block (or _TICKS_MAX ticks) and stores it back. Integer-only throughout (see docs/detector.md).
@micropython.viper
def chain(buf, i: int, n: int, st, c, tk) -> int:
    """Filter buf[i:n] (or until _TICKS_MAX ticks are summarised in tk); returns the next sample index."""
    b = ptr16(buf)
    flags = int(c[_C_FLAGS])
    # the stages and options in use, as locals: tested per sample or tick (on CPython a global is a lookup)
    use_hp = flags & _F_HP
    use_notch = flags & _F_NOTCH
    use_lp = flags & _F_LP
    is_raw = flags & _F_RAW
    use_tkeo = flags & _F_TKEO
    use_pop = flags & _F_POP
    use_track = flags & _F_TRACK
    off = int(st[_S_OFF])
    x1 = int(st[_S_X1])
    x2 = int(st[_S_X2])
    y1 = int(st[_S_Y1])
    y2 = int(st[_S_Y2])
    z1 = int(st[_S_Z1])
    z2 = int(st[_S_Z2])
    w1 = int(st[_S_W1])
    w2 = int(st[_S_W2])
    v1 = int(st[_S_V1])
    v2 = int(st[_S_V2])
    u1 = int(st[_S_U1])
    u2 = int(st[_S_U2])
    env = int(st[_S_SMOOTH])
    acc = int(st[_S_ACC])
    cnt = int(st[_S_CNT])
    lo = int(st[_S_LO])
    hi = int(st[_S_HI])
    moves = int(st[_S_MOVES])
    prev = int(st[_S_PREV])
    t1 = int(st[_S_T1])
    t2 = int(st[_S_T2])
    l1 = int(st[_S_L1])
    l2 = int(st[_S_L2])
    p1 = int(st[_S_P1])
    p2 = int(st[_S_P2])
    e1 = int(st[_S_E1])
    e2 = int(st[_S_E2])
    en = int(st[_S_EN])
    el = int(st[_S_EL])
    g1 = int(c[_C_HP1_G])
    a11 = int(c[_C_HP1_A1])
    a12 = int(c[_C_HP1_A2])
    g2 = int(c[_C_HP2_G])
    a21 = int(c[_C_HP2_A1])
    a22 = int(c[_C_HP2_A2])
    gn = int(c[_C_NOTCH_G])
    an1 = int(c[_C_NOTCH_A1])
    an2 = int(c[_C_NOTCH_A2])
    gl = int(c[_C_LP_G])
    al1 = int(c[_C_LP_A1])
    al2 = int(c[_C_LP_A2])
    k = int(c[_C_SMOOTH])
    dec = int(c[_C_DEC])
    step = int(c[_C_STEP])
    rail_hi = int(c[_C_RAIL_HI])
    rail_lo = int(c[_C_RAIL_LO])
    flat_cap = int(c[_C_FLAT_CAP])
    rail_run = int(st[_S_RAIL_RUN])
    flat_run = int(st[_S_FLAT_RUN])
    flat_moves = int(st[_S_FLAT_MOVES])
    racc = int(st[_S_RACC])
    idle = int(st[S_IDLE])  # (-1: a fault is open, one tick per call: resettle() acts from the next sample)
    floor_acc = int(st[S_FLOOR])
    tick = int(st[S_TICK])
    e = int(st[S_ENV])
    elp = int(st[_S_ELP])
    off_q = int(c[_C_OFF_Q])
    up_shift = int(c[_C_UP])
    down_shift = int(c[_C_DOWN])
    min_floor = int(c[_C_MIN_FLOOR])
    flat_ticks = int(c[_C_FLAT_TICKS])
    dev_acc = int(st[S_DEV])
    tail_acc = int(st[S_TAIL])
    trend = int(st[S_TREND])
    dev_min = int(c[_C_DEV_MIN])
    flat_min = int(c[_C_FLAT_MIN])
    rsum = int(st[_S_RSUM])
    base = int(st[_S_BASE])
    eb = int(st[_S_EB])
    eb_min = int(st[_S_EB_MIN])
    eb_cnt = int(st[_S_EB_CNT])
    eb_pos = int(st[_S_EB_POS])
    ms_min = int(st[_S_MS_MIN])
    ms_cnt = int(st[_S_MS_CNT])
    ms_pos = int(st[_S_MS_POS])
    ms_all = int(st[_S_MS_ALL])
    dead_run = int(st[_S_DEAD_RUN])
    dead_v = int(st[_S_DEAD_V])
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
        if use_hp:  # high-pass, two Butterworth sections (numerator g*[1,-2,1])
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
        if use_notch:  # mains notch: numerator g*[1, -2cos, 1], whose middle term equals a1
            y = gn * (x + v2) + an1 * (v1 - u1) - an2 * u2 + en
            en = y & mask
            y = y >> COEF_BITS
            v2 = v1
            v1 = x
            u2 = u1
            u1 = y
            x = y
        if use_lp:  # low-pass, numerator g*[1,2,1]
            y = gl * (x + (t1 << 1) + t2) - al1 * l1 - al2 * l2 + el
            el = y & mask
            y = y >> COEF_BITS
            t2 = t1
            t1 = x
            l2 = l1
            l1 = y
            x = y
        if is_raw:
            if use_tkeo:  # Teager-Kaiser energy p1^2 - x*p2, on x/4 so the squares stay below 2**28
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
            touch = TOUCH_RAIL if (hi >= rail_hi or lo <= rail_lo) else 0  # some sample at a rail
            # Every sample on one side of the tracking (~80 ms) baseline by more than the tick's own spread:
            # a pop decaying, not EMG (which swings both ways around its local mean, also on a slow swing).
            m = rsum // dec
            if use_pop:
                sp = hi - lo
                if sp < 16:
                    sp = 16
                if lo > (base >> 4) + sp or hi < (base >> 4) - sp:
                    touch += TOUCH_ONE_SIDED
                base += ((m << 4) - base) >> 3
            elif lo > off + 16 or hi < off - 16:  # (pop_track=0: against the first sample, as before)
                touch += TOUCH_ONE_SIDED
            if use_track:
                # An envelope's resting level (an RMS output on an offset): the lowest tick mean of the
                # last ~20 s, so it falls at once and rises only after 20 s without a return to rest.
                if m < eb_min:
                    eb_min = m
                eb_cnt += 1
                if eb_cnt >= _EB_SUB:
                    st[_S_EB_RING + eb_pos] = eb_min
                    eb_pos += 1
                    if eb_pos == _MS_N:
                        eb_pos = 0
                    eb_min = LO_INIT
                    eb_cnt = 0
                    eb = LO_INIT
                    j = _S_EB_RING
                    while j < _S_EB_RING + _MS_N:
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
            if hi == lo and lo == dead_v and is_raw:
                if dead_run < flat_cap:
                    dead_run += 1
            else:
                dead_run = 0
            dead_v = prev
            if dead_run >= flat_ticks:
                touch += TOUCH_DEAD
            e = acc // dec
            elp += e - (elp >> 5)  # ~300 ms mean of the envelope (x 32), for the flat-line test
            # Minimum statistics: the lowest ~300 ms mean over the last ~5 s is the rest level even while
            # activity, heartbeats or a stepped-up electrode keep the envelope above the thresholds.
            if elp < ms_min and ms_cnt >= 0:
                ms_min = elp
            ms_cnt += 1
            if ms_cnt >= _MS_SUB:
                st[_S_MS_RING + ms_pos] = ms_min
                ms_pos += 1
                if ms_pos == _MS_N:
                    ms_pos = 0
                ms_min = LO_INIT
                ms_cnt = 0
                ms_all = LO_INIT
                j = _S_MS_RING
                while j < _S_MS_RING + _MS_N:
                    v = int(st[j])
                    if v < ms_all:
                        ms_all = v
                    j += 1
            if idle > 0:
                # The common case stays here: idle, at rest, no fault brewing. The rest model follows rest
                # only (below the offset threshold): spasms never pull it up. (Detector._learn does the same.)
                f0 = floor_acc >> FLOOR_BITS
                if ms_all >> 4 < f0:  # (as in _tick) a floor above twice the rest level is re-learnt
                    f0 = (ms_all >> 5) + (ms_all >> 8)
                    floor_acc = f0 << FLOOR_BITS
                    trend = 0
                f = f0
                if f < min_floor:
                    f = min_floor
                sd = dev_acc >> FLOOR_BITS
                if sd < dev_min:
                    sd = dev_min
                tl = ((tail_acc >> FLOOR_BITS) << 4) // TAIL_Q  # the tail's step: as in detrest._learn
                tl = sd if tl < sd else (sd + (sd >> 1) if tl > sd + (sd >> 1) else tl)
                thr = f + ((sd * off_q) >> 4)
                if e <= thr and rail_run == 0 and (flat_run < flat_ticks or elp >> 3 >= f * 3 or (
                        f0 < flat_min and not touch & TOUCH_DEAD)):
                    floor_acc += trend >> TREND_BITS  # (as detrest._learn: the trend, the tail quantile, the
                    dv = e - (floor_acc >> FLOOR_BITS)  # deviation clipped at 3 spreads)
                    if dv << FLOOR_BITS > tail_acc:
                        tail_acc += tl << (FLOOR_BITS - 3)
                    else:
                        tail_acc -= tl << (FLOOR_BITS - 3 - TAIL_SHIFT)
                    dv = 3 * sd if dv > 3 * sd else (-3 * sd if dv < -3 * sd else dv)
                    if is_raw:
                        floor_acc += (dv << FLOOR_BITS) >> (up_shift if e > f else down_shift)
                    else:
                        floor_acc += (dv << FLOOR_BITS) >> ((up_shift if e > f else down_shift) - 1)
                        trend += (dv << FLOOR_BITS) >> (up_shift + up_shift - TREND_BITS)
                    dev_acc += (((dv if dv > 0 else 0 - dv) << FLOOR_BITS) - dev_acc) >> up_shift
                    tick += 1
                else:
                    idle = 0  # from here on every tick goes to _tick, in order
            if idle <= 0:
                j = nt * TK_W
                tk[j + _T_MS] = ms_all
                tk[j + _T_BASE] = off
                tk[j + _T_ACC] = acc
                tk[j + _T_RAIL] = rail_run
                tk[j + _T_FLAT] = flat_run
                tk[j + _T_RACC] = racc
                tk[j + _T_ELP] = elp
                tk[j + _T_TOUCH] = touch
                nt += 1
            racc = 0
            acc = 0
            cnt = 0
            lo = LO_INIT
            hi = -1
            moves = 0
            if nt == _TICKS_MAX or idle < 0 or (idle == 0 and (rail_run > 0 or flat_run >= flat_ticks)):
                break  # (at a tick where a fault may begin, the decisions run before the next sample)
    st[_S_X1] = x1
    st[_S_X2] = x2
    st[_S_Y1] = y1
    st[_S_Y2] = y2
    st[_S_Z1] = z1
    st[_S_Z2] = z2
    st[_S_W1] = w1
    st[_S_W2] = w2
    st[_S_V1] = v1
    st[_S_V2] = v2
    st[_S_U1] = u1
    st[_S_U2] = u2
    st[_S_SMOOTH] = env
    st[_S_ACC] = acc
    st[_S_CNT] = cnt
    st[_S_LO] = lo
    st[_S_HI] = hi
    st[_S_MOVES] = moves
    st[_S_PREV] = prev
    st[_S_T1] = t1
    st[_S_T2] = t2
    st[_S_L1] = l1
    st[_S_L2] = l2
    st[_S_P1] = p1
    st[_S_P2] = p2
    st[_S_E1] = e1
    st[_S_E2] = e2
    st[_S_EN] = en
    st[_S_EL] = el
    st[S_NT] = nt
    st[_S_RAIL_RUN] = rail_run
    st[_S_FLAT_RUN] = flat_run
    st[_S_FLAT_MOVES] = flat_moves
    st[_S_RACC] = racc
    st[S_FLOOR] = floor_acc
    st[S_DEV] = dev_acc
    st[S_TAIL] = tail_acc
    st[S_TREND] = trend
    st[S_TICK] = tick  # the index of the first tick handed to _tick, or of the next tick
    st[S_ENV] = e
    st[_S_ELP] = elp
    st[_S_OFF] = off
    st[_S_RSUM] = rsum
    st[_S_BASE] = base
    st[_S_EB] = eb
    st[_S_EB_MIN] = eb_min
    st[_S_EB_CNT] = eb_cnt
    st[_S_EB_POS] = eb_pos
    st[_S_MS_MIN] = ms_min
    st[_S_MS_CNT] = ms_cnt
    st[_S_MS_POS] = ms_pos
    st[_S_MS_ALL] = ms_all
    st[_S_DEAD_RUN] = dead_run
    st[_S_DEAD_V] = dead_v
    return i
