"""Device configuration: defaults, validation with clear messages, JSON load/save, `config set` updates."""

import json
import os
import sys

try:  # CPython (host, tests) imports the firmware as the spasmfw package; the board imports it flat
    from . import codes, compat, detector, protocol
except ImportError:
    import codes
    import compat
    import detector
    import protocol


def gpio(machine):
    """(ADC1 pins, the pins docs/firmware.md wires channels 0-3 to, output GPIOs, the LED's GPIO or None) of the
    chip `machine` names (sys.implementation._machine: "Generic ESP32S3 module with ESP32S3"); the ESP32's for
    any other name. Only ADC1: ADC2 is unusable while Wi-Fi runs."""
    if machine.endswith("ESP32S3"):
        # ADC1 is GPIO 1-10; the wiring skips GPIO3 (a strapping pin). Outputs: not the strapping pins (0, 3, 45,
        # 46), USB (19, 20), flash and octal PSRAM (26-37) or UART0 (43, 44, a DevKitC's USB serial bridge). No
        # LED: a DevKitC's is an RGB LED (WS2812) that a plain pin does not light; wire one and set led_pin.
        outputs = (1, 2) + tuple(range(4, 19)) + (21, 38, 39, 40, 41, 42, 47, 48)
        return tuple(range(1, 11)), (1, 2, 4, 5), outputs, None
    # ESP32 outputs: not flash (6-11), input-only (34-39), UART0 (1, 3: the USB serial link), or GPIO12 (a
    # strapping pin that bricks the boot when pulled high). The LED: the blue one of a DevKit.
    return ((32, 33, 34, 35, 36, 37, 38, 39), (36, 39, 34, 35),
            (0, 2, 4, 5, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33), 2)


# the chip this runs on (the ESP32's tables on the host and the unix port; the host switches with use_chip)
ADC1_PINS, WIRED_PINS, OUTPUT_PINS, LED_PIN = gpio(getattr(sys.implementation, "_machine", ""))
CONFIG_FILE = "config.json"  # in the board's storage (as app.CONFIG_FILE and start.CONFIG_FILE)
RESTART_KEYS = ("channels", "rate_hz", "mode", "led_pin", "buzzer_pin", "watchdog", "log_kb", "net")  # set at boot
MAX_FILE = 2048  # bytes of config.json at most (a full 4-channel config is ~700): refused before parsing
MAX_DEPTH = 4  # JSON nesting at most (config > channels > channel is 3)
MAX_CHANNELS = 4
MAX_TOTAL_RATE = 4000  # samples/s over all channels the sampling loop is sized for
MODES = ("raw", "env")
MAINS = (0, 50, 60)

DEFAULTS = {  # type: dict
    "name": "spasmwatch",  # shown by hello; free text
    "id": "",  # device id; "" = derived from machine.unique_id() (passed in by the caller)
    "channels": [{"pin": WIRED_PINS[0], "name": "ch0"}],
    "mode": "raw",  # raw: MyoWare RAW output; env: MyoWare ENV output
    "rate_hz": 1000,
    "mains_hz": 50,  # notch in raw mode: 50 (Europe, Asia, Africa, Oceania) or 60 (Americas), 0 = off
    "params": {},  # detector overrides, see detector.PARAMS
    "stream": {"env": False, "raw": False, "env_hz": 50},
    "status_s": 10,  # status heartbeat period, 0 = off
    "led_pin": LED_PIN,  # the blue LED of an ESP32 DevKit; none on an ESP32-S3 (gpio())
    "buzzer_pin": None,
    "watchdog": False,  # opt-in: an ESP32 watchdog cannot be stopped, so a board left in the REPL would reset
    "log_kb": 64,  # flash used by the event log
}
STREAM_KEYS = ("env", "raw", "env_hz")


def use_chip(machine):
    """Validate and default for the chip `machine` names from here on (the host, for the board it talks to)."""
    global ADC1_PINS, WIRED_PINS, OUTPUT_PINS, LED_PIN
    ADC1_PINS, WIRED_PINS, OUTPUT_PINS, LED_PIN = gpio(machine)
    DEFAULTS["channels"] = [{"pin": WIRED_PINS[0], "name": "ch0"}]
    DEFAULTS["led_pin"] = LED_PIN


