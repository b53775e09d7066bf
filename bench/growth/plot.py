"""The growth curves as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the file-only backend

Series = tuple[str, Sequence[float]]


def curves(
    path: Path,
    title: str,
    x_label: str,
    xs: Sequence[int],
    panels: Sequence[tuple[str, Sequence[Series]]],
    *,
    log_x: bool = True,
    note: str = "",
) -> None:
    """One PNG: side-by-side panels sharing x, each with its named series."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for axis, (y_label, series) in zip(axes[0], panels, strict=True):
        for name, ys in series:
            axis.plot(xs, ys, marker="o", label=name)
        if log_x:
            axis.set_xscale("log")
        axis.set_xticks(list(xs), [f"{x:,}" for x in xs])
        axis.minorticks_off()
        axis.set_xlabel(x_label)
        axis.set_ylabel(y_label)
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    if note:
        figure.text(0.01, 0.01, note, fontsize=7, alpha=0.7)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
