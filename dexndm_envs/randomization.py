"""Domain randomization with the paper's ranges (reference/paper.md), drawn from the env's rng."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexndm_envs.hand import NUM_JOINTS


@dataclass(frozen=True)
class Randomization:
    """Ranges of the per-episode and per-step perturbations (units: kg, m, N per kg, rad).

    * object mass U(mass) kg and friction coefficient U(friction), per episode;
    * centre of mass offset U(-com, com) per axis in the object frame, per episode; it is applied as
      the gravity torque about the geometric centre (PyBullet fixes a body's inertial frame at
      creation, and resets restore saved states rather than rebuilding bodies);
    * a random force of ``force_scale`` x mass (N) in a random direction, switched on for a policy
      step with probability ``force_prob``;
    * joint position observation noise U(-joint_noise, joint_noise) rad per reading;
    * PD gains scaled by U(1 - gain_scale, 1 + gain_scale) per joint, per episode.
    """

    mass: tuple[float, float] = (0.01, 0.05)
    friction: tuple[float, float] = (0.3, 3.0)
    com: float = 0.01
    force_scale: float = 2.0
    force_prob: float = 0.25
    joint_noise: float = 0.005
    gain_scale: float = 0.03


@dataclass
class EpisodeParams:
    """The physical parameters of one episode (what the privileged observation reports)."""

    mass: float
    friction: float
    com: np.ndarray
    gain_scale: np.ndarray

    @classmethod
    def nominal(cls, mass: float, friction: float) -> EpisodeParams:
        return cls(mass, friction, np.zeros(3), np.ones(NUM_JOINTS))

    @classmethod
    def sample(cls, r: Randomization, rng: np.random.Generator) -> EpisodeParams:
        return cls(
            mass=float(rng.uniform(*r.mass)),
            friction=float(rng.uniform(*r.friction)),
            com=rng.uniform(-r.com, r.com, 3),
            gain_scale=rng.uniform(1 - r.gain_scale, 1 + r.gain_scale, NUM_JOINTS),
        )
