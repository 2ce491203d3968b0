"""Action semantics and the proprioceptive observation, shared by the sim and the real envs.

Time relation (one policy step = 1 / 20 s):

* ``step(a_t)`` turns the action into a new joint target
  ``target_t = clip(target_{t-1} + a_t / 24, joint limits)`` and holds it for the whole control period
  (six 120 Hz physics steps in simulation; one Goal Position write on the real hand).
* A correction (e.g. the residual of :class:`dexndm_envs.wrappers.NDMCorrection`) may be set with the
  env's ``set_target_correction``; the motors then execute ``clip(target_t + correction, limits)``
  (``info["target"]``), while the observation keeps the policy's own ``target_t``
  (``info["policy_target"]``), so a policy sees what it saw in simulation.
* At the end of the period the joints are read: ``q_{t+1}``. The step returns an observation whose
  newest history entry is the pair ``(q_{t+1}, target_t)``: the reading and the target that produced
  it. After ``reset`` the history holds the initial pair ``(q_0, target_{-1})`` T times, where
  ``target_{-1}`` is the initial (grasp) target.

Proprioceptive observation layout (float32, motor order, radians), T = :data:`HISTORY_STEPS` = 10:

==================  ==========  ==========================================================
slice               size        content
==================  ==========  ==========================================================
[0, 320)            T x 2 x 16  history, oldest first; each entry is q (16) then target (16)
[320, 324)          4           wrist orientation, palm frame in world, quaternion xyzw
[324, 327)          3           rotation axis, unit vector in the world frame
==================  ==========  ==========================================================

Privileged observation (simulation only, ``obs_mode="privileged"``, :data:`PRIVILEGED_LAYOUT`): the
proprioceptive observation, then, in the world frame with positions relative to the palm origin
(``HAND_POSITION``, m):

========================  ======  ================================================================
name (slice)              size    content
========================  ======  ================================================================
``proprio`` [0, 327)      327     the proprioceptive observation above
``object_position``       3       object position, m
``object_quat``           4       object orientation, quaternion xyzw
``object_linvel``         3       object linear velocity, m/s
``object_angvel``         3       object angular velocity, rad/s
``fingertip_positions``   12      fingertip contact points (4 x 3: index, middle, ring, thumb), m
``fingertip_contacts``    4       1.0 where that fingertip touches the object, else 0.0
``object_mass``           1       the episode's object mass, kg
``object_friction``       1       the episode's object friction coefficient
``object_com``            3       the episode's centre-of-mass offset, object frame, m
``object_size``           3       the object's extents, m
========================  ======  ================================================================
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS

ACTION_SCALE = 1.0 / 24.0
"""Radians of target change per unit action per step."""
HISTORY_STEPS = 10
PROPRIO_DIM = HISTORY_STEPS * 2 * NUM_JOINTS + 4 + 3
PROPRIO_LAYOUT: dict[str, slice] = {
    "history": slice(0, HISTORY_STEPS * 2 * NUM_JOINTS),
    "wrist_quat": slice(HISTORY_STEPS * 2 * NUM_JOINTS, HISTORY_STEPS * 2 * NUM_JOINTS + 4),
    "axis": slice(HISTORY_STEPS * 2 * NUM_JOINTS + 4, PROPRIO_DIM),
}


def _layout(sizes: dict[str, int]) -> dict[str, slice]:
    """Consecutive slices of the given sizes, in order."""
    layout, start = {}, 0
    for name, size in sizes.items():
        layout[name] = slice(start, start + size)
        start += size
    return layout


PRIVILEGED_LAYOUT: dict[str, slice] = _layout({
    "proprio": PROPRIO_DIM, "object_position": 3, "object_quat": 4, "object_linvel": 3, "object_angvel": 3,
    "fingertip_positions": 12, "fingertip_contacts": 4, "object_mass": 1, "object_friction": 1, "object_com": 3,
    "object_size": 3,
})
"""Where each part of the privileged observation lies (see the module docstring)."""
PRIVILEGED_DIM = PRIVILEGED_LAYOUT["object_size"].stop


def action_space() -> spaces.Box:
    """Box(-1, 1, (16,), float32): relative joint target changes in motor order."""
    return spaces.Box(-1.0, 1.0, (NUM_JOINTS,), dtype=np.float32)


def proprio_space() -> spaces.Box:
    """The proprioceptive observation space (see the module docstring for the layout)."""
    return spaces.Box(-np.inf, np.inf, (PROPRIO_DIM,), dtype=np.float32)


def privileged_space() -> spaces.Box:
    """The privileged observation space (simulation only; layout in :data:`PRIVILEGED_LAYOUT`)."""
    return spaces.Box(-np.inf, np.inf, (PRIVILEGED_DIM,), dtype=np.float32)


def validate_action(action) -> np.ndarray:
    """The action as a float64 (16,) array clipped to [-1, 1].

    Raises ValueError for a wrong shape or any NaN / inf entry (nothing is commanded then).
    """
    a = np.asarray(action, dtype=np.float64)
    if a.shape != (NUM_JOINTS,):
        raise ValueError(f"action must have shape ({NUM_JOINTS},) in motor order; got shape {a.shape}")
    if not np.isfinite(a.sum()):  # one reduction: NaN or inf anywhere makes the sum non-finite
        bad = np.flatnonzero(~np.isfinite(a)).tolist()
        raise ValueError(f"action has NaN or inf entries at motor indices {bad}; actions must be finite in [-1, 1]")
    return np.maximum(np.minimum(a, 1.0), -1.0)


def next_target(prev_target: np.ndarray, action: np.ndarray) -> np.ndarray:
    """target_t = clip(target_{t-1} + action / 24, joint limits); radians, motor order."""
    return np.maximum(np.minimum(prev_target + action * ACTION_SCALE, UPPER_LIMITS), LOWER_LIMITS)


def action_towards(want: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The action (float64, [-1, 1]) that moves ``target`` towards ``want`` (clipped to the joint limits)
    in one step, as fast as the action semantics allow (1/24 rad per step); radians, motor order."""
    return np.clip((np.clip(want, LOWER_LIMITS, UPPER_LIMITS) - target) / ACTION_SCALE, -1.0, 1.0)


