"""The baselines' one plotting setup: Matplotlib on its Agg backend (pictures go to files, no display
is needed), chosen here once; :func:`figure` makes a figure and :func:`save` lays it out, writes it
atomically (:func:`dexndm_envs.fileio.atomic_write`) and closes it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dexndm_envs.fileio import atomic_write  # noqa: E402


def figure(rows: int = 1, columns: int = 1, *, size: tuple[float, float], **subplots):
    """A new figure of ``size`` inches with a ``rows`` x ``columns`` grid of axes: ``(fig, axes)`` as
    :func:`matplotlib.pyplot.subplots` returns them (``subplots``: its other keywords, e.g. ``sharex``)."""
    return plt.subplots(rows, columns, figsize=size, **subplots)


def colors() -> list[str]:
    """The colour cycle, for lines that must match across calls (one colour per condition)."""
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def save(fig, path: str | Path, dpi: int = 90) -> Path:
    """Lay ``fig`` out tightly, write it to ``path`` (format from the suffix, PNG by default) atomically,
    close it and return the path."""
    path = Path(path)
    fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=path.suffix.lstrip(".") or "png"))
    finally:
        plt.close(fig)
    return path
