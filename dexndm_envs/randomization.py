"""Domain randomization with the DexNDM paper's ranges, drawn from the env's rng: the
ranges (:class:`Randomization`), one episode's draw (:class:`EpisodeParams`) and the external loads
that draw puts on the object every physics step (:class:`Perturbation`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.rotations import quat_to_matrix
from dexndm_envs.world import GRAVITY, World


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


class Perturbation:
    """The external loads of one randomized episode on the object in play.

    Two loads, both fixed for a policy step (the object turns little in 50 ms) and applied before
    every physics step of it: the centre-of-mass offset ``params.com`` (object frame, m) as the
    gravity torque about the object's geometric centre (N m, world frame), and, with probability
    ``ranges.force_prob`` per policy step, a push of ``ranges.force_scale`` x mass (N) in a random
    direction, applied at the centre of mass.

    Life cycle: made at reset; :meth:`begin_step` once per policy step (draws from ``rng``, the env's
    generator, so a seed replays the pushes); :meth:`apply` before every physics step (applies nothing
    before the first :meth:`begin_step`).
    """

    def __init__(self, world: World, body: int, params: EpisodeParams, ranges: Randomization,
                 rng: np.random.Generator) -> None:
        self.world, self.body, self.params, self.ranges, self.rng = world, body, params, ranges, rng
        self._com_arm: np.ndarray | None = None
        self._com_torque: np.ndarray | None = None
        self._force: np.ndarray | None = None

    def begin_step(self) -> None:
        """Fix this policy step's loads from the object's current orientation and a fresh draw."""
        p = self.params
        self._com_arm = quat_to_matrix(self.world.body_pose(self.body)[1]) @ p.com
        self._com_torque = np.cross(self._com_arm, [0.0, 0.0, -GRAVITY * p.mass])
        self._force = None
        if self.rng.random() < self.ranges.force_prob:
            d = self.rng.normal(size=3)
            self._force = self.ranges.force_scale * p.mass * d / np.linalg.norm(d)

    def apply(self) -> None:
        """Apply this policy step's loads for the next physics step."""
        if self._com_torque is None:
            return
        self.world.apply_torque(self.body, self._com_torque)
        if self._force is not None:
            self.world.apply_force(self.body, self._force, self.world.body_pose(self.body)[0] + self._com_arm)
