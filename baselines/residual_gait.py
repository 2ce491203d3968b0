"""A policy that is a searched periodic gait plus a learned residual (``dexndm train --residual-over GAIT``).

PPO from random initialisation does not find a gait on a 2-core budget, and cloning a gait into a
feed-forward policy fails because the gait's action depends on its phase (docs/decisions.md). Here
the gait stays in the loop and supplies the phase; the learned policy only shapes it:

* the policy observes the env's observation plus ``(sin, cos)`` of the gait phase of the coming step;
* its action ``r`` in [-1, 1]^16 moves the gait's wanted target: ``want_t = wave(t) + scale * r``
  (radians, motor order; ``wave`` from :class:`~baselines.gait.PeriodicGaitSource`), and the env
  gets the relative action that heads there, ``clip((want_t - target_{t-1}) * 24, -1, 1)``, so the
  residual bends the gait's trajectory by up to ``scale`` rad without accumulating drift;
* a zero residual is the gait exactly, so PPO (whose action head starts near zero) starts from a policy
  that already rotates and improves it closed loop, with the object's state in view.

:class:`GaitResidualWrapper` is the training env; :class:`GaitResidual` holds the arithmetic shared
with :class:`~baselines.policy.PolicySource`, which runs a trained model on the plain env.
"""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from baselines.gait import PeriodicGaitSource
from dexndm_envs.interface import CLOCK_DIM, action_towards, clock, latest_target

PHASE_DIM = CLOCK_DIM
DEFAULT_SCALE = 0.2
"""Radians the residual may move the gait's wanted target (per joint)."""


class GaitResidual:
    """The gait-plus-residual arithmetic of one episode (see the module docstring).

    Args:
        gait: a gait file (:mod:`baselines.gait_search`).
        scale: radians of wanted-target change per unit residual action.
    """

    def __init__(self, gait: str | Path, scale: float = DEFAULT_SCALE) -> None:
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"the residual scale must be a positive number of radians; got {scale!r}")
        self.gait, self.scale = PeriodicGaitSource(gait), float(scale)

    def reset(self, observation: np.ndarray) -> None:
        """Start the gait from the target in the episode's first observation."""
        self.gait.start = latest_target(observation).astype(np.float64)
        self.t = 0

    def phase(self) -> np.ndarray:
        """``(sin, cos)`` of the gait phase of the coming step (float32; :func:`~dexndm_envs.interface.clock`)."""
        return clock(self.t, self.gait.period)

    def augment(self, observation: np.ndarray) -> np.ndarray:
        """The policy's input: the env observation followed by the phase. Also reads the env's current
        target from the observation, so the next :meth:`action` heads for the gait from wherever the
        targets are, even when another policy drove the env (DAgger labels such states)."""
        self.target = latest_target(observation).astype(np.float64)
        return np.concatenate([observation, self.phase()]).astype(np.float32)

    def action(self, residual: np.ndarray) -> np.ndarray:
        """The env action (float32, [-1, 1]) for a residual in [-1, 1]^16, from the target of the last
        :meth:`augment`ed observation; advances the gait one step."""
        self.t += 1
        want = self.gait.wave(self.t) + self.scale * np.clip(residual, -1.0, 1.0)
        return action_towards(want, self.target).astype(np.float32)


class GaitResidualWrapper(gym.Wrapper):
    """The env as the residual policy sees it: observation + gait phase in, residual out.

    ``info`` and rewards are the wrapped env's (the reward judges the executed gait-plus-residual motion).
    """

    def __init__(self, env: gym.Env, gait: str | Path, scale: float = DEFAULT_SCALE) -> None:
        super().__init__(env)
        self.residual = GaitResidual(gait, scale)
        low = np.concatenate([env.observation_space.low, -np.ones(PHASE_DIM)]).astype(np.float32)
        high = np.concatenate([env.observation_space.high, np.ones(PHASE_DIM)]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.residual.reset(obs)
        return self.residual.augment(obs), info

    def step(self, action):
        residual = np.asarray(action, dtype=np.float64)
        if residual.shape != (self.action_space.shape[0],) or not np.isfinite(residual).all():
            raise ValueError(f"residual action must be {self.action_space.shape[0]} finite values in [-1, 1]; "
                             f"got {action!r}")
        obs, reward, terminated, truncated, info = self.env.step(self.residual.action(residual))
        return self.residual.augment(obs), reward, terminated, truncated, info


def rescale_residual_policy(model, old_scale: float, new_scale: float) -> None:
    """Give a PPO residual policy (in place) the authority ``new_scale`` rad instead of ``old_scale``
    while it keeps acting as it did: its mean residual action and its exploration noise's standard
    deviation (gSDE's too), both in residual units, are multiplied by ``old_scale / new_scale``, so
    ``new_scale x action`` moves the gait's targets as ``old_scale x action`` did. Only a mean beyond
    the old clip (|action| > 1) now moves further, up to the new scale: the room PPO goes on to use.
    A squashed (tanh) policy (SAC, TQC, CrossQ) cannot be rescaled this way; that is a ValueError."""
    if not (math.isfinite(new_scale) and new_scale > 0 and math.isfinite(old_scale) and old_scale > 0):
        raise ValueError(f"residual scales are positive numbers of radians; got {old_scale!r} -> {new_scale!r}")
    policy = model.policy
    if not (hasattr(policy, "action_net") and hasattr(policy, "log_std")):
        raise ValueError(f"only a Gaussian (PPO) residual policy can change its residual scale when resumed; "
                         f"{type(model).__name__} squashes its actions")
    import torch

    factor = old_scale / new_scale
    with torch.no_grad():
        policy.action_net.weight.mul_(factor)
        policy.action_net.bias.mul_(factor)
        policy.log_std.add_(math.log(factor))
