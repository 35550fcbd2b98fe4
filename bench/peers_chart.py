"""The chart of a peer-harness run (``chart.png``): thywill and the best peer, as ratios
to the reference of each row (the raw ASGI ceiling, or the best Redis-backed peer), with
each row's target. Logarithmic axes: thywill may be far from its targets either way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from peers_table import Comparison

BAR = 0.38
ROW_INCHES = 0.32
DEFAULT_SPAN = (0.01, 10.0)
"""The axis of a panel with no figure at all."""


def draw(
    ceiling: Sequence[Comparison], redis: Sequence[Comparison], path: Path, title: str
) -> None:
    """Write the chart of the run's comparisons to ``path`` (PNG)."""
    panels = [
        (
            "Throughput ÷ raw ASGI ceiling, same transport (higher is better)",
            [c for c in ceiling if c.figure.higher_is_better],
        ),
        (
            "p99 latency and memory per idle connection ÷ ceiling (lower is better)",
            [c for c in ceiling if not c.figure.higher_is_better],
        ),
        (
            "Two thywill processes through Redis ÷ best Redis-backed peer, rt100",
            list(redis),
        ),
    ]
    panels = [(heading, comparisons) for heading, comparisons in panels if comparisons]
    if not panels:
        panels = [("Nothing measured in this run", [])]
    rows = [max(1, len(comparisons)) for _, comparisons in panels]
    figure, axes = plt.subplots(
        len(panels),
        1,
        squeeze=False,
        figsize=(11, 2.2 * len(panels) + ROW_INCHES * sum(rows)),
        gridspec_kw={"height_ratios": rows},
    )
    for axis, (heading, comparisons) in zip(axes[:, 0], panels, strict=True):
        panel(axis, heading, comparisons)
    axes[0, 0].legend(loc="lower right", fontsize="small")
    figure.suptitle(f"thywill against the peers, run {title}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def panel(axis: Axes, heading: str, comparisons: Sequence[Comparison]) -> None:
    """One group of rows: a bar for thywill and one for the best peer, the target."""
    places = list(range(len(comparisons)))
    mine = [known(c.ratio) for c in comparisons]
    peers = [known(c.peer_ratio) for c in comparisons]
    targets = [known(c.bound) for c in comparisons]
    axis.barh([p - BAR / 2 for p in places], mine, BAR, color="tab:blue", label="thywill")
    axis.barh([p + BAR / 2 for p in places], peers, BAR, color="silver", label="best peer")
    axis.scatter(targets, places, marker="|", s=300, color="tab:red", label="target")
    for place, ratio in zip(places, mine, strict=True):
        if not math.isnan(ratio):
            axis.annotate(
                f"{ratio:.3g}",
                (ratio, place - BAR / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize="x-small",
            )
    axis.axvline(1.0, color="black", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_xlim(*span([*mine, *peers, *targets]))
    axis.set_yticks(places, [c.label for c in comparisons], fontsize="small")
    axis.invert_yaxis()
    axis.set_title(heading, fontsize="medium", loc="left")
    axis.grid(axis="x", which="major", alpha=0.3)


def known(ratio: float | None) -> float:
    """A ratio to draw; NaN (nothing drawn) when it was not measured."""
    return math.nan if ratio is None or ratio <= 0 else ratio


def span(values: Sequence[float]) -> tuple[float, float]:
    """The axis range: every value and 1 (the reference), with a margin."""
    drawn = [value for value in values if not math.isnan(value)]
    if not drawn:
        return DEFAULT_SPAN
    return min(*drawn, 1.0) / 2, max(*drawn, 1.0) * 2
