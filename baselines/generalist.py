"""The distilled generalist (:mod:`baselines.distill` makes it): a residual MLP from the proprioceptive
observation to LeapRotate's relative action, its checkpoint (``dexndm-generalist`` format, see
:mod:`dexndm_envs.dynamics.checkpoint`, keeping the observation normalisation and the teachers it came
from) and its action source.

The network sees only what a real hand gives: the first ``PROPRIO_DIM`` floats of the observation
(the last 10 (q, target) pairs, the wrist quaternion and the target axis, :mod:`dexndm_envs.interface`),
so one network is conditioned on wrist and axis through its input, and it runs on ``obs_mode="proprio"``
and ``"privileged"`` envs and on the real hand alike. A generalist distilled with a clock
(``clock_period``) also reads the phase clock of :func:`dexndm_envs.interface.clock`, counted by its
action source from the episode's start: residual-gait teachers see their gait's phase, and a student
that must infer it from 10 steps of history (half a 16-step cycle) loses most of their rotation. The
count is the policy's own, so on the real hand (``DexNDM/LeapRotateReal-v0``, same 20 Hz loop, the same
reset at each episode's start) the signal is the one it had in simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from dexndm_envs.dynamics.checkpoint import read_checkpoint
from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import CLOCK_DIM, PROPRIO_DIM, clock

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


def input_dim(clock_period: float | None) -> int:
    """Floats the student reads: the proprioceptive observation, and the clock when it has one."""
    return PROPRIO_DIM + (CLOCK_DIM if clock_period else 0)


def student_input(observation: np.ndarray, t: int, clock_period: float | None) -> np.ndarray:
    """The student's input (float32) at policy step ``t`` of an episode: the proprioceptive part of a
    proprio or privileged observation, followed by the clock if ``clock_period`` (policy steps) is set."""
    proprio = np.asarray(observation, dtype=np.float32)[:PROPRIO_DIM]
    return np.concatenate([proprio, clock(t, clock_period)]) if clock_period else proprio


class GeneralistSource:
    """A distilled generalist as an action source (deterministic; reads only the proprioceptive part of
    the observation, so it runs on ``obs_mode="proprio"`` and ``"privileged"`` envs and the real hand;
    with a clock it counts the steps since :meth:`reset`, which every caller runs before an episode)."""

    def __init__(self, path: str | Path) -> None:
        self.model, checkpoint = load_generalist(path)
        self.clock_period = checkpoint["info"].get("clock_period")
        self.name = f"generalist:{Path(path).name}"
        self.t = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to draw (the policy is deterministic); the clock starts again."""
        self.t = 0

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        action = act(self.model, student_input(observation, self.t, self.clock_period))
        self.t += 1
        return action


def act(model: ResidualMLP, x: np.ndarray) -> np.ndarray:
    """The generalist's action (float32, [-1, 1], motor order) for a :func:`student_input`."""
    with torch.no_grad():
        return model(torch.as_tensor(x)).numpy()
