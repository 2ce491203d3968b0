"""Wrappers that insert the learned correction between a sim-trained policy and a hand."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from dexndm_envs import interface
from dexndm_envs.dynamics.residual import ResidualPolicy, load_residual
from dexndm_envs.hand import NUM_JOINTS


def _check_rotation_env(env: gym.Env, state: bool = True) -> None:
    """TypeError naming what ``env`` lacks of :class:`~dexndm_envs.interface.RotationEnv`, if anything."""
    if state and isinstance(env, interface.RotationEnv):
        return
    missing = interface.missing_members(env, state)
    if missing:
        raise TypeError("NDMCorrection needs an env that implements dexndm_envs.interface.RotationEnv "
                        f"(target, set_target_correction, ...); {type(env).__name__} lacks {', '.join(missing)}")


class NDMCorrection(gym.Wrapper):
    """Execute the policy's target plus the residual correction trained through a neural dynamics model.

    Wraps ``DexNDM/LeapRotate-v0`` (typically with ``gap=``) and ``DexNDM/LeapRotateReal-v0`` alike: any
    env whose unwrapped env implements :class:`~dexndm_envs.interface.RotationEnv`, used through its
    ``target`` and ``set_target_correction`` only.
    Each step the policy's action gives its target ``target_t = clip(target_{t-1} + a_t / 24, limits)``
    as usual; the residual maps the last W joint readings and the last W *policy* targets (the newest
    being ``target_t``) to a correction ``c_t`` (|c| <= the checkpoint's ``max_correction``, rad), and
    the motors execute ``clip(target_t + c_t, limits)``.

    Which targets the policy sees: its own, uncorrected ones. The observation's history pairs are
    (q_{t+1}, target_t) exactly as in simulation, so a policy trained there needs no change; the
    executed target is ``info["target"]``, the policy's ``info["policy_target"]`` and the correction
    ``info["correction"]`` (rad, motor order).

    Args:
        env: the env to correct (any wrappers around LeapRotate / LeapRotateReal).
        checkpoint: a residual checkpoint (``dexndm residual``) or a loaded :class:`ResidualPolicy`.
    """

    def __init__(self, env: gym.Env, checkpoint: str | Path | ResidualPolicy) -> None:
        super().__init__(env)
        _check_rotation_env(env.unwrapped, state=False)  # the state attributes may come with the first reset
        self.residual = checkpoint if isinstance(checkpoint, ResidualPolicy) else load_residual(checkpoint)
        shape = (self.residual.history, NUM_JOINTS)  # own buffers: any W works, not only the obs's 10
        self._q, self._targets = np.zeros(shape), np.zeros(shape)
        self._first_step: bool | None = None  # None until the first reset

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        _check_rotation_env(self.env.unwrapped)
        self._q[:] = interface.latest_joint_positions(obs)
        self._first_step = True
        return obs, info

    def step(self, action):
        if self._first_step is None:
            raise RuntimeError("call reset() before step(): the correction needs the episode's first reading")
        base: interface.RotationEnv = self.env.unwrapped
        policy_target = interface.next_target(base.target, interface.validate_action(action))
        if self._first_step:  # pad as the training windows are padded: with the first step's target
            self._targets[:] = policy_target
            self._first_step = False
        else:
            self._targets = np.roll(self._targets, -1, axis=0)
            self._targets[-1] = policy_target
        correction = self.residual.correct(self._q, self._targets)
        base.set_target_correction(correction)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._q = np.roll(self._q, -1, axis=0)
        self._q[-1] = interface.latest_joint_positions(obs)
        info["correction"] = correction
        return obs, reward, terminated, truncated, info
