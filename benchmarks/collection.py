"""How fast Chaos Box data can be collected: in simulation, and through the virtual hand.

* Simulation: ``dexndm collect``'s loop (baselines.collect) on DexNDM/LeapChaosBox-v0 with the gap
  profile and wave actions, per wrist: transitions per second, including the atomic episode writes.
* Emulator: the virtual hand's Chaos Box scene behind DexNDM/LeapRotateReal-v0 (the byte-level serial
  path): the control rate reached (20 Hz is real time, as on a real hand) and the physics thread's
  headroom, i.e. its real-time factor: (1/120 s) / (mean time of one physics step with the bus
  registers in and out).
Each row says how long the paper's 1.6 M transitions per wrist would take at that rate.

    python benchmarks/collection.py [--episodes 4] [--steps 400] [--emulator-steps 200]
"""

from __future__ import annotations

import argparse
import tempfile

import gymnasium as gym
from report import header

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from baselines.collect import collect
from baselines.episodes import env_factory
from baselines.sources import WaveSource
from dexndm_envs.poses import WRISTS
from real.emulator.virtual_hand import VirtualHand

PAPER_TRANSITIONS = 1_600_000


def hours(rate: float) -> str:
    return f"{PAPER_TRANSITIONS / rate / 3600:.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--emulator-steps", type=int, default=200)
    parser.add_argument("--gap", default="leap_xc330")
    args = parser.parse_args()
    header()
    print(f"simulation: {args.episodes} episodes x {args.steps} steps of waves per wrist, gap {args.gap}")
    print("| mode | wrist | balls | transitions/s | 1.6 M transitions |")
    print("|---|---|---:|---:|---:|")
    for wrist in WRISTS:
        kwargs = {"wrist": wrist, "gap": args.gap}
        make_env, meta, faults = env_factory("DexNDM/LeapChaosBox-v0", kwargs, None)
        env = gym.make("DexNDM/LeapChaosBox-v0", **kwargs)
        balls = len(env.unwrapped.balls)
        env.close()
        with tempfile.TemporaryDirectory() as out:
            r = collect(make_env, WaveSource(), args.episodes, out, meta, steps=args.steps, progress=False)
        print(f"| sim (in-process) | {wrist} | {balls} | {r['transitions_per_s']:.0f} | "
              f"{hours(r['transitions_per_s'])} |")

    for wrist in ("palm_down", "palm_up"):
        with VirtualHand(gap=args.gap, wrist=wrist, scene="chaos_box") as hand:
            make_env, meta, faults = env_factory("DexNDM/LeapRotateReal-v0", {"wrist": wrist}, hand.port)
            with tempfile.TemporaryDirectory() as out:
                r = collect(make_env, WaveSource(), 1, out, meta, steps=args.emulator_steps, faults=faults,
                            progress=False)
            stats = hand.physics_stats()
        print(f"| emulator (serial, 20 Hz loop) | {wrist} | {len(hand.env.balls)} | {r['transitions_per_s']:.1f} "
              f"| {hours(r['transitions_per_s'])} |")
        print(f"| emulator physics thread | {wrist} | | real-time factor {stats['real_time_factor']:.0f} "
              f"({1e3 * stats['mean_step_s']:.2f} ms per 1/120 s step, {stats['steps']} steps) | |")


if __name__ == "__main__":
    main()
