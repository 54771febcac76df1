"""One mpy-cross run per firmware module and CPU for the whole test session; later boots copy its .mpy file."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

Compile = Callable[[Path, Path, "str | None"], Path]


class MpyCache:
    """compile_mpy with a memory: keyed by the source's bytes (the firmware may change during a run), the file
    name and the CPU, so each virtual board still boots exactly what mpy-cross makes of its firmware."""

    def __init__(self, compile_mpy: Compile, folder: Path) -> None:
        self.compile_mpy = compile_mpy
        self.folder = folder
        self.runs = 0  # mpy-cross runs (the rest were copies)

    def __call__(self, src: Path, dest: Path, march: str | None) -> Path:
        digest = hashlib.sha256(src.read_bytes()).hexdigest()[:20]
        kept = self.folder / f"{src.stem}-{march}-{digest}.mpy"
        if not kept.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"{kept.name}.{threading.get_ident()}.tmp"  # boards may boot at once
            self.compile_mpy(src, tmp, march)  # raises FatalError as before: nothing kept for a failure
            self.runs += 1
            tmp.replace(kept)
        shutil.copyfile(kept, dest)
        return dest
