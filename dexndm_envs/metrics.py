"""The paper's rotation metrics, one definition for every env.

* **Rot** (rad): total rotation of the object about the target axis k over the episode, the sum of
  per-step rotation increments (rotation vector of R_{t+1} R_t^T projected on k). Signed: rotating the
  wrong way counts negative.
* **TTF**: time to fall, in seconds (``ttf_s``) and as a fraction of the 20 s episode (``ttf``). An
  episode that has not dropped the object scores the time it ran (a full episode: 20 s, 1.0).
* **RotR**: episode sum of the clipped rotation reward clip(omega . k, -0.5, 0.5) (per step, omega in rad/s).
* **RotP**: mean off-axis angular speed |omega x k| over the steps (rad/s; lower is better).
"""

from __future__ import annotations

import math

import numpy as np

CONTROL_HZ = 20
EPISODE_STEPS = 400
EPISODE_SECONDS = EPISODE_STEPS / CONTROL_HZ
METRIC_KEYS = ("rot_rad", "ttf", "ttf_s", "rotr", "rotp")
"""The paper's episode metrics, in the order reports and tables list them (see :class:`EpisodeMetrics`)."""


def rotation_vector(quat_prev, quat_next) -> tuple[float, float, float]:
    """The rotation (axis x angle, rad, world frame) from one orientation (xyzw, world) to the next:
    the rotation vector of q_next * conj(q_prev). Scalar code: it runs every step, and numpy's
    per-call overhead would dominate on 4-vectors."""
    ax, ay, az, aw = (float(v) for v in quat_next)
    bx, by, bz, bw = (-float(quat_prev[0]), -float(quat_prev[1]), -float(quat_prev[2]), float(quat_prev[3]))
    x = aw * bx + ax * bw + ay * bz - az * by
    y = aw * by - ax * bz + ay * bw + az * bx
    z = aw * bz + ax * by - ay * bx + az * bw
    w = aw * bw - ax * bx - ay * by - az * bz
    if w < 0.0:
        x, y, z, w = -x, -y, -z, -w
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return 0.0, 0.0, 0.0
    scale = 2.0 * math.atan2(s, w) / s
    return scale * x, scale * y, scale * z


def rotation_about_axis(quat_prev, quat_next, axis) -> float:
    """Angle (rad) the object turned about the world axis between two orientations (xyzw, world)."""
    x, y, z = rotation_vector(quat_prev, quat_next)
    return x * float(axis[0]) + y * float(axis[1]) + z * float(axis[2])


def off_axis_velocity(angvel, axis) -> tuple[float, float, float]:
    """omega x k (rad/s): the part of the angular velocity not about the target axis, as a vector."""
    wx, wy, wz = angvel
    kx, ky, kz = axis
    return (wy * kz - wz * ky, wz * kx - wx * kz, wx * ky - wy * kx)


def rotation_reward(angvel, axis, clip: float = 0.5) -> float:
    """clip(omega . k, -clip, clip) with omega the world angular velocity (rad/s)."""
    dot = float(angvel[0] * axis[0] + angvel[1] * axis[1] + angvel[2] * axis[2])
    return min(max(dot, -clip), clip)


def off_axis_speed(angvel, axis) -> float:
    """|omega x k| (rad/s): the angular speed not about the target axis."""
    return math.hypot(*off_axis_velocity(angvel, axis))


class EpisodeMetrics:
    """Accumulates Rot, RotR and RotP over an episode and reports TTF at its end.

    Args:
        axis: the target axis (unit vector, world frame).
        control_hz: policy rate; ``episode_steps``: the full episode length (TTF's denominator).
    """

    def __init__(self, axis: np.ndarray, control_hz: float = CONTROL_HZ, episode_steps: int = EPISODE_STEPS,
                 reward_clip: float = 0.5) -> None:
        self.axis = np.asarray(axis, dtype=np.float64)
        self.dt = 1.0 / control_hz
        self.episode_steps = episode_steps
        self.reward_clip = reward_clip
        self.steps = 0
        self.rot = 0.0
        self.rotr = 0.0
        self._rotp_sum = 0.0
        self.fell_at: int | None = None
        self._quat: np.ndarray | None = None

    def reset(self, quat: np.ndarray) -> None:
        """Start an episode with the object at orientation ``quat`` (xyzw, world)."""
        self.steps, self.rot, self.rotr, self._rotp_sum, self.fell_at = 0, 0.0, 0.0, 0.0, None
        self._quat = np.asarray(quat, dtype=np.float64)

    def update(self, quat: np.ndarray, angvel: np.ndarray, fell: bool = False) -> dict[str, float]:
        """Account one policy step; returns this step's values for ``info``."""
        d_rot = rotation_about_axis(self._quat, quat, self.axis)
        r = rotation_reward(angvel, self.axis, self.reward_clip)
        p = off_axis_speed(angvel, self.axis)
        self._quat = quat
        self.steps += 1
        self.rot += d_rot
        self.rotr += r
        self._rotp_sum += p
        if fell and self.fell_at is None:
            self.fell_at = self.steps
        return {"rot_step": d_rot, "rot": self.rot, "rotr_step": r, "rotr": self.rotr, "rotp_step": p}

    def summary(self) -> dict[str, float]:
        """Episode metrics: rot_rad, ttf_s, ttf (fraction of the episode), rotr, rotp, steps."""
        ttf_s = (self.steps if self.fell_at is None else self.fell_at) * self.dt
        return {
            "rot_rad": self.rot,
            "ttf_s": ttf_s,
            "ttf": ttf_s / (self.episode_steps * self.dt),
            "rotr": self.rotr,
            "rotp": self._rotp_sum / max(self.steps, 1),
            "steps": self.steps,
        }
