"""Does the virtual hand behave like the in-process gap env? The same grasp, the same actions.

For each seed: ``LeapRotate-v0(gap=PROFILE)`` resets to a grasp; the virtual hand (``dexndm emulate``'s
code, same profile, same object, wrist and seed, hence the same grasp) is driven through
``LeapRotateReal-v0`` starting from that grasp's target; both get the same seeded action sequence.
Printed per joint (motor order), RMS in mrad: emulator vs gap env, and for scale gap env vs the ideal
PD env. The emulator runs in real time behind a serial line (reads and writes land at slightly
different moments than in the lock-step env), so the two agree only up to that timing.

    python benchmarks/emulator_vs_gap.py [--gap leap_xc330] [--seeds 3] [--steps 60]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from report import header, joint_table

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from dexndm_envs.interface import PROPRIO_LAYOUT
from real.emulator.virtual_hand import VirtualHand

NEWEST_Q = slice(PROPRIO_LAYOUT["history"].stop - 32, PROPRIO_LAYOUT["history"].stop - 16)
SCENE = dict(object="cylinder_d55_ar20", wrist="palm_up")


def run(env: gym.Env, actions: np.ndarray, seed: int, options: dict | None = None) -> np.ndarray:
    obs, _ = env.reset(seed=seed, options=options)
    out = []
    for a in actions:
        obs, *_ = env.step(a)
        out.append(obs[NEWEST_Q].copy())
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gap", default="leap_xc330")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    header()
    emu_vs_gap, gap_vs_ideal = [], []
    for seed in range(args.seeds):
        actions = np.random.default_rng(seed).uniform(-0.5, 0.5, (args.steps, 16)).astype(np.float32)
        gap_env = gym.make("DexNDM/LeapRotate-v0", gap=args.gap, **SCENE)
        ideal_env = gym.make("DexNDM/LeapRotate-v0", **SCENE)
        q_gap = run(gap_env, actions, seed)
        gap_env.reset(seed=seed)
        start = gap_env.unwrapped.target.copy()
        q_ideal = run(ideal_env, actions, seed)
        with VirtualHand(gap=args.gap, seed=seed, **SCENE) as hand:
            real = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist=SCENE["wrist"], **hand.driver_settings)
            q_emu = run(real, actions, seed, options={"target": start})
            real.close()
        gap_env.close()
        ideal_env.close()
        emu_vs_gap.append(q_emu - q_gap)
        gap_vs_ideal.append(q_gap - q_ideal)
    rms = lambda parts: np.sqrt(np.mean(np.concatenate(parts) ** 2, axis=0))  # noqa: E731
    print(f"{args.seeds} seeds x {args.steps} steps; RMS joint difference in mrad (motor order)")
    joint_table([("emulator vs gap", rms(emu_vs_gap)), ("gap vs ideal", rms(gap_vs_ideal))])


if __name__ == "__main__":
    main()
