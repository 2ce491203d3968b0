"""Generate the LEAP hand URDF from :mod:`dexndm_envs.hand`.

Every link is a primitive: a box per link plus a sphere pad on each fingertip, laid along the finger
centre lines of the real hand at q = 0 and then expressed in each link's own frame. Primitives collide
faster and more stably in PyBullet than meshes. Each joint's armature (:data:`hand.JOINT_ARMATURE`)
is added to its child link's inertia (isotropically: Bullet rejects tensors that break the triangle
inequality, and the joint axis is what matters for the PD's stability). The shipped file
``assets/leap_hand.urdf`` is this module's output; a test keeps the two identical. Regenerate with
``python -m dexndm_envs.urdf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexndm_envs import hand
from dexndm_envs.fileio import atomic_write
from dexndm_envs.rotations import matrix_to_rpy, rpy_to_matrix

URDF_PATH = Path(__file__).parent / "assets" / "leap_hand.urdf"

_BLACK = (0.12, 0.12, 0.13, 1.0)
_WHITE = (0.92, 0.92, 0.90, 1.0)
_TIP_RADIUS = 0.012


@dataclass(frozen=True)
class _Shape:
    """A primitive laid out in the palm frame at q = 0: a box (lo, hi corners) or a sphere."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    sphere: bool = False


def _finger_shapes(y: float, z: float = -0.0195) -> dict[str, list[_Shape]]:
    """Boxes along one finger (pointing +x at q = 0) centred on (y, z) in the palm frame."""
    h = hand.FINGER_WIDTH / 2
    seg = {"mcp": (0.005, 0.042), "pip": (0.042, 0.060), "dip": (0.060, 0.092), "tip": (0.092, 0.118)}
    shapes = {k: [_Shape((a, y - h, z - h), (b, y + h, z + h))] for k, (a, b) in seg.items()}
    r = _TIP_RADIUS
    shapes["tip"].append(_Shape((0.118 - r, y - r, z - r), (0.118 + r, y + r, z + r), sphere=True))
    return shapes


def _thumb_shapes(x: float = -0.0824, z: float = -0.0219) -> dict[str, list[_Shape]]:
    """Boxes along the thumb (pointing +y at q = 0)."""
    h = hand.FINGER_WIDTH / 2
    seg = {"base": (-0.005, 0.045), "pip": (0.045, 0.060), "dip": (0.060, 0.090), "tip": (0.090, 0.125)}
    shapes = {k: [_Shape((x - h, a, z - h), (x + h, b, z + h))] for k, (a, b) in seg.items()}
    r = _TIP_RADIUS
    shapes["tip"].append(_Shape((x - r, 0.125 - r, z - r), (x + r, 0.125 + r, z + r), sphere=True))
    return shapes


def link_shapes() -> dict[str, list[_Shape]]:
    """All link primitives in the palm frame at q = 0, keyed by link name."""
    (x0, x1), (y0, y1), (z0, z1) = hand.PALM_BOX
    shapes: dict[str, list[_Shape]] = {"palm": [_Shape((x0, y0, z0), (x1, y1, z1))]}
    # Finger centre lines: the fingertip contact points of the reference at q = 0.
    for finger, y in (("index", 0.0077), ("middle", -0.0378), ("ring", -0.0832)):
        shapes.update({f"{finger}_{k}": v for k, v in _finger_shapes(y).items()})
    shapes.update({f"thumb_{k}": v for k, v in _thumb_shapes().items()})
    return shapes


def link_frames_at_zero() -> dict[str, np.ndarray]:
    """4x4 pose of every link frame in the palm frame at q = 0."""
    frames = {"palm": np.eye(4)}
    for j in hand.KINEMATIC_TREE:
        t = np.eye(4)
        t[:3, :3] = rpy_to_matrix(j.rpy)
        t[:3, 3] = j.xyz
        frames[j.child] = frames[j.parent] @ t
    return frames


def _fmt(v) -> str:
    return " ".join(f"{x:.6g}" for x in np.round(np.asarray(v, dtype=np.float64), 9) + 0.0)