def _copy(v):
    # Deep copy of plain JSON data; MicroPython has no copy module by default.
    if isinstance(v, dict):
        return {k: _copy(v[k]) for k in v}
    if isinstance(v, (list, tuple)):
        return [_copy(x) for x in v]
    return v


def _int(cfg, key, lo, hi, label=None):
    label = label or key
    v = cfg[key]
    try:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and v == int(v)
    except (OverflowError, ValueError):  # inf, nan
        ok = False
    if not ok:
        raise ValueError("%s=%r must be an integer %d..%d" % (label, v, lo, hi))
    v = int(v)
    if not lo <= v <= hi:
        raise ValueError("%s=%d out of range %d..%d" % (label, v, lo, hi))
    cfg[key] = v
    return v


def _bool(d, key, label):
    v = d[key]
    if not isinstance(v, bool):
        raise ValueError("%s=%r must be true or false" % (label, v))


def _text(d, key, label, lo, hi):
    v = d[key]
    if not isinstance(v, str) or not lo <= len(v) <= hi:
        raise ValueError("%s=%r must be text of %d..%d characters" % (label, v, lo, hi))
    for c in v:
        if ord(c) < 32 or c == '"' or c == "\\":
            raise ValueError("%s=%r has a control character, quote or backslash" % (label, v))


def _channels(v):
    # Accept the shorthand [34, 35] (pins) as well as [{"pin": 34, "name": "calf"}, ...].
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_CHANNELS:
        raise ValueError("channels must be a list of 1..%d channels like [{\"pin\": 36, \"name\": \"ch0\"}]"
                         % MAX_CHANNELS)
    out = []
    pins = []
    names = []
    for i, ch in enumerate(v):
        if isinstance(ch, int) and not isinstance(ch, bool):
            ch = {"pin": ch}
        if not isinstance(ch, dict):
            raise ValueError("channels.%d must be a pin number or {\"pin\": P, \"name\": N}" % i)
        for k in ch:
            if k not in ("pin", "name"):
                raise ValueError("channels.%d: unknown key %r (pin, name)" % (i, k))
        ch = {"pin": ch.get("pin"), "name": ch.get("name", "ch%d" % i)}
        pin = ch["pin"]
        if isinstance(pin, bool) or pin not in ADC1_PINS:
            raise ValueError("channels.%d.pin=%r must be an ADC1 pin: %s" % (i, pin, _list(ADC1_PINS)))
        if pin in pins:
            raise ValueError("channels.%d.pin=%d is used twice" % (i, pin))
        _text(ch, "name", "channels.%d.name" % i, 1, 16)
        if ch["name"] in names:
            raise ValueError("channels.%d.name=%r is used twice" % (i, ch["name"]))
        pins.append(pin)
        names.append(ch["name"])
        out.append(ch)
    return out


def _list(vals):
    return ", ".join(str(x) for x in vals)


def _near(name, known):
    # " (did you mean a, b?)" for known names sharing the first word (off_x -> off_sd), else ""
    head = name.split("_")[0]
    near = sorted(k for k in known if k.split("_")[0] == head or k.startswith(name))[:3]
    return " (did you mean %s?)" % " or ".join(near) if near else ""


def _out_pin(cfg, key, used):
    v = cfg[key]
    if v is None:
        return
    if isinstance(v, bool) or v not in OUTPUT_PINS:
        raise ValueError("%s=%r must be null or an output GPIO: %s" % (key, v, _list(OUTPUT_PINS)))
    if v in used:
        raise ValueError("%s=%d is already used by a channel or the LED" % (key, v))
    used.append(v)


def detector_params(cfg):
    """The params dict to give detector.Detector: the overrides plus mains_hz (raw mode only)."""
    p = dict(cfg["params"])
    if cfg["mode"] == "raw":
        p["mains_hz"] = cfg["mains_hz"]
    return p


def device_id(uid):
    """Readable id from machine.unique_id() bytes (the ESP32 MAC), e.g. 'a4cf12b0c3d8'."""
    if isinstance(uid, str):
        return uid
    return "".join("%02x" % b for b in uid)


