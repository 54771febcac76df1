"""One recording's replay as a job: what a worker is given (Job), what comes back (Outcome), how it runs.

Shared by the local worker processes (batch) and the Dask cluster (cluster): both pickle these by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spasmcore.errors import FatalError
from spasmcore.events import Event


@dataclass
class Job:
    path: str
    mode: str | None
    rate: float | None
    units: str | None
    columns: list[int] | None
    params: dict | None
    engine: str


@dataclass
class Outcome:
    """What one recording gave (picklable: it crosses process and cluster boundaries)."""

    path: str
    events: list[Event] = field(default_factory=list)
    fmt: str = ""
    rate_hz: float = 0.0
    units: str = ""
    mode: str = ""
    n_samples: int = 0
    channels: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    error: str = ""

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.rate_hz if self.rate_hz else 0.0

    @property
    def episodes(self) -> list[Event]:
        return [e for e in self.events if e.kind != "fault"]


def warm(engine: str) -> None:
    """Load the compiled engine (a worker's initializer: once per worker, not once per file)."""
    if engine == "fast":
        from spasmwatch.engine.detect import resolve_engine

        if resolve_engine("fast") == "fast":
            from spasmwatch.engine.fast import compiled

            compiled()


def run_one(job: Job) -> Outcome:
    """Replay one recording; any error becomes the outcome's one-line `error`."""
    from spasmwatch.engine.pipeline import replay_file

    notes: list[str] = []
    try:
        r = replay_file(job.path, mode=job.mode, rate=job.rate, units=job.units, columns=job.columns,
                        params=job.params, engine=job.engine, notes=notes)
    except (FatalError, ValueError) as exc:
        return Outcome(path=job.path, error=str(exc))
    s = r.source
    return Outcome(path=job.path, events=r.events, fmt=s.fmt, rate_hz=s.rate_hz, units=s.units, mode=r.mode,
                   n_samples=r.n_samples, channels=list(s.indices), names=list(s.names), warnings=list(s.warnings),
                   notes=[*s.notes, *notes], labels=r.label_channels)
