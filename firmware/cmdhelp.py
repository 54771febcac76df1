"""The device's help texts, one line per command: loaded for the `help` command only, then dropped again."""

# bytes: a .mpy interns str constants (qstrs) into pools of their own; bytes stay plain objects. Kept out of
# protocol.py, which stays on the heap: ~1.2 kB the board needs for every line it sends (protocol.OUT).
HELP = {
    "hello": b"hello: reply with the hello message (device, boot id, config)",
    "ping": b"ping: reply ok (link check)",
    "status": b"status: send a status message now",
    "help": b"help: list the commands",
    "config get": b"config get: reply with the current config",
    "config set": b"config set KEY=VALUE [KEY=VALUE...]: change and save config, e.g. params.sensitivity=5",
    "calibrate rest": b"calibrate rest SECONDS: learn the resting floor over 1..300 s (muscle relaxed)",
    "calibrate mvc": b"calibrate mvc SECONDS: record a maximal contraction over 1..300 s",
    "calibrate show": b"calibrate show: the floor and contraction in use and the saved calibration",
    "calibrate undo": b"calibrate undo: go back to the calibration saved before the last change",
    "calibrate clear": b"calibrate clear: forget the saved calibration; the floor is learnt again now",
    "stream env": b"stream env on|off: stream the decimated envelope",
    "stream raw": b"stream raw on|off: stream raw samples",
    "sync": b"sync SEQ: send every logged event with eseq > SEQ (0 = all), then ok",
    "log clear": b"log clear: erase the event log (eseq keeps counting)",
    "reboot": b"reboot: restart the device",
}
