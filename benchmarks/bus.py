"""The emulated bus: full read + write cycles per second, and the 20 Hz loop's timing, while the
virtual hand runs its physics in real time.

* **Cycle rate**: ``LeapHand.read()`` (one FAST SYNC READ of current + velocity + position for all 16
  motors) followed by ``LeapHand.command()`` (one SYNC WRITE of 16 goal positions), back to back
  for ``--seconds`` (target >= 200 Hz).
* **Loop jitter**: ``DexNDM/LeapRotateReal-v0`` stepped ``--steps`` times; the error of each loop period
  against 50 ms (target p99 <= 5 ms).

    python benchmarks/bus.py [--seconds 5] [--steps 400]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from report import header

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from real.emulator.virtual_hand import VirtualHand
from real.leap_hand import LeapHand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    header()
    with VirtualHand(wrist="palm_down") as hand:
        with LeapHand(hand.port) as leap:
            cycles, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                q, _, _ = leap.read()
                leap.command(q)
                cycles += 1
            rate = cycles / (time.perf_counter() - start)
        env = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_down")
        env.reset(seed=0)
        periods = []
        for _ in range(args.steps):
            _, _, _, truncated, info = env.step(np.zeros(16, np.float32))
            periods.append(info["period_s"])
            if truncated:
                env.reset()
        env.close()
    error_ms = np.abs(np.array(periods[1:]) - 0.05) * 1000.0
    print(f"read+write cycles/s over the emulated bus: {rate:.0f} (target >= 200)  "
          f"{'PASS' if rate >= 200 else 'MISS'}")
    print(f"20 Hz loop, {len(error_ms)} periods: period error median {np.median(error_ms):.2f} ms, "
          f"p99 {np.percentile(error_ms, 99):.2f} ms, max {error_ms.max():.2f} ms (target p99 <= 5 ms)  "
          f"{'PASS' if np.percentile(error_ms, 99) <= 5 else 'MISS'}")


if __name__ == "__main__":
    main()
