"""Actuator models: how a commanded joint target becomes joint torque, once per physics step.

Every actuator works on arrays in motor order (16 joints, radians, N m) and is called once per
physics substep with the current joint state. The training default is :class:`IdealPD`, the torque PD
of the paper's simulator. Later models (e.g. a Dynamixel servo) implement the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from dexndm_envs.hand import NUM_JOINTS


class Actuator(ABC):
    """Turns joint targets into joint torques.

    Life cycle: :meth:`reset` at the start of an episode, then :meth:`torque` once per physics step.
    ``gain_scale`` lets domain randomization perturb the gains per joint for one episode.
    """

    @abstractmethod
    def reset(self, q: np.ndarray, gain_scale: np.ndarray | None = None) -> None:
        """Start an episode at joint positions ``q`` (rad, motor order); clear internal state."""

    @abstractmethod
    def torque(self, target: np.ndarray, q: np.ndarray, qdot: np.ndarray) -> np.ndarray:
        """Joint torques (N m, motor order) for targets ``target`` (rad) at state (q rad, qdot rad/s)."""

    def key(self) -> dict:
        """The parameters that change the physics (for grasp-cache keys)."""
        return {"type": type(self).__name__}


class IdealPD(Actuator):
    """tau = clip(kp (target - q) - kd qdot, -limit, limit): the paper's simulated actuator.

    Args:
        kp: proportional gain, N m / rad (default 3.0).
        kd: derivative gain, N m s / rad (default 0.1).
        torque_limit: symmetric torque clip, N m (default 0.5).
    """

    def __init__(self, kp: float = 3.0, kd: float = 0.1, torque_limit: float = 0.5) -> None:
        if kp < 0 or kd < 0 or torque_limit <= 0:
            raise ValueError(f"IdealPD needs kp >= 0, kd >= 0, torque_limit > 0; got {kp}, {kd}, {torque_limit}")
        self.kp_nominal, self.kd_nominal, self.torque_limit = float(kp), float(kd), float(torque_limit)
        self.kp = np.full(NUM_JOINTS, self.kp_nominal)
        self.kd = np.full(NUM_JOINTS, self.kd_nominal)

    def reset(self, q: np.ndarray, gain_scale: np.ndarray | None = None) -> None:
        scale = np.ones(NUM_JOINTS) if gain_scale is None else np.asarray(gain_scale, dtype=np.float64)
        self.kp = self.kp_nominal * scale
        self.kd = self.kd_nominal * scale

    def torque(self, target: np.ndarray, q: np.ndarray, qdot: np.ndarray) -> np.ndarray:
        tau = self.kp * (target - q) - self.kd * qdot
        np.minimum(tau, self.torque_limit, out=tau)
        return np.maximum(tau, -self.torque_limit, out=tau)

    def key(self) -> dict:
        return {"type": "IdealPD", "kp": self.kp_nominal, "kd": self.kd_nominal, "torque_limit": self.torque_limit}


ACTUATORS: dict[str, type[Actuator]] = {"ideal_pd": IdealPD}
"""Actuators by name, as accepted by the envs' ``actuator=`` argument."""


def make_actuator(spec: str | Actuator) -> Actuator:
    """An actuator from a name in :data:`ACTUATORS` or an instance (returned as is)."""
    if isinstance(spec, Actuator):
        return spec
    if spec not in ACTUATORS:
        raise ValueError(f"unknown actuator {spec!r}; allowed: {', '.join(ACTUATORS)} or an Actuator instance")
    return ACTUATORS[spec]()
