"""The paper's rotation metrics, one definition for every env.

All four are computed by :class:`EpisodeMetrics` from what the env reports at the end of each policy
step (every 1/20 s): the object's orientation and its angular velocity omega (world frame), with k the
episode's target axis (unit vector, world frame).

* **Rot** (rad, ``rot_rad``): the total rotation of the object about k. Each step adds the rotation
  between the orientations at the ends of consecutive steps, R_{t+1} R_t^T, as a rotation vector
  (the shortest rotation between the two poses) projected on k (``info["rot_step"]``). It is the net
  angle turned, from poses only: whatever the object did inside a 50 ms step, only where it ended
  counts. Signed: turning the wrong way counts negative.
* **RotR** (``rotr``): the episode sum of the clipped rotation reward, clip(omega . k, -c, c) with
  c = ``rotate_reward_clip`` (0.5 rad/s by default), one sample per step (``info["rotr_step"]``). It
  is a sum of rates (rad/s per step), not an angle: RotR / 20 is the angle those samples would turn
  in 50 ms each. The sample before the clip is ``info["rate_step"]`` (omega . k, rad/s).
  In simulation omega is the object's velocity after the step's last physics substep;
  on the real hand, the tracker's pose difference since the previous step over the time between them.
* **RotP** (rad/s, ``rotp``): the mean over the steps of the off-axis angular speed |omega x k| at the
  step's end (lower is better).
* **TTF**: time to fall, in seconds (``ttf_s``) and as a fraction of the 20 s episode (``ttf``): the
  steps up to and including the one in which the object fell, times 50 ms. An episode that has not
  dropped the object scores the time it ran (a full episode: 20 s, 1.0).

**When Rot and RotR disagree.** Rot integrates the motion (the net turn over each step, from poses);
RotR samples the velocity at one instant per step and clips it. They tell the same story for a
steady rotation slower than c. They part ways when the object moves in jerks within a 50 ms step:
a finger gait that flicks the object forward and lets it spring back (stick-slip) turns it, say,
+0.05 rad over the step while at the step's end it is moving backwards, so the step counts positive
in Rot and negative in RotR. A gait locked in phase with the 20 Hz control period samples the same
phase of that cycle every step, so the bias accumulates over the episode instead of averaging out:
that is how one run scored Rot -1.34 rad with RotR +6.47, and a palm-down oracle Rot 5.15 rad with
RotR -4.62. The clip adds a second difference: a fast turn (above c) counts only c in RotR, in full
in Rot. On the real hand omega is itself the turn between two tracker poses over its interval, so
there RotR follows Rot's increments (clipped).
Rot is the measure of what the object did; RotR is the paper's reward-like score (and what the
default ``rotate_reward_rate="instant"`` pays). ``rotate_reward_rate="step_mean"`` pays Rot's
increment times 20 Hz instead, so reward and Rot agree.
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


def rotation_rate(angvel, axis) -> float:
    """omega . k (rad/s): the angular velocity (world frame) about the axis (unit vector, world frame)."""
    return float(angvel[0] * axis[0] + angvel[1] * axis[1] + angvel[2] * axis[2])


def clip_rate(rate: float, clip: float) -> float:
    """A rotation rate (rad/s) clipped to [-clip, clip], as the rotation reward and RotR count it."""
    return min(max(rate, -clip), clip)


def rotation_reward(angvel, axis, clip: float = 0.5) -> float:
    """clip(omega . k, -clip, clip) with omega the world angular velocity (rad/s)."""
    return clip_rate(rotation_rate(angvel, axis), clip)


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
        rate = rotation_rate(angvel, self.axis)
        r = clip_rate(rate, self.reward_clip)
        p = off_axis_speed(angvel, self.axis)
        self._quat = quat
        self.steps += 1
        self.rot += d_rot
        self.rotr += r
        self._rotp_sum += p
        if fell and self.fell_at is None:
            self.fell_at = self.steps
        return {"rot_step": d_rot, "rot": self.rot, "rate_step": rate, "rotr_step": r, "rotr": self.rotr,
                "rotp_step": p}

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
