"""Facts about the LEAP hand: the one place every other module reads them from.

Conventions
-----------
* Joint names are the strings ``"0"`` .. ``"15"`` and equal the Dynamixel motor IDs of a real hand.
* **Motor order** is index (0-3), middle (4-7), ring (8-11), thumb (12-15). Every array in this module
  and every array that crosses a module boundary in this project is in motor order. PyBullet indexes
  joints in URDF file order, which differs: code maps joints by *name* (see :mod:`dexndm_envs.robot`).
* Angles are **URDF angles** in radians. A real motor reads ``urdf + pi`` (a flat hand is 2048 ticks);
  only :func:`urdf_to_ticks` / :func:`ticks_to_urdf` cross that boundary.
* Lengths in metres, masses in kilograms, inertias in kg m^2, torques in N m.
* The palm frame: at q = 0 the fingers point along +x, the thumb along +y, and the palm (grasping) side
  faces -z.

Source: the public LEAP hand description (URDF) and its official Python API (leap_hand_utils).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

NUM_JOINTS = 16
JOINT_NAMES: tuple[str, ...] = tuple(str(i) for i in range(NUM_JOINTS))
"""Joint names in motor order; the name is the motor ID."""

FINGERS: dict[str, tuple[int, int, int, int]] = {
    "index": (0, 1, 2, 3),
    "middle": (4, 5, 6, 7),
    "ring": (8, 9, 10, 11),
    "thumb": (12, 13, 14, 15),
}
"""Motor indices of each finger. Fingers: 0 side (abduction), 1 flexion, 2 PIP, 3 DIP.
Thumb: 12..15 from the palm outwards."""

SIDE_JOINTS: tuple[int, ...] = tuple(FINGERS[f][0] for f in ("index", "middle", "ring"))
"""Motor indices of the fingers' side (abduction) joints, 0, 4 and 8: the official LEAP client drives
them with 0.75 x the other joints' P and D gains."""
SIDE_GAIN_SCALE = 0.75
"""The official LEAP client's P and D gains on :data:`SIDE_JOINTS` relative to the other joints."""


def check_side_gain_scale(side_gain_scale: float) -> float:
    """``side_gain_scale`` as a float; ValueError unless it is a number in (0, 1] (the side joints'
    gains relative to the others: softer or equal, never off)."""
    if isinstance(side_gain_scale, bool) or not isinstance(side_gain_scale, numbers.Real) \
            or not 0 < side_gain_scale <= 1:
        raise ValueError(f"side_gain_scale must be in (0, 1] (the side joints' P and D relative to the "
                         f"others), got {side_gain_scale!r}")
    return float(side_gain_scale)


def side_scaled(gain: float, side_gain_scale: float) -> np.ndarray:
    """A per-motor gain (16, motor order): ``gain`` on every joint, ``gain * side_gain_scale`` on the
    side joints (:data:`SIDE_JOINTS`); ValueError for a scale outside (0, 1]."""
    side_gain_scale = check_side_gain_scale(side_gain_scale)
    out = np.full(NUM_JOINTS, float(gain))
    out[list(SIDE_JOINTS)] *= side_gain_scale
    return out


FINGERTIP_NAMES: tuple[str, ...] = ("index", "middle", "ring", "thumb")
HAND_PARTS: tuple[str, ...] = (*FINGERTIP_NAMES, "palm")
"""The parts of the hand a contact is attributed to: each finger (any of its links, named
``<finger>_<link>``) and the palm (every other link)."""

_FINGER_LIMITS = [(-1.047, 1.047), (-0.314, 2.23), (-0.506, 1.885), (-0.366, 2.042)]
_THUMB_LIMITS = [(-0.349, 2.094), (-0.47, 2.443), (-1.20, 1.90), (-1.34, 1.88)]
JOINT_LIMITS = np.array(_FINGER_LIMITS * 3 + _THUMB_LIMITS, dtype=np.float64)
"""[16, 2] lower/upper joint limits in radians, motor order."""
LOWER_LIMITS = JOINT_LIMITS[:, 0].copy()
UPPER_LIMITS = JOINT_LIMITS[:, 1].copy()

EFFORT_LIMIT = 0.95
"""Per-joint effort limit of the URDF, N m (XC330-M288 stall torque class)."""
VELOCITY_LIMIT = 8.48
"""Per-joint velocity limit of the URDF, rad/s."""
JOINT_ARMATURE = 3e-3
"""Rotor inertia added to every joint's child link, kg m^2 (PyBullet has no armature).

The real servos' reflected rotor inertia (rotor inertia times the 288:1 gear ratio squared) dominates
the light finger links. It is what keeps the explicit 120 Hz torque PD (Kp 3, Kd 0.1) stable: with the
bare links (~2e-5 kg m^2 about a fingertip joint) Kd dt / I >> 2 and the fingers blow up. Because Bullet
only accepts physical inertia tensors, the value is added isotropically to the link, which also couples
the parallel flexion joints; 3e-3 is the smallest round value that keeps dt Kd max eig(M^-1) below 1
at q = 0 and at the canonical pose (tests/test_hand.py checks it)."""
JOINT_AXIS = (0.0, 0.0, -1.0)
"""Every joint rotates about -z of its own joint frame."""

CANONICAL_POSE = np.array(
    [-1.047, 0.1458, 1.7247, -0.2187, 0.029, -0.1054, 1.6039, 0.1227,
     0.9652, -0.1084, 1.7317, 0.1071, 1.2985, 1.6139, 0.9757, 1.0728],
    dtype=np.float64,
)
"""Canonical grasp pose (motor order, rad) from the public LEAP sim config: a seed for grasp
generation, tuned for a palm-up cube in another simulator."""

