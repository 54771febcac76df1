"""The integer codes and names every runtime shares: record types, episode kinds, faults and LED states."""

# Plain ints, not const(): MicroPython folds a const only inside the module that defines it, so importers would
# gain nothing, and plain ints keep this module importable unchanged by CPython tools (host, simulator).

# Record types: the first field of a detector record (detector.Detector.pop()) and of an event-log record.
EV_ONSET = 1
EV_END = 2
EV_FAULT_START = 3
EV_FAULT_END = 4
# The wire message each record type becomes (a fault's start and end are one message type with a state).
EV_NAMES = {EV_ONSET: "onset", EV_END: "end", EV_FAULT_START: "fault", EV_FAULT_END: "fault"}

# The fields of a detector record after its type and kind, in record order: Detector.pop() returns them (times as
# sample indices), the event log stores them (times in ms since boot) and an `end` message carries them under
# these names. REC_KINDS says how each travels, one letter per field in the same order: t, a sample index made ms
# since boot by the app (-1: none); l, an envelope level in counts x scale (the host divides by hello's scale);
# i, a plain integer. A new field goes at the end of both: the event log reads an older, shorter record with the
# new field at its default (-1 for a time, else 0), and a host reads a line without it (older firmware) as None.
# Names and letters, not a tuple of pairs: seven tuples cost 288 B of the 64-bit unix port's 100 kB heap, where
# tests/test_virtual_device.py's two channels then no longer boot (two objects: 64 B).
REC_FIELDS = ("onset_ms", "offset_ms", "detected_ms", "peak", "mean", "floor")
REC_KINDS = "tttlll"

# Episode kinds: the kind field of an EV_END record, and its name on the wire. The board needs no more; labels,
# colours, display order and the clinical class of each are the host's one table, host/spasmcore/kinds.py.
KIND_TWITCH = 1
KIND_TONIC = 2
KIND_CLONUS = 3
KIND_NAMES = {KIND_TWITCH: "twitch", KIND_TONIC: "tonic", KIND_CLONUS: "clonus"}

# Fault kinds: the kind field of an EV_FAULT_START / EV_FAULT_END record.
FAULT_FLAT = 1  # a flat line: lead-off or a dead input
FAULT_RAIL = 2  # pinned at a rail: saturation
FAULT_NAMES = {FAULT_FLAT: "flat", FAULT_RAIL: "rail"}

# LED states (board.led() and the unix-port virtual board).
IDLE = 0
SPASM = 1
FAULT = 2
NET_DOWN = 3  # idle with Wi-Fi configured but not connected (net.Net.led_state; a board may show it, else idle)

# What a `config set` needs once saved (config.apply_set, appcmds.config_set).
CFG_SAVED = 1  # nothing more: the running app took it
CFG_NEW_PARAMS = 2  # new detector parameters: the detectors are set up again (App._rebuild), then the reply
CFG_RESTART = 3  # pins, sampling or flash layout changed: the board restarts
