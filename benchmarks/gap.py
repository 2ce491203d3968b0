"""How large the reality gap of a profile is: the same actions, ideal PD vs the profile.

For ``--episodes`` seeded resets (palm up, a cylinder), the same seeded random action sequence is run
in ``DexNDM/LeapRotate-v0`` with the simulator's ideal PD and with the gap profile. Printed per joint
(motor order): the RMS difference between the two joint trajectories, and each env's RMS tracking
error |q - target|.

    python benchmarks/gap.py [--gap leap_xc330] [--episodes 5] [--steps 200]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from report import header, joint_table

import dexndm_envs  # noqa: F401  (registers DexNDM/*)


def rollout(gap: str | None, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions and targets [steps, 16] (rad) for seeded random actions."""
    env = gym.make("DexNDM/LeapRotate-v0", object="cylinder_d55_ar20", wrist="palm_up", gap=gap)
    env.reset(seed=seed)
    rng = np.random.default_rng(1000 + seed)
    q, targets = [], []
    for _ in range(steps):
        _, _, terminated, _, info = env.step(rng.uniform(-1, 1, 16).astype(np.float32))
        q.append(env.unwrapped.hand.joint_state()[0])
        targets.append(info["target"])
        if terminated:
            break
    env.close()
    return np.array(q), np.array(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gap", default="leap_xc330")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    header()
    diff, track_ideal, track_gap = [], [], []
    for seed in range(args.episodes):
        (qi, ti), (qg, tg) = rollout(None, seed, args.steps), rollout(args.gap, seed, args.steps)
        n = min(len(qi), len(qg))
        diff.append(qi[:n] - qg[:n])
        track_ideal.append(qi - ti)
        track_gap.append(qg - tg)
    rms = lambda parts: np.sqrt(np.mean(np.concatenate(parts) ** 2, axis=0))  # noqa: E731
    print(f"{args.episodes} episodes x {args.steps} steps, random actions; RMS in mrad per joint (motor order)")
    joint_table([("ideal vs gap", rms(diff)), ("track ideal", rms(track_ideal)), (f"track {args.gap}", rms(track_gap))])


if __name__ == "__main__":
    main()