def validate_correction(correction) -> np.ndarray:
    """A target correction as a finite float64 (16,) array (radians, motor order), else ValueError."""
    c = np.asarray(correction, dtype=np.float64)
    if c.shape != (NUM_JOINTS,) or not np.isfinite(c).all():
        raise ValueError(f"a target correction must be 16 finite radians in motor order; got {c!r}")
    return c


def executed_target(target: np.ndarray, correction: np.ndarray) -> np.ndarray:
    """What the motors get: clip(target + correction, joint limits); radians, motor order."""
    return np.maximum(np.minimum(target + correction, UPPER_LIMITS), LOWER_LIMITS)


def _newest_pair(observation: np.ndarray) -> np.ndarray:
    history = np.asarray(observation[PROPRIO_LAYOUT["history"]], dtype=np.float64)
    return history.reshape(HISTORY_STEPS, 2, NUM_JOINTS)[-1]


def latest_joint_positions(observation: np.ndarray) -> np.ndarray:
    """The newest joint reading q_{t+1} (16, rad, motor order) in a proprio (or privileged) observation."""
    return _newest_pair(observation)[0]


def latest_target(observation: np.ndarray) -> np.ndarray:
    """The newest policy target target_t (16, rad, motor order) in a proprio (or privileged) observation."""
    return _newest_pair(observation)[1]


CLOCK_DIM = 2


def clock(t: int, period: float) -> np.ndarray:
    """A phase clock: ``(sin, cos)`` of ``2 pi (t + 1) / period`` (float32), ``t`` the policy steps taken
    since the episode began and ``period`` in policy steps; the phase of the coming step. A gait
    restarted at each reset has this phase, so a clocked policy and a gait with the same period agree.
    It needs only a step count, which a real hand's control loop has as well as the simulator."""
    w = 2 * np.pi * (t + 1) / period
    return np.array([np.sin(w), np.cos(w)], dtype=np.float32)


class ProprioHistory:
    """The last T (q, target) pairs and the observation vector built from them."""

    def __init__(self, steps: int = HISTORY_STEPS) -> None:
        self.steps = steps
        self._buf = np.zeros((steps, 2, NUM_JOINTS), dtype=np.float64)

    def reset(self, q: np.ndarray, target: np.ndarray) -> None:
        """Fill the whole history with the pair (q, target)."""
        self._buf[:, 0] = q
        self._buf[:, 1] = target

    def push(self, q: np.ndarray, target: np.ndarray) -> None:
        """Append the newest pair (q_{t+1}, target_t), dropping the oldest."""
        self._buf[:-1] = self._buf[1:]
        self._buf[-1, 0] = q
        self._buf[-1, 1] = target

    def observation(self, wrist_quat: np.ndarray, axis: np.ndarray) -> np.ndarray:
        """The float32 proprioceptive observation (layout in the module docstring)."""
        return np.concatenate([self._buf.ravel(), wrist_quat, axis]).astype(np.float32)


@runtime_checkable
class RotationEnv(Protocol):
    """What the simulated rotation envs and the real hand's env both offer beyond ``gym.Env``.

    ``NDMCorrection`` and evaluation talk to ``env.unwrapped`` only through these members, so any
    hand (PyBullet, another simulator, the virtual hand, a real LEAP hand) that implements them can be
    corrected and measured. Radians and motor order for joint arrays; metres and xyzw quaternions in
    the world frame for the object.
    """

    target: np.ndarray
    """The policy's current joint target ``target_t`` (16, rad, motor order), before any correction."""
    target_correction: np.ndarray
    """The correction added to the target at every step (16, rad, motor order; zeros after reset)."""
    wrist_quat: np.ndarray
    """The palm frame's orientation in the world, quaternion xyzw."""
    axis: np.ndarray
    """The episode's rotation axis, unit vector in the world frame."""

    def set_target_correction(self, correction: np.ndarray) -> None:
        """Radians (motor order) added to the policy's target from the next step on (0 after reset)."""

    def executed_target(self) -> np.ndarray:
        """What the motors are commanded: ``clip(target + target_correction, limits)`` (rad, motor order)."""

    def episode_metrics(self) -> dict[str, float]:
        """The paper's metrics for the episode so far (``dexndm_envs.metrics.METRIC_KEYS`` and ``steps``)."""

    def object_pose(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The object's position (3, m) and orientation (xyzw) in the world frame, or None where the
        object is not observed (a real hand without a tracker, or a tracker that lost it)."""


def missing_members(env: object, state: bool = True) -> list[str]:
    """The members of :class:`RotationEnv` that ``env`` lacks (empty when it implements the protocol).

    ``state=False`` checks only the methods: an env may set the state attributes (``target`` ...)
    in its first ``reset``.
    """
    methods = {k for k, v in vars(RotationEnv).items() if callable(v) and not k.startswith("_")}
    members = methods | set(RotationEnv.__annotations__) if state else methods
    return sorted(m for m in members if not hasattr(env, m))
