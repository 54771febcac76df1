"""The same batch on a Dask cluster (`replay --scheduler tcp://HOST:PORT`, the optional `cluster` extra).

Dask does the scheduling (no home-made one): each recording is one task running job.run_one on a worker that
has spasmwatch installed and can read the recording's path; results come back as they finish. The compiled
engine is loaded once per worker before the tasks (client.run), as the local worker processes do.
"""

from __future__ import annotations

from collections.abc import Iterator

from spasmcore.errors import ConfigError, FatalError
from spasmwatch.engine.job import Job, Outcome, run_one, warm

CONNECT_TIMEOUT_S = 20


def run_on_cluster(jobs: list[Job], address: str) -> Iterator[Outcome]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install 'spasmwatch[cluster]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise FatalError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    try:
        if jobs:
            client.run(warm, jobs[0].engine)  # one engine load per worker, before any task
        futures = client.map(run_one, jobs, pure=False)
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()
