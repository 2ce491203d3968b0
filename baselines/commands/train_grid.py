"""``dexndm train-grid``: a resumable grid of ``dexndm train`` runs (wrist x object x axis x seed), in this
process or as Ray Tune trials (:mod:`baselines.train_grid`)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train a grid of cells (wrist x object x axis x seed) from a grid file, resumably, here or on Ray Tune"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from baselines.cluster import add_ray_argument

    p.add_argument("grid", type=Path, help="the grid file (YAML): the training settings every cell shares and the "
                   "lists wrists, objects, axes, seeds it crosses (baselines/train_grid.py; example: "
                   "baselines/configs/grid_oracles.yaml)")
    p.add_argument("--out", type=Path, default=None,
                   help="the grid's directory, a cell's run in OUT/<wrist>_<object>_<axis>_s<seed> (default: "
                        "runs/<grid file name>); run the same command again to resume it")
    add_ray_argument(p)


def run(args: argparse.Namespace) -> None:
    from baselines.train_grid import GridCellsFailed, format_summary, load_grid, run_grid

    out = args.out or Path("runs") / args.grid.stem
    try:
        rows = run_grid(load_grid(args.grid), out, args.ray)
    except GridCellsFailed as e:  # cells failed or were interrupted on Tune; the others are kept
        raise SystemExit(f"dexndm train-grid: error: {e}") from None
    print(format_summary(rows))
    plot = out / "curves.png"
    print(f"{len(rows)} cells -> {out}: summary.md, summary.json" + (f", learning curves {plot}" if plot.is_file()
                                                                     else " (no learning curves yet)"))
