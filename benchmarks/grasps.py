"""Grasp generation and grasp quality, per wrist and per object category.

For each (object, wrist): the grasp cache is generated from scratch in a temporary cache directory
(candidates tried until 32 grasps are accepted, at most 400; acceptance rate; seconds), then
``--resets`` episodes of 400 steps with zero actions count how often the object is still held at the end
(no domain randomization).

    python benchmarks/grasps.py wrists [--objects cylinder_d55_ar20 cuboid_s50_ar1375] [--resets 20]
    python benchmarks/grasps.py categories [--wrists palm_up palm_down] [--per-category 3] [--resets 10]

``wrists`` prints one row per (object, wrist) over all six wrists; ``categories`` samples
``--per-category`` objects of every category (first, middle and last of the catalogue order) and prints
one row per (category, wrist) with the mean and the lowest acceptance.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import gymnasium as gym
import numpy as np
from report import header

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from dexndm_envs.objects import categories, list_objects
from dexndm_envs.poses import WRISTS


def measure(name: str, wrist: str, resets: int, seed: int) -> dict:
    """Generate the grasp cache of (object, wrist) and count zero-action episodes that keep the object."""
    env = gym.make("DexNDM/LeapRotate-v0", object=name, wrist=wrist)
    start = time.perf_counter()
    env.reset(seed=seed)
    stats = dict(env.unwrapped.grasps.stats, seconds=time.perf_counter() - start)
    held = 0
    for _ in range(resets):
        env.reset()
        terminated = truncated = False
        while not (terminated or truncated):
            _, _, terminated, truncated, _ = env.step(np.zeros(16, dtype=np.float32))
        held += not terminated
    env.close()
    return dict(stats, held=held / resets)


def by_wrist(args: argparse.Namespace) -> None:
    print(f"{'object':<20}{'wrist':<12}{'candidates':>11}{'accepted':>9}{'rate':>7}{'gen s':>7}{'held@400':>10}")
    for name in args.objects:
        for wrist in WRISTS:
            m = measure(name, wrist, args.resets, args.seed)
            print(f"{name:<20}{wrist:<12}{m['candidates']:>11}{m['accepted']:>9}"
                  f"{m['acceptance_rate']:>7.0%}{m['seconds']:>7.1f}{m['held']:>10.0%}")


def by_category(args: argparse.Namespace) -> None:
    print(f"{'category':<16}{'wrist':<11}{'objects':>8}{'mean rate':>10}{'lowest':>8}{'  (object)':<22}"
          f"{'gen s':>6}{'held@400':>9}")
    for category in categories():
        specs = list_objects(category)
        picks = sorted({0, len(specs) // 2, len(specs) - 1})[: args.per_category]
        for wrist in args.wrists:
            rows = {specs[i].name: measure(specs[i].name, wrist, args.resets, args.seed) for i in picks}
            lowest = min(rows, key=lambda n: rows[n]["acceptance_rate"])
            print(f"{category:<16}{wrist:<11}{len(rows):>8}"
                  f"{np.mean([r['acceptance_rate'] for r in rows.values()]):>10.0%}"
                  f"{rows[lowest]['acceptance_rate']:>8.0%}  {lowest:<20}"
                  f"{np.mean([r['seconds'] for r in rows.values()]):>6.1f}"
                  f"{np.mean([r['held'] for r in rows.values()]):>9.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("wrists")
    p.add_argument("--objects", nargs="+", default=["cylinder_d55_ar20", "cuboid_s50_ar1375"])
    p.add_argument("--resets", type=int, default=20)
    p.set_defaults(func=by_wrist)
    p = sub.add_parser("categories")
    p.add_argument("--wrists", nargs="+", default=["palm_up", "palm_down"], choices=list(WRISTS))
    p.add_argument("--per-category", type=int, default=3)
    p.add_argument("--resets", type=int, default=10)
    p.set_defaults(func=by_category)
    args = parser.parse_args()
    header()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DEXNDM_CACHE"] = cache
        args.func(args)


if __name__ == "__main__":
    main()
