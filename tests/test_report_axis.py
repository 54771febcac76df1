"""The range report's rate chart on little data: the axis starts at 0 (it ran -0.05..0.05 with no rate yet)."""

from __future__ import annotations

from datetime import datetime

import matplotlib
import pytest

from spasmwatch.report.range import fig_daily

matplotlib.use("Agg")


class _Range:
    notes: list = []


@pytest.mark.parametrize("rates", [[None, None, None], [0.0, None, 0.0], [0.3, None, 0.0], [4.0, 12.0, 0.5]])
def test_the_rate_axis_never_runs_negative(rates: list[float | None]) -> None:
    start = datetime(2025, 3, 3).astimezone().timestamp()
    days = [{"start": start + i * 86400, "rate_h": r, "monitored_s": 600.0 if r is None else 7200.0}
            for i, r in enumerate(rates)]
    fig = fig_daily(_Range(), days)  # type: ignore[arg-type]
    low, high = fig.axes[0].get_ylim()
    assert low == 0 and high >= max([1.0] + [r for r in rates if r is not None])
    import matplotlib.pyplot as plt

    plt.close(fig)
