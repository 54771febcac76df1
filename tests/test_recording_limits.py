"""Recordings that would take the tool down (issue 22, items 1, 2 and 7): refused with one line, memory bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmcore.errors import InputError
from spasmcore.readers import open_source
from spasmwatch import cli

EDF_FIELDS = 16 + 80 + 8  # label, transducer, dimension: the per-signal fields before the ranges


def _edf(path: Path, field: int, equal: bool = True) -> Path:
    """A one-signal EDF whose `field`-th range field (0 pmin, 1 pmax, 2 dmin, 3 dmax) is overwritten by the next."""
    import edfio

    sig = np.sin(np.arange(5000) / 10.0) * 100
    edfio.Edf([edfio.EdfSignal(sig, 500, label="EMG", physical_dimension="uV")]).write(path)
    raw = bytearray(path.read_bytes())
    at = 256 + EDF_FIELDS + 8 * field
    if equal:
        raw[at : at + 8] = raw[at + 8 : at + 16]
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("field", "what"), [(2, "digital"), (0, "physical")])
def test_edf_with_an_empty_range_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], field: int,
                                            what: str) -> None:
    path = _edf(tmp_path / "r.edf", field)
    with pytest.raises(InputError, match=f"{what} minimum equals {what} maximum"):
        open_source(path)
    assert cli.main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be calibrated" in err


def test_edf_with_ranges_is_read(tmp_path: Path) -> None:
    src = open_source(_edf(tmp_path / "r.edf", 2, equal=False))
    assert src.n_samples == 5000 and src.units == "uV"
