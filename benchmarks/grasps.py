"""Grasp generation and grasp quality for every wrist orientation.

For each (object, wrist): the grasp cache is generated from scratch in a temporary cache directory
(candidates tried, accepted, acceptance rate, seconds), then ``--resets`` episodes of 400 steps with
zero actions count how often the object is still held at the end (no domain randomization).

    python benchmarks/grasps.py [--objects cylinder_d55_ar20 cuboid_s50_ar1375] [--resets 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from dexndm_envs.poses import WRISTS


def held_fraction(env: gym.Env, resets: int, seed: int) -> float:
    """Fraction of zero-action episodes (400 steps) that end with the object still in the hand."""
    held = 0
    env.reset(seed=seed)
    for _ in range(resets):
        env.reset()
        terminated = truncated = False
        while not (terminated or truncated):
            _, _, terminated, truncated, _ = env.step(np.zeros(16, dtype=np.float32))
        held += not terminated
    return held / resets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", nargs="+", default=["cylinder_d55_ar20", "cuboid_s50_ar1375"])
    parser.add_argument("--resets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("command: python " + shlex.join(sys.argv))
    print(f"machine: {platform.platform()}, python {platform.python_version()}")
    print(f"{'object':<20}{'wrist':<12}{'candidates':>11}{'accepted':>9}{'rate':>7}{'gen s':>7}{'held@400':>10}")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DEXNDM_CACHE"] = cache
        for name in args.objects:
            for wrist in WRISTS:
                env = gym.make("DexNDM/LeapRotate-v0", object=name, wrist=wrist)
                start = time.perf_counter()
                env.reset(seed=args.seed)
                stats = env.unwrapped.grasps.stats
                gen_s = time.perf_counter() - start
                held = held_fraction(env, args.resets, args.seed)
                env.close()
                print(f"{name:<20}{wrist:<12}{stats['candidates']:>11}{stats['accepted']:>9}"
                      f"{stats['acceptance_rate']:>7.0%}{gen_s:>7.1f}{held:>10.0%}")


if __name__ == "__main__":
    main()
