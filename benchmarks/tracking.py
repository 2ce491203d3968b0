"""Does a correction make the hand's joints move as the simulator's did? Open-loop replay of a pipeline
run's simulated episodes on its hand.

The residual is trained to make the hand's next joint positions those of the base policy's simulated
episodes. This benchmark checks that on the hand itself, without the policy's feedback in the way: for
each sim evaluation episode a pipeline run saved (``WORKDIR/data/sim_rollouts``), the in-process gap
env is reset with that episode's seed (the same grasp) and its actions are replayed open loop, with no
correction and under each of the run's residuals (``models/{joint,whole}_residual.pt``); the first row
replays in the simulator itself, a check of the harness (0 when replay is exact). Reported:
the RMS difference between the hand's joint readings and the simulator's (mrad, all joints) over the
first 0.5, 2 and 20 s, and the rotation replayed (rad). Open loop the object drifts from the simulated
one within seconds, after which the joints follow another contact history; the early windows are the
clean test of what the residual was trained for.

``--parts`` adds a row per part of the gap profile (``benchmarks/gap_budget.py``'s variants, with no
correction): how much of the joints' error each part makes, and how much is left with the servos
behaving as the simulator's (``best correction``), which no correction of the targets can remove.

    python benchmarks/tracking.py WORKDIR [--episodes 20] [--parts]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from gap_budget import variants
from report import header

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from baselines.episodes import episode_seeds
from dexndm_envs import interface
from dexndm_envs.actuators import make_actuator
from dexndm_envs.dynamics.dataset import EpisodeDataset
from dexndm_envs.gap import load_gap
from dexndm_envs.metrics import CONTROL_HZ
from dexndm_envs.wrappers import NDMCorrection

WINDOWS_S = (0.5, 2.0, 20.0)


def replay(env: gym.Env, episode: dict) -> tuple[np.ndarray, float]:
    """Replay one saved episode's actions from its seed: (joint readings, rad, motor order, one row per
    step that ran; the rotation about the axis, rad)."""
    meta = episode["meta"]
    obs, _ = env.reset(seed=episode_seeds(meta["seed"], meta["episode"])[0])
    q = [interface.latest_joint_positions(obs)]
    for action in episode["actions"]:
        obs, _, terminated, truncated, _ = env.step(action)
        q.append(interface.latest_joint_positions(obs))
        if terminated or truncated:
            break
    return np.array(q), float(env.unwrapped.episode_metrics()["rot_rad"])


def load_run(workdir: Path) -> tuple[dict, EpisodeDataset, dict, dict]:
    """A pipeline run on the in-process gap env: its ``pipeline.json``, its saved simulated episodes,
    and the env kwargs of its simulator and of its hand (the same task with the gap profile instead of
    the simulator's actuator)."""
    result = json.loads((workdir / "pipeline.json").read_text())
    if result["gap"] is None:
        raise ValueError(f"{workdir} ran on a hand on a port; this benchmark replays on the in-process gap env")
    episodes = EpisodeDataset(workdir / "data" / "sim_rollouts")
    sim_kwargs = episodes[0]["meta"]["env_kwargs"]
    hand_kwargs = {**{k: v for k, v in sim_kwargs.items() if k != "actuator"}, "gap": result["gap"]}
    return result, episodes, sim_kwargs, hand_kwargs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a pipeline run's directory (dexndm demo, benchmarks/sim2real.py)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--parts", action="store_true", help="also replay on each part of the gap profile")
    args = parser.parse_args()
    header()
    result, episodes, sim_kwargs, hand_kwargs = load_run(args.workdir)
    count = min(args.episodes, len(episodes))
    models = args.workdir / "models"
    rows = {"simulator (replay check)": (sim_kwargs, None), "hand, no correction": (hand_kwargs, None),
            "hand, joint-wise": (hand_kwargs, models / "joint_residual.pt"),
            "hand, whole-hand": (hand_kwargs, models / "whole_residual.pt")}
    if args.parts:
        simulator = make_actuator(sim_kwargs.get("actuator", "ideal_pd"))
        for part, profile in variants(load_gap(result["gap"]), simulator).items():
            if part != "full":
                rows[f"gap variant, no correction: {part}"] = ({**hand_kwargs, "gap": profile}, None)
    print(f"run {args.workdir} (policy {Path(result['policy']).name}, gap {result['gap']}); {count} episodes "
          "replayed open loop")
    print("| replayed on | " + " | ".join(f"joint RMS vs sim, first {w:g} s (mrad)" for w in WINDOWS_S)
          + " | Rot replayed (rad) | Rot in sim (rad) |")
    print("|---|" + "---:|" * (len(WINDOWS_S) + 2))
    for label, (kwargs, checkpoint) in rows.items():
        env = gym.make("DexNDM/LeapRotate-v0", **kwargs)
        if checkpoint is not None:
            env = NDMCorrection(env, checkpoint)
        squared = {w: [] for w in WINDOWS_S}
        rot, rot_sim = [], []
        try:
            for i in range(count):
                episode = episodes[i]
                q, r = replay(env, episode)
                sim_q = np.asarray(episode["q"])[: len(q)]
                for w in WINDOWS_S:
                    steps = min(len(q), int(round(w * CONTROL_HZ)) + 1)
                    squared[w].append(((q[1:steps] - sim_q[1:steps]) ** 2).ravel())
                rot.append(r)
                rot_sim.append(episode["meta"]["metrics"]["rot_rad"])
        finally:
            env.close()
        rms = [1000 * np.sqrt(np.mean(np.concatenate(squared[w]))) for w in WINDOWS_S]
        print(f"| {label} | " + " | ".join(f"{x:.1f}" for x in rms)
              + f" | {np.mean(rot):.2f} | {np.mean(rot_sim):.2f} |", flush=True)


if __name__ == "__main__":
    main()