def validate(cfg, uid=None):
    """Full config (defaults merged, values normalised) or ValueError naming the key and what it allows.

    uid: machine.unique_id() bytes (or a str) used as id when the config leaves id empty.
    """
    if not isinstance(cfg, dict):
        raise ValueError("config must be a JSON object")
    for k in cfg:
        if k not in DEFAULTS and k != "net":  # net: optional (Wi-Fi), absent from a board without it
            raise ValueError("unknown config key %r (known: %s)" % (k, _list(sorted(DEFAULTS))))
    out = _copy(DEFAULTS)
    for k in cfg:
        out[k] = _copy(cfg[k])
    _text(out, "name", "name", 1, 32)
    _text(out, "id", "id", 0, 32)
    if not out["id"] and uid is not None:
        out["id"] = device_id(uid)[:32]
    out["channels"] = _channels(out["channels"])
    if out["mode"] not in MODES:
        raise ValueError("mode=%r must be raw or env" % (out["mode"],))
    rate = _int(out, "rate_hz", 25, 2000)
    n = len(out["channels"])
    if rate * n > MAX_TOTAL_RATE:
        raise ValueError("rate_hz=%d x %d channels is over %d samples/s; lower rate_hz to %d"
                         % (rate, n, MAX_TOTAL_RATE, MAX_TOTAL_RATE // n))
    if out["mains_hz"] not in MAINS or isinstance(out["mains_hz"], bool):
        raise ValueError("mains_hz=%r must be 0, 50 or 60" % (out["mains_hz"],))
    out["mains_hz"] = int(out["mains_hz"])
    if out["mode"] == "raw" and out["mains_hz"] and out["mains_hz"] * 2 >= rate:
        raise ValueError("mains_hz=%d needs rate_hz above %d (or mains_hz=0)" % (out["mains_hz"],
                                                                              2 * out["mains_hz"]))
    p = out["params"]
    if p is None:
        p = out["params"] = {}
    if not isinstance(p, dict):
        raise ValueError("params must be an object of detector parameters")
    if "mains_hz" in p:
        raise ValueError("params.mains_hz: set the top-level mains_hz instead")
    for k in p:
        if k not in detector.PARAMS:  # short enough for one error line (the full list is cut off on the wire)
            raise ValueError("params.%s: unknown detector parameter%s; `spasmwatch config get` lists them"
                             % (str(k)[:24], _near(str(k), detector.PARAMS)))
    try:
        detector.validate(detector_params(out), out["mode"], rate)
    except ValueError as e:
        raise ValueError("params." + str(e)) from None
    s = out["stream"]
    if not isinstance(s, dict):
        raise ValueError("stream must be an object {env, raw, env_hz}")
    for k in s:
        if k not in STREAM_KEYS:
            raise ValueError("unknown key stream.%s (known: %s)" % (k, _list(STREAM_KEYS)))
    for k in STREAM_KEYS:
        if k not in s:
            s[k] = DEFAULTS["stream"][k]
    _bool(s, "env", "stream.env")
    _bool(s, "raw", "stream.raw")
    _int(s, "env_hz", 1, min(100, rate), "stream.env_hz")
    st = out["status_s"]
    if isinstance(st, bool) or not isinstance(st, (int, float)) or not (st == 0 or 1 <= st <= 3600):
        raise ValueError("status_s=%r must be 0 (off) or 1..3600 seconds" % (st,))
    used = [c["pin"] for c in out["channels"]]
    _out_pin(out, "led_pin", used)
    _out_pin(out, "buzzer_pin", used)
    _bool(out, "watchdog", "watchdog")
    _int(out, "log_kb", 8, 1024)
    if out.get("net"):  # Wi-Fi, TCP, MQTT (docs/wireless.md): netconfig is loaded only for a board that has them
        out["net"] = compat.mod("netconfig").validate(out["net"])
    else:
        out.pop("net", None)  # {} = off: the config (and hello) stay as without Wi-Fi
    return out


def defaults(uid=None):
    return validate({}, uid)


def _replace(tmp, path):
    try:
        os.rename(tmp, path)
    except OSError:  # filesystems whose rename will not overwrite
        os.remove(path)
        os.rename(tmp, path)


def load(path, uid=None):
    """(config, None), or (defaults, error message) when the file is corrupt or invalid; never raises.

    A missing file gives the defaults without an error.
    """
    try:
        try:
            f = open(path, "rb")
        except OSError:
            try:
                f = open(path + ".tmp", "rb")  # a save interrupted between remove and rename
            except OSError:
                return defaults(uid), None
        try:
            data = f.read(MAX_FILE + 1)
        finally:
            f.close()
        try:
            text = data.decode()
        except UnicodeError:  # (MicroPython's carries no message: say what is wrong here)
            return defaults(uid), "config %s is not UTF-8 text; using defaults" % path
        protocol.check_json(text, MAX_FILE, MAX_DEPTH)
        try:
            cfg = json.loads(text)
        except ValueError:
            return defaults(uid), "config %s is not valid JSON; using defaults" % path
        return validate(cfg, uid), None
    except ValueError as e:
        return defaults(uid), "config %s: %s; using defaults" % (path, str(e) or repr(e))
    except Exception as e:  # noqa: BLE001 - a bad config must never stop the device from booting
        return defaults(uid), "config %s unreadable (%r); using defaults" % (path, e)


def save(path, cfg, valid=False):
    """Validate (unless valid: set_values' result already is), then write to a temp file and rename it over
    `path`; returns the saved config."""
    if not valid:
        cfg = validate(cfg)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
        f.flush()
    _replace(tmp, path)
    return cfg


def set_values(cfg, pairs):
    """New validated config with (dotted key, value) pairs applied, e.g. ("params.sensitivity", 5),
    ("stream.env", True), ("channels.1.name", "calf"). A params value of null drops that override."""
    out = _copy(cfg)
    for pair in pairs:
        key, value = pair
        parts = key.split(".")
        if parts[0] not in DEFAULTS and parts[0] != "net":
            raise ValueError("unknown config key %r (known: %s)" % (parts[0], _list(sorted(DEFAULTS))))
        if parts[0] == "channels" and len(parts) > 2:
            out["channels"] = _channels(out.get("channels", DEFAULTS["channels"]))  # [34, 35] -> dicts
        node = out
        for i in range(len(parts) - 1):
            part = parts[i]
            if isinstance(node, list):
                part = _index(node, part, ".".join(parts[:i + 1]))
            elif part not in node:
                node[part] = {}
            node = node[part]
            if not isinstance(node, (dict, list)):
                raise ValueError("%s is not an object, cannot set %s" % (".".join(parts[:i + 1]), key))
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, key)] = value
        elif value is None and parts[0] == "params" and len(parts) == 2:
            node.pop(last, None)
        else:
            node[last] = value
    return validate(out)


