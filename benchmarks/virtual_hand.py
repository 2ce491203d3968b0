"""The virtual hand's physics step: goal registers in, one actuated 1/120 s physics step, present
registers out (``VirtualHand.physics_step``), timed without the real-time threads.

The hand (``leap_xc330`` gap, cylinder, palm up, seed 0) is switched on the way the LEAP driver does it
(current-based position mode, P 800 / D 200, 350 mA, torque on) by setting its servos' registers
directly, each finger gets a goal a little off its grasp, then ``--steps`` physics steps are timed one
by one (after ``--warmup`` untimed ones). Printed: median and mean time per step.

With ``--trees A B ...`` the script runs itself once per tree (``PYTHONPATH=TREE``), alternating
trees for ``--repeats`` rounds, and prints each tree's median over the rounds and its ratio to the
first tree's, e.g. before / after a change:

    python benchmarks/virtual_hand.py [--steps 1200] [--warmup 120]
    python benchmarks/virtual_hand.py --trees /path/to/before /path/to/after [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from report import header


def measure(steps: int, warmup: int) -> dict:
    """Per-step times (s) of ``steps`` physics steps of a switched-on virtual hand."""
    from real.emulator.virtual_hand import VirtualHand

    hand = VirtualHand(object="cylinder_d55_ar20", wrist="palm_up", seed=0)
    try:
        for i, table in sorted(hand.bus.tables.items()):
            for name, value in (("operating_mode", 5), ("position_p_gain", 800), ("position_d_gain", 200),
                                ("goal_current", 350)):
                table.set(name, value)
            table.set("goal_position", table.get("present_position") + (i % 5 - 2) * 40)
            table.set("torque_enable", 1)
        for _ in range(warmup):
            hand.physics_step()
        times = np.empty(steps)
        for k in range(steps):
            start = time.perf_counter()
            hand.physics_step()
            times[k] = time.perf_counter() - start
    finally:
        hand.stop()
    return {"median_s": float(np.median(times)), "mean_s": float(times.mean())}


def compare(trees: list[str], repeats: int, steps: int, warmup: int) -> None:
    """Run :func:`measure` in a subprocess per tree, alternating, and print the medians and ratios."""
    results: dict[str, list[dict]] = {tree: [] for tree in trees}
    for r in range(repeats):
        for tree in trees:
            env = dict(os.environ, PYTHONPATH=tree)
            out = subprocess.run([sys.executable, __file__, "--steps", str(steps), "--warmup", str(warmup),
                                  "--json"], env=env, check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results[tree].append(result)
            print(f"round {r + 1}: {tree}: median {1e3 * result['median_s']:.3f} ms, "
                  f"mean {1e3 * result['mean_s']:.3f} ms", flush=True)
    base = np.median([x["median_s"] for x in results[trees[0]]])
    for tree in trees:
        median = np.median([x["median_s"] for x in results[tree]])
        mean = np.median([x["mean_s"] for x in results[tree]])
        print(f"{tree}: physics_step median {1e3 * median:.3f} ms (mean {1e3 * mean:.3f} ms) over {repeats} rounds "
              f"of {steps} steps; {base / median:.2f}x the speed of {trees[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--warmup", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trees", nargs="+", help="source trees to compare (each run with PYTHONPATH=TREE)")
    parser.add_argument("--json", action="store_true", help="print one JSON line (used by --trees)")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.steps, args.warmup)))
        return
    header()
    if args.trees:
        compare(args.trees, args.repeats, args.steps, args.warmup)
    else:
        result = measure(args.steps, args.warmup)
        print(f"physics_step: median {1e3 * result['median_s']:.3f} ms, mean {1e3 * result['mean_s']:.3f} ms "
              f"over {args.steps} steps (1/120 s = 8.333 ms of real time)")


if __name__ == "__main__":
    main()
