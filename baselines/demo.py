"""``dexndm demo``: run short LeapRotate episodes with the scripted policy and print the metrics.

Later stages of the DexNDM pipeline (trained base policy, virtual hand, Chaos Box, dynamics models,
correction) plug in here as they land.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import dexndm_envs  # noqa: F401  (registers the env ids)
from baselines.scripted import FingerGaitPolicy

logger = logging.getLogger(__name__)
METRIC_KEYS = ("rot_rad", "ttf", "ttf_s", "rotr", "rotp")


def run_episodes(env: gym.Env, policy: FingerGaitPolicy, episodes: int, steps: int, seed: int) -> list[dict]:
    """Roll out ``episodes`` episodes of at most ``steps`` steps; returns each episode's metrics."""
    results = []
    for ep in tqdm(range(episodes), desc="episodes", leave=False):
        obs, info = env.reset(seed=seed + ep)
        policy.reset()
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            if terminated or truncated:
                break
        results.append({"object": info["object"], **env.unwrapped.episode_metrics()})
    return results


def demo(wrists: list[str], object_name: str, episodes: int, steps: int, seed: int,
         json_path: Path | None = None) -> dict:
    """Evaluate the scripted policy on each wrist; print a table and optionally write JSON."""
    rows = []
    for wrist in wrists:
        env = gym.make("DexNDM/LeapRotate-v0", object=object_name, wrist=wrist, axis="+z")
        try:
            results = run_episodes(env, FingerGaitPolicy(), episodes, steps, seed)
        finally:
            env.close()
        row = {"wrist": wrist, "episodes": episodes, "steps": steps}
        row.update({k: float(np.mean([r[k] for r in results])) for k in METRIC_KEYS})
        rows.append(row)
    print(f"scripted finger gait, object={object_name}, axis=+z, {episodes} episodes x {steps} steps"
          f" (TTF as a fraction of the full 20 s episode)")
    print(f"{'wrist':<12}{'Rot (rad)':>10}{'TTF':>7}{'TTF (s)':>9}{'RotR':>9}{'RotP':>8}")
    for r in rows:
        print(f"{r['wrist']:<12}{r['rot_rad']:>10.2f}{r['ttf']:>7.2f}{r['ttf_s']:>9.1f}{r['rotr']:>9.2f}{r['rotp']:>8.3f}")
    out = {"rows": rows}
    if json_path is not None:
        json_path.write_text(json.dumps(out, indent=2))
    return out
