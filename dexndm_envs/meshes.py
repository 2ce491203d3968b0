"""Mesh objects: validation and repair, principal frames, mass properties, convex decomposition.

Conventions: metres and kilograms. A prepared mesh is expressed in its **principal frame**: origin at
the centre of mass, axes along the principal axes of inertia, ordered so that the extents decrease
from x to z (z is the thinnest direction, which the grasp generator lays along the palm normal).
Collision geometry is a set of convex hulls written as separate object groups of one OBJ file, which
PyBullet loads as a compound of hulls.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as pb
import trimesh

DENSITY = 400.0
"""Default density, kg/m^3 (a light 3D print): a 5.5 cm puck weighs ~26 g, in the paper's 10-50 g."""
MIN_EXTENT = 0.015
MAX_EXTENT = 0.25
"""Allowed range of an object's largest extent, m: the LEAP hand spans 9.5 cm across the fingertips."""


@dataclass
class PreparedMesh:
    """A watertight mesh in its principal frame with its mass properties."""

    mesh: trimesh.Trimesh
    mass: float
    inertia: np.ndarray  # principal moments, kg m^2, along x, y, z of the principal frame
    convex: bool

    @property
    def extents(self) -> np.ndarray:
        return self.mesh.extents


def to_principal_frame(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, np.ndarray]:
    """The mesh moved to its centre of mass and rotated onto its principal axes (extents decreasing
    x, y, z), and its principal moments per unit density. Eigenvector signs are fixed (largest
    component positive) so the result does not depend on the eigen-solver."""
    m = mesh.copy()
    m.apply_translation(-m.center_mass)
    values, vectors = np.linalg.eigh(m.moment_inertia)
    for k in range(3):
        if vectors[np.argmax(np.abs(vectors[:, k])), k] < 0:
            vectors[:, k] *= -1
    extents = np.ptp(m.vertices @ vectors, axis=0)
    order = np.argsort(-extents, kind="stable")
    rot = vectors[:, order]
    if np.linalg.det(rot) < 0:
        rot[:, 2] *= -1
    transform = np.eye(4)
    transform[:3, :3] = rot.T
    m.apply_transform(transform)
    return m, values[order]


def prepare_mesh(mesh: trimesh.Trimesh, mass: float | None = None, density: float = DENSITY) -> PreparedMesh:
    """Principal frame and mass properties of a watertight mesh; mass from ``density`` unless given."""
    if not mesh.is_volume:
        raise ValueError("mesh does not enclose a volume (not watertight or inconsistently oriented)")
    principal, moments_per_density = to_principal_frame(mesh)
    rho = density if mass is None else float(mass) / principal.volume
    return PreparedMesh(principal, rho * principal.volume, rho * moments_per_density,
                        convex=bool(principal.is_convex))


@contextlib.contextmanager
def _silenced_stdout():
    """Silence C-level stdout (PyBullet's V-HACD prints its progress there)."""
    fd = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


def convex_hulls(prepared: PreparedMesh, max_vertices: int = 48) -> list[trimesh.Trimesh]:
    """Collision hulls: the convex hull of a convex mesh, or a V-HACD decomposition (PyBullet's
    built-in, deterministic) of a concave one."""
    if prepared.convex:
        return [prepared.mesh.convex_hull]
    with tempfile.TemporaryDirectory() as tmp:
        src, out, log = (str(Path(tmp) / n) for n in ("in.obj", "out.obj", "log.txt"))
        prepared.mesh.export(src)
        client = pb.connect(pb.DIRECT)
        try:
            with _silenced_stdout():
                pb.vhacd(src, out, log, resolution=200000, maxNumVerticesPerCH=max_vertices,
                         concavity=0.0025, physicsClientId=client)
        finally:
            pb.disconnect(client)
        scene = trimesh.load(out, force="scene", split_objects=True, group_material=False)
        hulls = [g.convex_hull for g in scene.dump()] if isinstance(scene, trimesh.Scene) else [scene.convex_hull]
    if not hulls:
        raise ValueError("convex decomposition produced no hulls")
    return hulls


def obj_text(meshes: list[trimesh.Trimesh], digits: int = 9) -> str:
    """Wavefront OBJ text with each mesh as its own object group (``o part_k``), deterministic."""
    lines, offset = [], 1
    for k, m in enumerate(meshes):
        lines.append(f"o part_{k}")
        lines.extend(f"v {x:.{digits}f} {y:.{digits}f} {z:.{digits}f}" for x, y, z in m.vertices)
        lines.extend(f"f {a + offset} {b + offset} {c + offset}" for a, b, c in m.faces)
        offset += len(m.vertices)
    return "\n".join(lines) + "\n"



def read_hulls(path: Path) -> list[np.ndarray]:
    """The vertices ([n, 3], m) of each object group of an OBJ file as :func:`obj_text` writes it (a
    collision mesh: one convex hull per group)."""
    hulls: list[list[list[float]]] = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("o ") or (line.startswith("v ") and not hulls):
            hulls.append([])
        if line.startswith("v "):
            hulls[-1].append([float(x) for x in line.split()[1:4]])
    return [np.array(h) for h in hulls if h]


def load_and_repair(path: Path, scale: float = 1.0) -> trimesh.Trimesh:
    """Read a mesh file, scale it (to metres), and repair what can be repaired (merged vertices,
    degenerate and duplicate faces, winding and normals, small holes).

    Raises ValueError saying what is wrong: not a mesh, no volume, or not closable into a volume.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        loaded = trimesh.load(path, force="mesh", process=True)
    except Exception as e:  # trimesh raises many types for unreadable files
        raise ValueError(f"{path} is not a mesh file trimesh can read ({type(e).__name__}: {e})") from e
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ValueError(f"{path} is not a mesh: it holds no triangles (a point cloud or an empty scene?)")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale}")
    mesh = loaded.copy()
    mesh.apply_scale(scale)
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    trimesh.repair.fix_winding(mesh)
    trimesh.repair.fill_holes(mesh)
    trimesh.repair.fix_inversion(mesh)
    trimesh.repair.fix_normals(mesh)
    if len(mesh.faces) == 0 or np.min(mesh.extents) < 1e-6:
        raise ValueError(f"{path} has zero volume: it is flat (extents {np.round(mesh.extents, 6).tolist()} m)")
    if not mesh.is_watertight:
        raise ValueError(f"{path} is not a closed surface and could not be repaired into one "
                         "(open boundaries remain after filling holes); close the mesh in a modeller first")
    if not mesh.is_volume or mesh.volume <= 1e-12:
        raise ValueError(f"{path} has zero volume after repair (volume {mesh.volume:.3g} m^3)")
    largest = float(mesh.extents.max())
    if not MIN_EXTENT <= largest <= MAX_EXTENT:
        hint = "is the file in mm? try --scale 0.001" if largest > MAX_EXTENT else "enlarge it with --scale"
        raise ValueError(
            f"{path} is {largest * 100:.3g} cm across at scale {scale}; objects for the LEAP hand must be "
            f"{MIN_EXTENT * 100:.1f}-{MAX_EXTENT * 100:.0f} cm across ({hint})")
    return mesh
