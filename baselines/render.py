"""``dexndm render``: one picture per wrist orientation of a scene, the six in one PNG: the hand
holding an object (``rotate``) or the hand in its Chaos Box after some wave motion (``chaos_box``)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the env ids)
from baselines import plots
from baselines.sources import WaveSource
from dexndm_envs.poses import WRISTS
from real.emulator.virtual_hand import SCENES


def _frame(scene: str, wrist: str, object_name: str, seed: int) -> np.ndarray:
    if scene == "rotate":
        env = gym.make("DexNDM/LeapRotate-v0", object=object_name, wrist=wrist, render_mode="rgb_array")
        env.reset(seed=seed)
    else:
        env = gym.make("DexNDM/LeapChaosBox-v0", wrist=wrist, render_mode="rgb_array")
        source = WaveSource()
        source.reset(np.random.default_rng(seed))
        obs, _ = env.reset(seed=seed)
        for _ in range(60):  # 3 s of waves, so the picture shows the balls displaced by the fingers
            obs, *_ = env.step(source(obs))
    image = env.render()
    env.close()
    return image


def render_wrists(object_name: str, out: Path, seed: int = 0, scene: str = "rotate", progress: bool = True) -> Path:
    """Render ``scene`` ("rotate": the first cached grasp of ``object_name``; "chaos_box") for every
    wrist into one PNG at ``out`` (a progress bar per wrist: each takes seconds, more where the grasps
    are generated first)."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; allowed: {', '.join(SCENES)}")
    fig, axes = plots.figure(2, 3, size=(12, 6.4))
    for ax, wrist in zip(axes.ravel(), tqdm(WRISTS, desc=f"render {scene}", unit="wrist", disable=not progress)):
        ax.imshow(_frame(scene, wrist, object_name, seed))
        ax.set_title(wrist.replace("_", " "))
        ax.axis("off")
    title = (f"LeapRotate-v0 grasps of {object_name}" if scene == "rotate"
             else "LeapChaosBox-v0 after 3 s of wave actions (palm up: a ball strapped to three fingertips)")
    fig.suptitle(f"{title} (world z up)")
    return plots.save(fig, out, dpi=80)