def apply_set(app, pairs):
    """`config set` on the running app: validated, checked against the heap if it needs a restart, saved, taken
    over; returns codes.CFG_SAVED, CFG_NEW_PARAMS or CFG_RESTART. ValueError names a refused key or the heap."""
    new = set_values(app.cfg, pairs)
    old = app.cfg
    restart = False
    for k in RESTART_KEYS:
        if new.get(k) != old.get(k):  # net is optional
            restart = True  # pins, sampling and flash layout are set up at boot
    if restart:
        why = app.memory_problem(new)
        if why:
            raise ValueError(why)  # refused before it is saved: the next boot must fit the heap
    save(app.path(CONFIG_FILE), new, True)  # set_values validated it
    app.cfg = new
    app.params = detector_params(new)
    app.status_ms = int(new["status_s"] * 1000)
    if new["stream"] != old["stream"]:
        app.stream_env = new["stream"]["env"]
        app.stream_raw = new["stream"]["raw"]
    if restart:
        return codes.CFG_RESTART
    if new["params"] != old["params"] or new["mains_hz"] != old["mains_hz"]:
        return codes.CFG_NEW_PARAMS
    return codes.CFG_SAVED


def _index(node, part, label):
    try:
        i = int(part)
    except ValueError:
        raise ValueError("%s: expected an index 0..%d" % (label, len(node) - 1)) from None
    if not 0 <= i < len(node):
        raise ValueError("%s: index out of range 0..%d" % (label, len(node) - 1))
    return i
