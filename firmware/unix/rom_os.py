"""`os` on the simulated board (board_repl installs it as os): the unix port's, with a rename() work-around.

On the unix port (1.29), a VfsPosix mounted with a root directory fails rename(old, new) with ENOENT when
both paths are absolute and `new` does not exist yet (the firmware's temp-file + rename writes do exactly
that). Relative paths are not affected, so rename() goes through them, from the root.
"""

import os as _os  # the unix port's own (board_repl replaces sys.modules["os"] only after this)
from os import *  # noqa: F403


def _absolute(path, cwd):
    if not path.startswith("/"):
        path = cwd.rstrip("/") + "/" + path
    return path


def rename(old, new):
    cwd = _os.getcwd()
    old, new = _absolute(old, cwd), _absolute(new, cwd)
    _os.chdir("/")
    try:
        _os.rename(old[1:] or ".", new[1:] or ".")
    finally:
        _os.chdir(cwd)
