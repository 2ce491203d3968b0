"""Wrist orientations and rotation axes of the rotation task.

Frames: the world is z-up with gravity along -z. A wrist orientation is the orientation (xyzw) of the
hand's palm frame in the world (palm frame: fingers +x, thumb +y, palm side -z at q = 0). Rotation axes
are unit vectors in the **world** frame: "+z" means "rotate about the vertical", whatever the wrist.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dexndm_envs.rotations import rotvec_to_quat

_H = np.pi / 2
WRISTS: dict[str, np.ndarray] = {
    "palm_up": rotvec_to_quat([np.pi, 0.0, 0.0]),     # palm faces +z, fingers +x
    "palm_down": np.array([0.0, 0.0, 0.0, 1.0]),       # palm faces -z, fingers +x
    "base_up": rotvec_to_quat([0.0, _H, 0.0]),         # wrist end up: fingers point down (-z)
    "base_down": rotvec_to_quat([0.0, -_H, 0.0]),      # wrist end down: fingers point up (+z)
    "thumb_up": rotvec_to_quat([_H, 0.0, 0.0]),        # thumb points up (+z), fingers +x
    "thumb_down": rotvec_to_quat([-_H, 0.0, 0.0]),     # thumb points down (-z), fingers +x
}
"""The paper's six wrist orientations: palm-frame orientation in the world (xyzw)."""

NAMED_AXES: dict[str, np.ndarray] = {
    "+x": np.array([1.0, 0.0, 0.0]), "-x": np.array([-1.0, 0.0, 0.0]),
    "+y": np.array([0.0, 1.0, 0.0]), "-y": np.array([0.0, -1.0, 0.0]),
    "+z": np.array([0.0, 0.0, 1.0]), "-z": np.array([0.0, 0.0, -1.0]),
}


@lru_cache(maxsize=1)
def axis_directions() -> np.ndarray:
    """[32, 3] rotation axes spread evenly over the sphere: the six principal axes first, then the
    26 "general" ones.

    The 26 are placed by minimising a repulsive energy sum 1/d^2 over all 32 points with the six
    principal axes held fixed, starting from a Fibonacci lattice: deterministic, no random numbers.
    The result has a smallest pairwise angle of about 33 degrees (the best possible for 32 free
    points is about 37.5) and every direction of the sphere lies within about 26 degrees of one.
    """
    fixed = np.array(list(NAMED_AXES.values()))
    n = 26
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i + 0.3
    free = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], -1)
    step = 0.05
    for _ in range(600):
        pts = np.concatenate([fixed, free])
        diff = free[:, None, :] - pts[None, :, :]
        d2 = np.sum(diff * diff, -1)
        d2[np.arange(n), np.arange(n) + 6] = np.inf
        force = np.sum(diff / d2[..., None] ** 2, axis=1)
        force -= np.sum(force * free, -1, keepdims=True) * free  # tangential part only
        free = free + step * force / np.max(np.linalg.norm(force, axis=-1))
        free /= np.linalg.norm(free, axis=-1, keepdims=True)
        step *= 0.995
    return np.concatenate([fixed, free])


def general_axes() -> np.ndarray:
    """[26, 3] the non-principal axes of :func:`axis_directions`."""
    return axis_directions()[6:]


AXIS_CHOICES = (*NAMED_AXES, "random", "general")
WRIST_CHOICES = (*WRISTS, "random")


def parse_wrist(spec) -> str | np.ndarray:
    """Validate a wrist argument: a name of :data:`WRISTS`, ``"random"``, or a quaternion (xyzw).

    Returns the name, or a normalised quaternion. Raises ValueError listing the allowed values.
    """
    if isinstance(spec, str):
        if spec not in WRIST_CHOICES:
            raise ValueError(f"unknown wrist {spec!r}; allowed: {', '.join(WRIST_CHOICES)} "
                             "or a quaternion [x, y, z, w]")
        return spec
    q = np.asarray(spec, dtype=np.float64)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or np.linalg.norm(q) < 1e-6:
        raise ValueError(f"wrist quaternion must be 4 finite numbers [x, y, z, w], not all zero; got {spec!r}")
    return q / np.linalg.norm(q)


def parse_axis(spec) -> str | np.ndarray:
    """Validate an axis argument: ``"+x"``..``"-z"``, ``"random"``, ``"general"`` or a 3-vector.

    Named axes and vectors come back as unit vectors; "random" and "general" stay strings.
    """
    if isinstance(spec, str):
        if spec in NAMED_AXES:
            return NAMED_AXES[spec].copy()
        if spec in ("random", "general"):
            return spec
        raise ValueError(f"unknown axis {spec!r}; allowed: {', '.join(AXIS_CHOICES)} or a 3-vector")
    v = np.asarray(spec, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-6:
        raise ValueError(f"axis vector must be 3 finite numbers, not all zero; got {spec!r}")
    return v / np.linalg.norm(v)


def sample_axis(spec: str | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A unit axis for one episode: "random" is uniform on the sphere, "general" one of the 26
    general axes; a vector is returned as is."""
    if isinstance(spec, np.ndarray):
        return spec
    if spec == "general":
        return general_axes()[rng.integers(26)].copy()
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)