def _inertia(link: str, size: np.ndarray, mass: float) -> tuple[float, float, float]:
    role = link.split("_")[-1]
    if link == "palm" or (not link.startswith("thumb") and role in hand.FINGER_LINK_INERTIAS):
        return hand.FINGER_LINK_INERTIAS["palm" if link == "palm" else role]
    a, b, c = size  # thumb links: a solid box of the link's size and mass
    return (mass * (b * b + c * c) / 12, mass * (a * a + c * c) / 12, mass * (a * a + b * b) / 12)


def _link_xml(name: str, shapes: list[_Shape], frame: np.ndarray, armature: float = 0.0) -> str:
    inv = np.linalg.inv(frame)
    color = _WHITE if name.split("_")[-1] in ("pip", "tip") else _BLACK
    parts = []
    for s in shapes:
        lo, hi = np.array(s.lo), np.array(s.hi)
        centre = inv[:3, :3] @ ((lo + hi) / 2) + inv[:3, 3]
        origin = f'<origin xyz="{_fmt(centre)}" rpy="{_fmt(matrix_to_rpy(inv[:3, :3]))}"/>'
        geom = f'<sphere radius="{(hi[0] - lo[0]) / 2:.6g}"/>' if s.sphere else f'<box size="{_fmt(hi - lo)}"/>'
        rgba = _WHITE if s.sphere else color
        parts.append(f"    <collision>{origin}<geometry>{geom}</geometry></collision>")
        parts.append(
            f'    <visual>{origin}<geometry>{geom}</geometry>'
            f'<material name="{name}_{len(parts)}"><color rgba="{_fmt(rgba)}"/></material></visual>'
        )
    body = shapes[0]
    lo, hi = np.array(body.lo), np.array(body.hi)
    mass = hand.LINK_MASSES[name]
    centre = inv[:3, :3] @ ((lo + hi) / 2) + inv[:3, 3]
    # The armature goes on all three axes: Bullet zeroes inertias that break the triangle inequality.
    ixx, iyy, izz = np.array(_inertia(name, hi - lo, mass)) + armature
    inertial = (
        f'    <inertial><origin xyz="{_fmt(centre)}" rpy="{_fmt(matrix_to_rpy(inv[:3, :3]))}"/>'
        f'<mass value="{mass:.6g}"/>'
        f'<inertia ixx="{ixx:.6g}" ixy="0" ixz="0" iyy="{iyy:.6g}" iyz="0" izz="{izz:.6g}"/></inertial>'
    )
    return f'  <link name="{name}">\n{inertial}\n' + "\n".join(parts) + "\n  </link>"


def generate_urdf() -> str:
    """The LEAP hand URDF as a string (deterministic)."""
    frames = link_frames_at_zero()
    shapes = link_shapes()
    lines = ['<?xml version="1.0"?>', "<!-- Generated by dexndm_envs.urdf from dexndm_envs.hand; do not edit. -->",
             '<robot name="leap_hand">']
    lines.append(_link_xml("palm", shapes["palm"], frames["palm"]))
    for j in hand.KINEMATIC_TREE:
        lines.append(_link_xml(j.child, shapes[j.child], frames[j.child], hand.JOINT_ARMATURE))
        lo, hi = hand.JOINT_LIMITS[int(j.name)]
        lines.append(
            f'  <joint name="{j.name}" type="revolute">\n'
            f'    <origin xyz="{_fmt(j.xyz)}" rpy="{_fmt(j.rpy)}"/>\n'
            f'    <parent link="{j.parent}"/>\n    <child link="{j.child}"/>\n'
            f'    <axis xyz="{_fmt(hand.JOINT_AXIS)}"/>\n'
            f'    <limit lower="{lo:.6g}" upper="{hi:.6g}" effort="{hand.EFFORT_LIMIT:.6g}" '
            f'velocity="{hand.VELOCITY_LIMIT:.6g}"/>\n'
            f'    <dynamics damping="0" friction="0"/>\n  </joint>'
        )
    lines.append("</robot>\n")
    return "\n".join(lines)


def write_urdf(path: Path = URDF_PATH) -> Path:
    """Write the generated URDF to ``path`` (atomically) and return the path."""
    return atomic_write(path, generate_urdf())


if __name__ == "__main__":
    print(write_urdf())
