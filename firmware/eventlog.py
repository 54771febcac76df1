"""Append-only event log on flash: fixed-size CRC-checked records in rotating segment files."""

import os
import struct

from binascii import crc32  # built into the ESP32 and unix ports (their stubs and builds list it)

try:  # CPython (tests) imports the firmware as the spasmfw package; the board and the unix port import it flat
    from . import codes
except ImportError:
    import codes

# Record layout (little-endian): magic "SW", version 1, etype, eseq, boot, ch, kind, n, 1 pad (16 bytes), then
# the n int32 fields of codes.REC_FIELDS in their order, then CRC-32 of the bytes before it (44 bytes for six
# fields). Firmware before n was written left 0 there, for its six fields. A segment holds records of one size:
# after an update that changes n the next append starts a new segment, and the older ones are read with their
# own size (fields they lack take their default), so an old log is never misread.
MAGIC = b"SW"
REC_VERSION = 1
ET_CLEAR = 0  # marker written by clear() so eseq survives an empty log; never returned by since()
FIELDS = codes.REC_FIELDS
N = len(FIELDS)
REC = 20 + 4 * N
DEFAULTS = tuple(-1 if k == "t" else 0 for k in codes.REC_KINDS)  # a field a record or a dict lacks: a time -1
PREFIX = "ev"
SUFFIX = ".log"
I32_MAX = 0x7FFFFFFF
BATCH = 8  # records read per open() in since()


def _crc(data):
    return crc32(data) & 0xFFFFFFFF


def _layout(buf):
    # The size of the record whose header starts buf, or 0 when it is no header of ours.
    return 20 + 4 * (buf[14] or 6) if buf[0] == MAGIC[0] and buf[1] == MAGIC[1] and buf[2] == REC_VERSION else 0


def _fmt(size):
    # what _unpack reads of a record of `size` bytes: etype, eseq, boot, ch, kind, then its fields
    return "<BIIBB2x%di" % ((size - 20) // 4)


def _unpack(buf, size, fmt):
    # -> (etype, eseq, boot, ch, kind, field...) of one record of `size` bytes, or None if it fails its checks
    if _layout(buf) != size or _crc(memoryview(buf)[:size - 4]) != struct.unpack_from("<I", buf, size - 4)[0]:
        return None
    return struct.unpack_from(fmt, buf, 3)


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _sync():
    if hasattr(os, "sync"):  # the ESP32 port has it, the unix port not
        os.sync()


def _clamp(v):
    return max(-I32_MAX, min(I32_MAX, int(v)))


MAX_ID = 0x7FFFFFFF  # boot ids and eseqs stay below 2**31 (68 years at a boot a second): a stored counter
# above it is corrupt (or the 32-bit wrap of one) and is ignored rather than trusted


def _read_id(path):
    # A counter file's value, or -1 when it is missing, unreadable, garbage or out of range.
    try:
        with open(path) as f:
            v = int(f.read().strip())
    except (OSError, ValueError):
        return -1
    return v if 0 <= v < MAX_ID else -1


def next_boot_id(path, floor=0):
    """Read, increment and store the boot counter in file `path` (temp file + rename); returns the new id.

    floor: the highest boot id known to be used elsewhere (the log's newest record, the Counters copy), so a
    lost, unreadable or garbage counter file can never make an id repeat.
    """
    n = floor
    for p in (path, path + ".tmp"):  # the temp file holds the newest value if a rename was interrupted
        v = _read_id(p)
        if v > n:
            n = v
    n = min(n + 1, MAX_ID)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(n))
        f.flush()
    try:
        os.remove(path)  # rename over an existing file is not atomic everywhere; the tmp copy covers the gap
    except OSError:
        pass
    os.rename(tmp, path)
    _sync()
    return n


class Counters:
    """The second, CRC-checked copy of the boot id and the highest eseq handed out, in two alternating files.

    EventLog writes the eseq here before the record itself, so a record torn by a power cut still leaves its
    number used; a torn write here spoils only one of the two files (the other holds the value before it).
    """

    FMT = "<IIII"  # generation, boot, eseq, CRC-32 of the 12 bytes before it

    def __init__(self, base):
        self.paths = (base + ".a", base + ".b")
        self.gen = self.boot = self.eseq = 0
        self.bad = 0  # copies that were unreadable or failed their check at open
        buf = bytearray(16)
        for p in self.paths:
            try:
                with open(p, "rb") as f:
                    n = f.readinto(buf)
            except OSError:
                continue
            r = struct.unpack(self.FMT, buf) if n == 16 else None
            if r is None or _crc(memoryview(buf)[:12]) != r[3] or r[1] >= MAX_ID or r[2] >= MAX_ID:
                self.bad += 1
            elif r[0] >= self.gen:
                self.gen, self.boot, self.eseq = r[0], r[1], r[2]
        self._buf = buf

    def write(self, boot, eseq):
        self.gen = (self.gen + 1) & 0xFFFFFFFF
        buf = self._buf
        struct.pack_into("<III", buf, 0, self.gen, boot, eseq)
        struct.pack_into("<I", buf, 12, _crc(memoryview(buf)[:12]))
        with open(self.paths[self.gen & 1], "wb") as f:
            f.write(buf)
            f.flush()
        _sync()
        self.boot = boot
        self.eseq = eseq