TICKS_PER_REV = 4096
TICKS_PER_RAD = TICKS_PER_REV / (2.0 * np.pi)


def urdf_to_ticks(urdf_rad: np.ndarray) -> np.ndarray:
    """URDF joint angles (rad, motor order) -> Dynamixel Goal/Present Position ticks (int64).

    ``ticks = (urdf + pi) * 4096 / (2 pi)``, rounded to the nearest tick; a flat hand is 2048.
    """
    return np.rint((np.asarray(urdf_rad, dtype=np.float64) + np.pi) * TICKS_PER_RAD).astype(np.int64)


def ticks_to_urdf(ticks: np.ndarray) -> np.ndarray:
    """Dynamixel position ticks -> URDF joint angles in radians (motor order)."""
    return np.asarray(ticks, dtype=np.float64) / TICKS_PER_RAD - np.pi


@dataclass(frozen=True)
class JointSpec:
    """One revolute joint of the kinematic tree (origin in the parent link frame, rpy in rad)."""

    name: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float]


_PI2 = np.pi / 2
_FLEX_XYZ = (-0.00710, 0.02306, -0.01872)
_FLEX_Y = {"index": 0.02306, "middle": -0.02239, "ring": -0.06784}


def _finger_joints(finger: str) -> list[JointSpec]:
    side, flex, pip, dip = (str(i) for i in FINGERS[finger])
    return [
        JointSpec(flex, "palm", f"{finger}_mcp", (_FLEX_XYZ[0], _FLEX_Y[finger], _FLEX_XYZ[2]), (_PI2, _PI2, 0.0)),
        JointSpec(side, f"{finger}_mcp", f"{finger}_pip", (-0.0122, 0.0381, 0.0145), (-_PI2, 0.0, _PI2)),
        JointSpec(pip, f"{finger}_pip", f"{finger}_dip", (0.0150, 0.0143, -0.0130), (_PI2, -_PI2, 0.0)),
        JointSpec(dip, f"{finger}_dip", f"{finger}_tip", (0.0, -0.0361, 0.0002), (0.0, 0.0, 0.0)),
    ]


KINEMATIC_TREE: tuple[JointSpec, ...] = tuple(
    _finger_joints("index") + _finger_joints("middle") + _finger_joints("ring") + [
        JointSpec("12", "palm", "thumb_base", (-0.06940, -0.00124, -0.02162), (0.0, _PI2, 0.0)),
        JointSpec("13", "thumb_base", "thumb_pip", (0.0, 0.0143, -0.0130), (_PI2, -_PI2, 0.0)),
        JointSpec("14", "thumb_pip", "thumb_dip", (0.0, 0.0145, -0.0170), (-_PI2, 0.0, 0.0)),
        JointSpec("15", "thumb_dip", "thumb_tip", (0.0, 0.0466, 0.0002), (0.0, 0.0, np.pi)),
    ]
)
"""Joints in URDF file order (index, middle, ring, thumb; flexion before side for the fingers)."""

FINGERTIP_LINKS: tuple[str, ...] = ("index_tip", "middle_tip", "ring_tip", "thumb_tip")
FINGERTIP_OFFSETS = np.array(
    [[0.0, -0.048, 0.015]] * 3 + [[0.0, -0.06, -0.015]], dtype=np.float64
)
"""[4, 3] fingertip contact points in their tip-link frames (m), order of FINGERTIP_LINKS."""

LINK_MASSES: dict[str, float] = {"palm": 0.237}
for _f in ("index", "middle", "ring"):
    LINK_MASSES.update({f"{_f}_mcp": 0.044, f"{_f}_pip": 0.032, f"{_f}_dip": 0.037, f"{_f}_tip": 0.016})
LINK_MASSES.update({"thumb_base": 0.032, "thumb_pip": 0.003, "thumb_dip": 0.038, "thumb_tip": 0.049})
"""Link masses in kg (total 0.746)."""

FINGER_LINK_INERTIAS: dict[str, tuple[float, float, float]] = {
    "palm": (3.54e-4, 2.61e-4, 5.29e-4),
    "mcp": (1.15e-5, 7.8e-6, 1.48e-5),
    "pip": (4.8e-6, 2.86e-6, 4.23e-6),
    "dip": (5.54e-6, 5.73e-6, 6.68e-6),
    "tip": (3.37e-6, 1.56e-6, 2.86e-6),
}
"""Diagonal inertias (kg m^2) of the palm and of the finger links by role. The thumb links have no
published inertia: the URDF generator derives them from their collision boxes and masses."""

PALM_BOX = ((-0.098, 0.005), (-0.095, 0.030), (-0.031, 0.015))
"""Palm collision box in the palm frame as (min, max) per axis, m: 103 x 125 x 46 mm, its grasping
face at z = -0.031 just below the finger links."""

LINK_FRICTION = 0.5
"""Lateral friction coefficient of every hand link (PyBullet's default). Bullet multiplies the two
coefficients of a contact, so a finger-object contact has friction 0.5 x the object's coefficient."""

FINGER_WIDTH = 0.022
"""Cross-section of the finger links (an XC330 is 20 x 34 x 26 mm inside a printed bracket), m."""

WRAP_POSE = np.array([0.0, 1.4, 1.3, 0.3] * 3 + [1.3, 0.0, 0.5, 0.5], dtype=np.float64)
"""Our grasp seed (motor order, rad): fingers and thumb curled so they cage a 4-6 cm object against
the palm. With this hand model the :data:`CANONICAL_POSE` cage is sized for a ~7 cm cube and drops
our cylinders once the palm faces down (0 of 40 candidates held in our trials), while this seed holds
them in every wrist orientation (see :mod:`dexndm_envs.grasps`)."""
