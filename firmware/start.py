"""Boot in the order a small heap needs: config, the detectors on a clean heap, then the app; never on a bad config.

The detectors' large objects need contiguous heap, which loading the app's modules cuts into small pieces, so
they are built first; the config code is unloaded before that. A config that does not start (a pin the
hardware refuses, more channels than the heap holds) falls back to the defaults at once, with an error
report; if boots keep failing without the app getting to run (a crash or reset no code here can catch), the
MAX_BOOT_FAILS-th boot in a row uses the defaults too (config.json is kept, to be fixed with `config set`).
"""

import gc
import json
import os

try:  # CPython (tests) imports the firmware as the spasmfw package; the board imports it flat
    from . import compat
except ImportError:
    import compat

CONFIG_FILE = "config.json"
FAILS_FILE = "bootfail.txt"  # boots in a row that did not get the app running; App clears it
MAX_BOOT_FAILS = 3


def _file(storage, name):
    return storage.rstrip("/") + "/" + name


def read_fails(storage):
    try:
        with open(_file(storage, FAILS_FILE)) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def write_fails(storage, n):
    try:
        with open(_file(storage, FAILS_FILE), "w") as f:
            f.write(str(n))
    except OSError:
        pass  # a flash that cannot take this cannot take the log either; the app reports that


def _config(storage, uid, fails, why):
    # (config, error or None, detector params, `config set` reply or None); its own frame, so no stale reference
    # keeps the config module alive once it is unloaded (MicroPython's VM leaves them in a frame's stack slots).
    config = compat.mod("config")
    reply = None
    if why:
        cfg, err = config.defaults(uid), why
    elif fails >= MAX_BOOT_FAILS:
        cfg = config.defaults(uid)
        err = ("the app failed to start %d boots in a row; booted with the default config (config.json kept: "
               "fix it with config set)" % fails)
    else:
        cfg, err = config.load(_file(storage, CONFIG_FILE), uid)
        if not err:
            cfg, reply = _pending(config, storage, cfg)
    params = config.detector_params(cfg)
    config = None
    compat.unload("config")
    return cfg, err, params, reply


def _pending(config, storage, cfg):
    # A `config set` the running app had no heap for (app.py wrote its pairs, then restarted): applied now,
    # checked as ever, the heap too (heapfit, against the figures of the boot that wrote it); (config, the reply
    # the app sends for it after the hello).
    path = _file(storage, CONFIG_FILE + ".pending")
    try:
        with open(path) as f:
            text = f.read()
        os.remove(path)
    except OSError:
        return cfg, None
    try:
        data = json.loads(text)  # {"pairs": [[key, value], ...], "heap": the last boot's App.heap_at_boot()}
        pairs, heap = (data, None) if isinstance(data, list) else (data["pairs"], data["heap"])  # a list: pairs only
        new = config.set_values(cfg, [tuple(p) for p in pairs])
        why = compat.mod("heapfit").fit_problem(heap, new) if heap else ""
        compat.unload("heapfit")
        if why:  # refused as the running app would have: a config the heap cannot hold is never saved
            raise ValueError(why)
        config.save(_file(storage, CONFIG_FILE), new, True)
        return new, ("ok", {"cmd": "config set", "data": {"saved": True, "reboot": True}})
    except (ValueError, TypeError, KeyError) as e:  # the pairs were refused: the config stays as it was
        return cfg, ("error", {"cmd": "config set", "msg": str(e)[:160] or repr(e)})


def _detectors(cfg, params, mem_free):
    # (detectors, heap one took): built while the heap is still in one piece.
    detector = compat.mod("detector")
    dets = []
    size = 0
    for _ in cfg["channels"]:
        gc.collect()
        free = mem_free()
        dets.append(detector.Detector(cfg["rate_hz"], cfg["mode"], params))
        gc.collect()
        size = max(size, free - mem_free())
    return dets, size


def start(board_mod):
    """The app, set up and ready to run() (see the module docstring)."""
    gc.collect()
    storage = board_mod.STORAGE_DIR
    uid = board_mod.unique_id()
    fails = read_fails(storage)
    write_fails(storage, fails + 1)  # cleared once the app has run for a while
    why = None
    pending = False
    for _ in (0, 1):
        cfg, err, params, reply = _config(storage, uid, fails, why)
        if why and pending:  # the `config set` applied at this boot did not start: its reply says so
            reply = ("error", {"cmd": "config set", "msg": why[:160]})
        pending = reply is not None
        try:
            dets, size = _detectors(cfg, params, getattr(gc, "mem_free", int))  # CPython: no heap figure
            board = board_mod.Board(cfg)
            app = compat.mod("app")
            return app.App(board, cfg, err, params, dets, size, _file(storage, FAILS_FILE), reply)
        except MemoryError as e:
            why = "this config needs more heap than this board has (%r); using defaults" % (e,)
        except Exception as e:  # e.g. a pin the hardware refuses: fall back to the default wiring
            why = "board setup failed with this config (%r); using defaults" % (e,)
        dets = board = app = cfg = params = None
        compat.unload("app")  # a half-imported app must not be taken for a whole one
        gc.collect()
    raise MemoryError("the default config does not start: %s" % (why,))


def boot(board_mod):
    """The app ready to run, this module unloaded (main.py calls it: its ~2 kB leave the heap)."""
    app = start(board_mod)
    if app.cfg.get("net", {}).get("ssid"):
        _start_net(app)
        gc.collect()
        app.heap_idle = app.b.mem_free()  # what a new config is checked against: left with the network running
    compat.unload(__name__)
    return app


def _start_net(app):
    # Wi-Fi, TCP, MQTT before the boot hello (so the TCP tee is in place); here, as this module leaves the heap
    netconfig = compat.mod("netconfig")
    app.net, err = netconfig.start(app.cfg, app.b)
    netconfig = None
    compat.unload("netconfig")  # the running network side does not need it
    if err:
        app.error(None, err)


def main(board_mod):
    """Boot and run forever."""
    boot(board_mod).run()
