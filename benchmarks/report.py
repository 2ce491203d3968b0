"""Shared output of the benchmark scripts: the run header and per-joint tables."""

from __future__ import annotations

import platform
import shlex
import sys

import numpy as np


def header() -> None:
    """Print the command line and the machine, so pasted output says where it came from."""
    print("command: python " + shlex.join(sys.argv))
    print(f"machine: {platform.platform()}, python {platform.python_version()}")


def joint_table(rows: list[tuple[str, np.ndarray]], scale: float = 1000.0) -> None:
    """Print one row per (label, 16 per-joint values), values times ``scale`` (rad -> mrad), with a mean."""
    width = max(len(label) for label, _ in rows) + 2
    print(" " * width + "".join(f"{j:>6}" for j in range(16)) + f"{'mean':>7}")
    for label, values in rows:
        values = scale * np.asarray(values)
        print(f"{label:<{width}}" + "".join(f"{v:>6.0f}" for v in values) + f"{values.mean():>7.0f}")
