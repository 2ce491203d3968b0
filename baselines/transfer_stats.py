"""How much of the rotation a correction wins back on the hand: the pipeline's two headline figures.

Both compare the mean Rot (rad) of the corrected conditions with direct transfer, from the same
evaluation episodes (episode i of every condition starts from the same grasp):

* ``gap_closed`` = (corrected Rot - direct Rot) / (sim Rot - direct Rot): the share of the rotation
  lost on the hand that the correction wins back (1: all of it; 0: none; < 0: it made things worse).
  Undefined where the policy lost no rotation on the hand.
* ``improvement`` = corrected Rot / direct Rot - 1: the paper's relative improvement over direct
  transfer (its sim-to-sim figure is +52 %). Undefined where the policy did not rotate forward on the
  hand at all (direct Rot <= 0).

Each comes with a 95 % paired bootstrap interval over episodes: one episode's Rot varies by about
3 rad under the same policy, so read the interval before the number.
"""

from __future__ import annotations

import numpy as np

CORRECTIONS = ("whole_hand", "joint_wise")
"""The corrected conditions, in the order tables list them."""
FIGURES = {"gap_closed": ("sim", "direct"), "improvement": ("direct", None)}
"""Each figure's denominator: the first condition's Rot minus the second's (None: minus nothing)."""


def _denominator(means: dict, figure: str):
    if figure not in FIGURES:
        raise ValueError(f"unknown figure {figure!r}; allowed: {', '.join(FIGURES)}")
    plus, minus = FIGURES[figure]
    return means[plus] - (means[minus] if minus is not None else 0.0)


def transfer_figure(rows: dict[str, dict], figure: str) -> dict[str, float | None]:
    """``figure`` (a key of :data:`FIGURES`) per correction from the conditions' mean Rot
    (``rows[condition]["rot_rad"]``, rad); None where the figure is undefined (its denominator <= 0)."""
    means = {c: r["rot_rad"] for c, r in rows.items()}
    den = _denominator(means, figure)
    return {c: ((means[c] - means["direct"]) / den if den > 0 else None) for c in CORRECTIONS}


def transfer_interval(rot: dict[str, np.ndarray], figure: str, resamples: int = 2000, seed: int = 0,
                      level: float = 0.95) -> dict[str, list[float] | None]:
    """A paired bootstrap interval of :func:`transfer_figure` per correction from per-episode Rot (rad)
    per condition: the same episode indices are resampled for every condition. None where the figure
    is undefined, or where more than ``1 - level`` of the resamples leave it undefined (no interval then).
    """
    counts = sorted({len(v) for v in rot.values()})
    if len(counts) != 1:
        raise ValueError(f"every condition needs the same episodes for a paired bootstrap; got counts {counts}")
    point = transfer_figure({c: {"rot_rad": float(np.mean(v))} for c, v in rot.items()}, figure)
    idx = np.random.default_rng(seed).integers(0, counts[0], size=(resamples, counts[0]))
    means = {c: np.asarray(v, dtype=np.float64)[idx].mean(axis=1) for c, v in rot.items()}
    den = _denominator(means, figure)
    defined = den > 0
    tail = 100 * (1 - level) / 2
    out: dict[str, list[float] | None] = {}
    for c in CORRECTIONS:
        if point[c] is None or defined.mean() < level:
            out[c] = None
            continue
        values = (means[c] - means["direct"])[defined] / den[defined]
        out[c] = [float(x) for x in np.percentile(values, [tail, 100 - tail])]
    return out


def transfer_figures(rows: dict[str, dict], rot: dict[str, np.ndarray], seed: int = 0) -> dict:
    """Every figure and its interval, as ``pipeline.json`` holds them: ``{figure: {correction: value},
    figure + "_ci95": {correction: [low, high]}}``."""
    out: dict = {}
    for figure in FIGURES:
        out[figure] = transfer_figure(rows, figure)
        out[f"{figure}_ci95"] = transfer_interval(rot, figure, seed=seed)
    return out


def format_figure(result: dict, figure: str, condition: str) -> str:
    """A result's figure for ``condition`` with its interval: ``0.31 [-0.20, 0.85]`` for the gap closed,
    ``+90 % [+41, +152]`` for the improvement; ``-`` where undefined; ``[not measured]`` where too many
    resamples left it undefined for an interval."""
    point, ci = result[figure][condition], result[f"{figure}_ci95"][condition]
    if point is None:
        return "-"
    if figure == "improvement":
        interval = "[not measured]" if ci is None else f"[{100 * ci[0]:+.0f}, {100 * ci[1]:+.0f}]"
        return f"{100 * point:+.0f} % {interval}"
    interval = "[not measured]" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
    return f"{point:.2f} {interval}"
