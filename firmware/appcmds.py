"""The device's commands, one function each (app.App.handle looks a command's name up here): `config set` included.

Each takes (app, name, args) as protocol.parse_command gives them. Code a command needs only while it runs
(config, calib, cmdhelp, netconfig, heapfit) is loaded for it and unloaded again (compat.mod, compat.unload).
"""

import gc

try:  # CPython (tests) imports the firmware as the spasmfw package; the board and the unix port import it flat
    from . import codes, compat, detector, protocol
except ImportError:
    import codes
    import compat
    import detector
    import protocol

PENDING_FILE = "config.json.pending"  # a `config set` with no heap to apply it now: start.py applies it at boot


def public(cfg):
    """The config as hello and `config get` show it: the Wi-Fi password, the token and a broker password as ***."""
    if "net" not in cfg:
        return cfg
    out = compat.mod("netconfig").public(cfg)
    compat.unload("netconfig")
    return out


def hello(app, name, args):
    app.hello()


def ping(app, name, args):
    app.ok(name)


def status(app, name, args):
    app.status()


def help(app, name, args):  # the command's name (the builtin is not used here)
    # One ok line per command: readable in a terminal, still one JSON message per line for programs. The texts
    # (cmdhelp.py, ~1.2 kB a board rarely shows) are loaded for this command only.
    texts = compat.mod("cmdhelp").HELP
    compat.unload("cmdhelp")
    for _, text in sorted(texts.items()):  # sorted: MicroPython dicts have no stable order
        app.send("ok", {"cmd": "help", "data": text.decode()})
    app.ok(name, "end of help")


def config_get(app, name, args):
    app.ok(name, public(app.cfg))


def config_set(app, name, args):
    _precheck(app, args)
    try:
        done = _config_set(app, args)
    except MemoryError:
        # No heap for the config code now: start.py applies (checks, heapfit too) the pairs at the next boot.
        with open(app.path(PENDING_FILE), "w") as f:
            f.write(protocol.json.dumps({"pairs": [list(p) for p in args], "heap": app.heap_at_boot()}))
        app.reset()
        return
    if done == codes.CFG_NEW_PARAMS:
        app.rebuild = name  # at the top of the next pass, then the reply (App._rebuild)
        return
    app.ok(name, {"saved": True, "reboot": done == codes.CFG_RESTART})
    if done == codes.CFG_RESTART:
        app.reset()


def _precheck(app, args):
    # Detector parameters are checked by the (resident) detector first: a typo is refused at once, even
    # on a board that would need a restart to find room for the config code.
    p = dict(app.params)
    for key, value in args:
        if key.startswith("params.") and key[7:] in detector.PARAMS:
            if value is None:
                p.pop(key[7:], None)  # null: back to the default
            else:
                p[key[7:]] = value
    gc.collect()  # the parser's garbage freed: validate's dict of every parameter needs ~0.3 kB in one piece
    try:
        detector.validate(p, app.cfg["mode"], app.rate)
    except ValueError as e:
        raise ValueError("params." + str(e)) from None


def _config_set(app, args):
    # Its own frame: the config code (~10 kB) is unloaded on return (MicroPython frames keep stale references).
    config = compat.mod("config")
    try:
        return config.apply_set(app, args)
    finally:
        config = None
        compat.unload("config")
        compat.unload("heapfit")


def calibrate(app, name, args):
    """calibrate rest|mvc SECONDS, show, undo, clear: calib.py, loaded for the command (and its run) only."""
    compat.mod("calib").command(app, name, args)
    if app.cal is None:
        compat.unload("calib")


def stream_env(app, name, args):
    app.stream_env = args[0]
    app.env_vals = [[] for _ in range(app.nch)]
    app.ok(name, {"on": args[0], "hz": app.rate // app.env_step()})


def stream_raw(app, name, args):
    app.stream_raw = args[0]
    app.ok(name, {"on": args[0]})


def sync(app, name, args):
    app.stop_sync()
    app.sync_gen = app.log.since(args[0])
    app.sync_count = 0
    app.sync_at = args[0]


def log_clear(app, name, args):
    app.stop_sync()  # a sync in progress would read files being removed
    app.log.clear()
    app.ok(name, {"eseq": app.log.last_seq})


def reboot(app, name, args):
    app.ok(name)
    app.reset()