class EventLog:
    """Event log in directory `path`, at most `max_bytes` on flash.

    append() takes a dict with keys etype, ch, kind and the names of codes.REC_FIELDS (a missing field takes its
    DEFAULTS value) or a tuple in that order. For faults put the detail code in kind, start_ms in onset_ms and
    end_ms in offset_ms. Records come back as dicts with those keys plus eseq and boot.
    """

    def __init__(self, path, max_bytes=64 * 1024, boot=0, segments=2, counters=None):
        self.path = path.rstrip("/") or "/"
        self.segments = max(2, segments)
        # Each segment holds whole records only; the log never exceeds segments * seg_bytes <= max_bytes.
        self.seg_bytes = max(REC, (max_bytes // self.segments) // REC * REC)
        self.boot_id = boot
        self.last_seq = 0
        self.last_boot = 0  # boot id of the newest record on flash (0 if none)
        self.bad = 0  # corrupt records skipped (middle) or dropped (torn tail) since open
        self.counters = counters  # Counters: eseq floor kept beside the log (None: the log alone)
        self._buf = bytearray(REC)
        if _size(self.path) < 0:
            os.mkdir(self.path)
        self._open()

    # --- segment files -------------------------------------------------------------------------------
    def _name(self, n):
        return "%s/%s%08d%s" % ("" if self.path == "/" else self.path, PREFIX, n, SUFFIX)

    def _numbers(self):
        out = []
        for name in os.listdir(self.path):
            if name.startswith(PREFIX) and name.endswith(SUFFIX):
                try:
                    out.append(int(name[len(PREFIX):-len(SUFFIX)]))
                except ValueError:
                    pass
        out.sort()
        return out

    def _seg_rec(self, fname):
        # The record size of one segment (its first record's; REC when it has none readable).
        buf = self._buf
        try:
            with open(fname, "rb") as f:
                n = f.readinto(memoryview(buf)[:16])
        except OSError:
            return REC
        return (n == 16 and _layout(buf)) or REC

    def _scan(self, fname, visit=None):
        """Walk the records of one segment; returns (good_end, last_good_tuple, bad_records_after_it, size).
        good_end is the byte offset after the last good record, so a torn or corrupt tail is excluded;
        bad records before it are counted in self.bad. size: the segment's record size."""
        size = self._seg_rec(fname)
        buf = self._buf if size == REC else bytearray(size)
        fmt = _fmt(size)
        good_end = 0
        last = None
        pos = 0
        pending_bad = 0
        try:
            f = open(fname, "rb")
        except OSError:
            return 0, None, 0, size
        try:
            while True:
                n = f.readinto(buf)
                if not n or n < size:
                    break
                pos += size
                r = _unpack(buf, size, fmt)
                if r is None:
                    pending_bad += 1
                    continue
                self.bad += pending_bad  # bad records followed by a good one are mid-file damage
                pending_bad = 0
                good_end = pos
                last = r
                if visit is not None:
                    visit(r)
        finally:
            f.close()
        return good_end, last, pending_bad, size

    def _open(self):
        nums = self._numbers()
        while len(nums) > self.segments:
            os.remove(self._name(nums.pop(0)))
        self._nums = nums
        self._next = 1
        # The newest record is in the newest segment holding a good one (it can be empty after a crash).
        newest = 0  # the record size of the newest segment
        for i in range(len(nums) - 1, -1, -1):
            fname = self._name(nums[i])
            good_end, last, tail_bad, rec = self._scan(fname)
            newest = newest or rec
            size = _size(fname)
            if size != good_end:
                # Torn or corrupt tail (power loss mid-write): cut it so the next append stays aligned.
                self.bad += tail_bad + (1 if size > good_end + tail_bad * rec else 0)
                self._truncate(fname, good_end)
            if last is not None:
                self.last_seq = last[1]
                self.last_boot = last[2]
                break
        self._active_size = _size(self._name(nums[-1])) if nums else 0
        if newest and newest != REC:
            self._active_size = self.seg_bytes  # records of another layout (a firmware update): a new segment
        c = self.counters
        if c is not None and c.eseq > self.last_seq:  # the newest record was torn or lost: never reuse its eseq
            self.last_seq = c.eseq

    def _truncate(self, fname, length):
        # MicroPython files have no truncate(): copy the good prefix to a temp file and rename it over.
        tmp = fname + ".tmp"
        buf = self._buf
        with open(fname, "rb") as src:
            with open(tmp, "wb") as dst:
                left = length
                while left > 0:
                    n = src.readinto(buf)
                    if not n:
                        break
                    n = min(n, left)
                    dst.write(memoryview(buf)[:n])
                    left -= n
        os.remove(fname)
        os.rename(tmp, fname)
        _sync()

    # --- writing -------------------------------------------------------------------------------------
    def _write(self, etype, ch, kind, vals, seq=0):
        if not seq:
            seq = self.last_seq + 1
            if seq >= MAX_ID:
                raise OSError("eseq exhausted")
            if self.counters is not None:
                self.counters.write(self.boot_id, seq)  # first: a torn record below still used its number
        buf = self._buf
        struct.pack_into("<2sBBIIBBBx", buf, 0, MAGIC, REC_VERSION, etype, seq, self.boot_id, ch, kind, N)
        for i in range(N):
            struct.pack_into("<i", buf, 16 + 4 * i, _clamp(vals[i] if i < len(vals) else DEFAULTS[i]))
        struct.pack_into("<I", buf, REC - 4, _crc(memoryview(buf)[:REC - 4]))
        nums = self._nums
        rotate = not nums or self._active_size + REC > self.seg_bytes
        if rotate:
            nums.append(nums[-1] + 1 if nums else self._next)
            self._active_size = 0
        # Open, write one whole record, flush, close: a kill leaves it complete or torn at the file end.
        with open(self._name(nums[-1]), "ab") as f:
            f.write(buf)
            f.flush()
        _sync()
        self._active_size += REC
        self.last_seq = seq
        self.last_boot = self.boot_id
        if rotate:
            while len(nums) > self.segments:  # delete the oldest only once the new record is safe
                try:
                    os.remove(self._name(nums.pop(0)))
                except OSError:
                    pass
        return seq

    def append(self, fields):
        """Store one event; returns its eseq."""
        if isinstance(fields, dict):
            g = fields.get
            v = [g("etype", 0), g("ch", 0), g("kind", 0)]
            for i in range(N):
                v.append(g(FIELDS[i], DEFAULTS[i]))
        else:
            v = fields
        etype = int(v[0])
        if not 1 <= etype <= 255:
            raise ValueError("etype must be 1..255")
        seq = self._write(etype, int(v[1]) & 0xFF, int(v[2]) & 0xFF, v[3:])
        return seq

    def clear(self):
        """Erase all records; a marker record keeps last_seq so eseq never goes back after a clear."""
        nxt = self._nums[-1] + 1 if self._nums else 1
        for n in self._nums:
            try:
                os.remove(self._name(n))
            except OSError:
                pass
        self._nums = []
        self._next = nxt
        if self.last_seq > 0:
            self._write(ET_CLEAR, 0, 0, DEFAULTS, self.last_seq)

    # --- reading -------------------------------------------------------------------------------------
    @staticmethod
    def _dict(r):
        # the record's fields by name; a field an older, shorter record lacks takes its default
        d = {"eseq": r[1], "boot": r[2], "etype": r[0], "ch": r[3], "kind": r[4]}
        for i in range(N):
            d[FIELDS[i]] = r[5 + i] if 5 + i < len(r) else DEFAULTS[i]
        return d

    def since(self, eseq=0):
        """Yield stored records (dicts) with eseq > `eseq`, oldest first, read from flash.

        No file stays open between two yields (the caller sends one message per record and keeps sampling,
        appending and rotating meanwhile): records are read in small batches, each with its own open().
        A segment deleted by rotation in the meantime is skipped; records appended meanwhile are included.
        """
        buf = bytearray(REC * BATCH)  # own buffer: append() may run between two yields
        last = -1
        while True:
            n = -1
            for x in self._nums:  # re-read each time: segments come and go while we yield
                if x > last:
                    n = x
                    break
            if n < 0:
                return
            last = n
            name = self._name(n)
            rec = self._seg_rec(name)  # a segment written before a firmware update may hold another size
            fmt = _fmt(rec)
            if len(buf) != rec * BATCH:
                buf = bytearray(rec * BATCH)
            mv = memoryview(buf)
            pos = 0
            while True:
                try:
                    with open(name, "rb") as f:
                        f.seek(pos)
                        got = f.readinto(buf) or 0
                except OSError:  # rotated away
                    break
                k = got // rec
                pos += k * rec
                for j in range(k):
                    r = _unpack(mv[j * rec:(j + 1) * rec], rec, fmt)
                    if r is None or r[0] == ET_CLEAR or r[1] <= eseq:
                        continue
                    yield self._dict(r)
                if got < len(buf):
                    break

    def size(self):
        """Bytes used on flash by the segment files."""
        return sum(max(0, _size(self._name(n))) for n in self._nums)
