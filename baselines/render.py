"""``dexndm render``: a picture of the hand holding an object in each of the six wrist orientations."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import dexndm_envs  # noqa: F401,E402
from dexndm_envs.poses import WRISTS  # noqa: E402


def render_wrists(object_name: str, out: Path, seed: int = 0) -> Path:
    """Render the first cached grasp of ``object_name`` for every wrist into one PNG at ``out``."""
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4))
    for ax, wrist in zip(axes.ravel(), WRISTS):
        env = gym.make("DexNDM/LeapRotate-v0", object=object_name, wrist=wrist, render_mode="rgb_array")
        env.reset(seed=seed)
        ax.imshow(env.render())
        ax.set_title(wrist.replace("_", " "))
        ax.axis("off")
        env.close()
    fig.suptitle(f"LeapRotate-v0 grasps of {object_name} (world z up)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
