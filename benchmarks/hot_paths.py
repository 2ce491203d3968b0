"""The simulator's hot paths under the reality-gap actuator, before and after a change.

Measured in a fresh process per tree and repeat (``PYTHONPATH`` set to the tree, so each process
imports that tree's ``dexndm_envs``), the trees alternating, ``--repeats`` times; reported as the
median over the repeats:

* **env steps/s**: ``env.step`` of ``DexNDM/LeapRotate-v0`` with ``gap="leap_xc330"`` (the Dynamixel
  XC330 model every substep), palm down, the ``cylinder`` category, proprioceptive observations,
  seeded uniform random actions. The first reset (which may generate the grasp cache) is untimed;
  episodes that end are reset, and reset time is excluded.
* **XC330 us/substep**: one ``DynamixelXC330.torque`` call (the per-physics-step actuator work) on
  recorded-looking inputs, outside the simulator.

With no ``--tree`` it measures the tree it is run from. The ratio column is each tree's steps/s over
the first tree's.

    python benchmarks/hot_paths.py --tree /path/to/old/checkout --tree . [--steps 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import header


def measure(steps: int, substeps: int) -> dict:
    """Both numbers for the ``dexndm_envs`` this process imports."""
    import gymnasium as gym
    import numpy as np

    import dexndm_envs  # noqa: F401  (registers DexNDM/*)
    from dexndm_envs.gap import load_gap

    env = gym.make("DexNDM/LeapRotate-v0", object="cylinder", wrist="palm_down", gap="leap_xc330")
    seed = 0
    env.reset(seed=seed)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, (steps, 16)).astype(np.float32)
    busy = 0.0
    for a in actions:
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(a)
        busy += time.perf_counter() - start
        if terminated or truncated:
            seed += 1
            env.reset(seed=seed)
    env.close()

    actuator = load_gap("leap_xc330").make_actuator()
    actuator.reset(np.zeros(16))
    q = rng.uniform(-0.5, 0.5, (substeps, 16))
    qdot = rng.normal(0.0, 1.0, (substeps, 16))
    target = q + rng.normal(0.0, 0.05, (substeps, 16))
    start = time.perf_counter()
    for i in range(substeps):
        actuator.torque(target[i], q[i], qdot[i])
    per_call = (time.perf_counter() - start) / substeps
    return {"steps_per_s": steps / busy, "xc330_us": 1e6 * per_call}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", type=Path, default=[],
                        help="a source tree to measure (repeatable; default: this script's tree)")
    parser.add_argument("--steps", type=int, default=2000, help="env steps per measurement")
    parser.add_argument("--substeps", type=int, default=20000, help="actuator calls per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.steps, args.substeps)))
        return
    trees = [t.resolve() for t in args.tree] or [Path(__file__).resolve().parents[1]]
    results: dict[Path, list[dict]] = {t: [] for t in trees}
    for _ in range(args.repeats):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, __file__, "--worker", "--steps", str(args.steps),
                                  "--substeps", str(args.substeps)], env=env, check=True, capture_output=True,
                                 text=True)
            results[tree].append(json.loads(out.stdout.strip().splitlines()[-1]))
    header()
    first = statistics.median(r["steps_per_s"] for r in results[trees[0]])
    print(f"{'tree':<40}{'env steps/s':>13}{'ratio':>8}{'XC330 us/substep':>19}   (median of {args.repeats})")
    for tree in trees:
        rate = statistics.median(r["steps_per_s"] for r in results[tree])
        us = statistics.median(r["xc330_us"] for r in results[tree])
        runs = ", ".join(f"{r['steps_per_s']:.0f}" for r in results[tree])
        print(f"{str(tree):<40}{rate:>13.0f}{rate / first:>8.2f}{us:>19.1f}   steps/s per run: {runs}")


if __name__ == "__main__":
    main()
