"""The distilled generalist (:mod:`baselines.distill` makes it): a residual MLP from the proprioceptive
observation to LeapRotate's relative action, its checkpoint (``dexndm-generalist`` format, see
:mod:`dexndm_envs.dynamics.checkpoint`, keeping the observation normalisation and the teachers it came
from) and its action source.

The network sees only what a real hand gives: the first ``PROPRIO_DIM`` floats of the observation
(the last 10 (q, target) pairs, the wrist quaternion and the target axis, :mod:`dexndm_envs.interface`),
so one network is conditioned on wrist and axis through its input, and it runs on ``obs_mode="proprio"``
and ``"privileged"`` envs and on the real hand alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from dexndm_envs.dynamics.checkpoint import read_checkpoint
from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import PROPRIO_DIM

GENERALIST_FORMAT = "dexndm-generalist"


class ResidualMLP(nn.Module):
    """Normalised proprioception -> tanh action: an input layer, ``blocks`` pre-norm residual blocks
    (LayerNorm, Linear, ELU, Linear, added to the stream), a LayerNorm and the output layer.

    The observation's mean and standard deviation are buffers, so they travel with the weights.
    """

    def __init__(self, in_dim: int = PROPRIO_DIM, out_dim: int = NUM_JOINTS, hidden: int = 256,
                 blocks: int = 2) -> None:
        super().__init__()
        self.register_buffer("obs_mean", torch.zeros(in_dim))
        self.register_buffer("obs_std", torch.ones(in_dim))
        self.inp = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, hidden))
            for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, out_dim))

    def set_normalisation(self, obs: torch.Tensor, min_std: float = 0.05) -> None:
        """Observation statistics from the training data. The scale is floored at ``min_std`` (rad for
        joint readings and targets): an input that barely moved in the data (a joint the teacher held,
        the wrist of a one-wrist teacher) must not turn a small change at run time into a huge input."""
        self.obs_mean.copy_(obs.mean(0))
        self.obs_std.copy_(obs.std(0).clamp_min(min_std))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.inp((obs - self.obs_mean) / self.obs_std)
        for block in self.blocks:
            h = h + block(h)
        return torch.tanh(self.out(h))


def load_generalist(path: str | Path) -> tuple[ResidualMLP, dict]:
    """The distilled policy in ``path`` and its checkpoint dict (``info`` says how it was made)."""
    return read_checkpoint(path, GENERALIST_FORMAT, {"residual_mlp": ResidualMLP})


def generalist_tasks(path: str | Path) -> set[tuple[str, str]]:
    """The (wrist, object) pairs a generalist's teachers were trained on (from its checkpoint's
    ``info``; LeapRotate's defaults where a teacher's env_kwargs leave one out)."""
    _, checkpoint = load_generalist(path)
    return {(t["env_kwargs"].get("wrist", "palm_up"), t["env_kwargs"].get("object", "cylinder"))
            for t in checkpoint["info"]["teachers"]}


class GeneralistSource:
    """A distilled generalist as an action source (deterministic; reads only the proprioceptive part of
    the observation, so it runs on ``obs_mode="proprio"`` and ``"privileged"`` envs and the real hand)."""

    def __init__(self, path: str | Path) -> None:
        self.model, _ = load_generalist(path)
        self.name = f"generalist:{Path(path).name}"

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to draw: the policy is deterministic."""

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        return act(self.model, observation)


def act(model: ResidualMLP, observation: np.ndarray) -> np.ndarray:
    """The generalist's action (float32, [-1, 1], motor order) from the proprioceptive part of an
    observation (a proprio or privileged one)."""
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(observation, dtype=np.float32)[:PROPRIO_DIM])).numpy()
