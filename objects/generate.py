"""Regenerate the object set deterministically: ``python objects/generate.py [--out DIR]``.

Writes ``catalogue.json`` and ``meshes/`` next to this file (or under ``--out``). Every object is built
with trimesh from primitives (booleans through manifold3d), put in its principal frame, given mass
properties from a density of 400 kg/m^3 (a light 3D print), and, if concave, decomposed into convex
hulls with V-HACD. Random shapes come from one seeded generator, so running this twice gives
byte-identical files.

Categories (sizes in metres; aspect ratio = longest / shortest extent):
- ``cylinder`` (9): diameter 5.0-6.0 cm, aspect 1.6-2.4, pucks lying on the palm (PyBullet primitive);
- ``cuboid`` (9): longest side 4.5-5.5 cm, aspect 1.25-1.5 (primitive);
- ``long_cuboid`` (5): 2 cm square section, aspect 2.5-6.67 (5-13.3 cm long; primitive);
- ``small_cylinder`` (9): the cylinders scaled by 0.5-0.6 (primitive);
- ``irregular`` (32): 2-4 random parts (boxes, ellipsoids, cylinders, capsules) united, 4.5-6 cm,
  aspect 1.05-2.0, many concave;
- ``animal`` (8): cow, bunny, duck, elephant, bear, teapot, mug, fish, 5.5-7 cm;
- ``small`` (4): 2-3 cm objects, as in the paper's real small-object tests;
- ``long`` (4): 13.5-20 cm bars and rods, as in its long-object tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import trimesh
from trimesh import creation
from trimesh.transformations import rotation_matrix, translation_matrix

from dexndm_envs.fileio import atomic_write, write_json
from dexndm_envs.meshes import DENSITY, convex_hulls, obj_text, prepare_mesh, to_principal_frame

SEED = 2026
FRICTION = 1.0
HERE = Path(__file__).resolve().parent


# -- building blocks ----------------------------------------------------------------------------------
def ellipsoid(radii, center=(0, 0, 0)) -> trimesh.Trimesh:
    m = creation.icosphere(subdivisions=2, radius=1.0)
    m.apply_scale(radii)
    m.apply_translation(center)
    return m


def cylinder(radius, length, center=(0, 0, 0), axis=(0, 0, 1), sections=24) -> trimesh.Trimesh:
    m = creation.cylinder(radius=radius, height=length, sections=sections)
    _orient(m, axis)
    m.apply_translation(center)
    return m


def box(extents, center=(0, 0, 0)) -> trimesh.Trimesh:
    m = creation.box(extents=extents)
    m.apply_translation(center)
    return m


def _orient(m: trimesh.Trimesh, axis) -> None:
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    z = np.array([0.0, 0.0, 1.0])
    if np.allclose(axis, z):
        return
    if np.allclose(axis, -z):
        m.apply_transform(rotation_matrix(np.pi, [1, 0, 0]))
        return
    m.apply_transform(rotation_matrix(np.arccos(axis @ z), np.cross(z, axis)))


def union(*parts: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.boolean.union(list(parts), engine="manifold")


def scaled_to(mesh: trimesh.Trimesh, longest: float) -> trimesh.Trimesh:
    mesh = mesh.copy()
    mesh.apply_scale(longest / mesh.extents.max())
    return mesh


# -- animals and household shapes (built with x forward, z up, in cm-ish units, then scaled) ----------
def _legs(xs, ys, radius, length, top) -> list[trimesh.Trimesh]:
    return [cylinder(radius, length, (x, y, top - length / 2)) for x in xs for y in ys]


def cow() -> trimesh.Trimesh:
    return union(ellipsoid((2.2, 1.1, 1.0)), ellipsoid((0.9, 0.7, 0.7), (2.4, 0, 0.6)),
                 *_legs((-1.4, 1.3), (-0.6, 0.6), 0.3, 1.6, -0.4),
                 cylinder(0.12, 0.8, (2.6, 0.45, 1.25), (0, 1, 1)), cylinder(0.12, 0.8, (2.6, -0.45, 1.25), (0, -1, 1)))


def bunny() -> trimesh.Trimesh:
    return union(ellipsoid((1.5, 1.1, 1.1)), ellipsoid((0.8, 0.7, 0.7), (1.3, 0, 1.0)),
                 ellipsoid((0.25, 0.15, 0.9), (1.1, 0.3, 2.2)), ellipsoid((0.25, 0.15, 0.9), (1.1, -0.3, 2.2)),
                 ellipsoid((0.35, 0.35, 0.35), (-1.5, 0, 0.2)))


def duck() -> trimesh.Trimesh:
    return union(ellipsoid((1.6, 1.0, 0.8)), ellipsoid((0.65, 0.6, 0.6), (1.1, 0, 1.1)),
                 ellipsoid((0.5, 0.3, 0.12), (1.8, 0, 1.0)), ellipsoid((0.5, 0.4, 0.3), (-1.5, 0, 0.4)))


def elephant() -> trimesh.Trimesh:
    return union(ellipsoid((1.8, 1.2, 1.1)), ellipsoid((0.9, 0.85, 0.85), (1.9, 0, 0.6)),
                 cylinder(0.25, 1.6, (2.6, 0, -0.3), (0.3, 0, -1)),
                 ellipsoid((0.2, 0.8, 0.7), (1.6, 0.9, 0.7)), ellipsoid((0.2, 0.8, 0.7), (1.6, -0.9, 0.7)),
                 *_legs((-1.0, 1.0), (-0.6, 0.6), 0.4, 1.4, -0.5))


def bear() -> trimesh.Trimesh:
    return union(ellipsoid((1.2, 1.0, 1.4)), ellipsoid((0.75, 0.75, 0.75), (0, 0, 1.9)),
                 ellipsoid((0.25, 0.12, 0.25), (0, 0.55, 2.55)), ellipsoid((0.25, 0.12, 0.25), (0, -0.55, 2.55)),
                 ellipsoid((0.35, 0.3, 0.25), (0.7, 0, 1.8)),
                 ellipsoid((0.35, 0.35, 0.6), (0.5, 0.6, -1.2)), ellipsoid((0.35, 0.35, 0.6), (0.5, -0.6, -1.2)))


def teapot() -> trimesh.Trimesh:
    body = ellipsoid((1.5, 1.5, 1.1))
    spout = cylinder(0.22, 1.6, (1.7, 0, 0.5), (1, 0, 1))
    handle = creation.torus(major_radius=0.7, minor_radius=0.16)
    handle.apply_transform(rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation((-1.5, 0, 0.1))
    knob = ellipsoid((0.3, 0.3, 0.25), (0.02, 0.01, 1.2))  # off the body's pole: no shared vertex
    return union(body, spout, handle, knob)


def mug() -> trimesh.Trimesh:
    cup = trimesh.boolean.difference([cylinder(1.0, 2.2), cylinder(0.8, 2.2, (0, 0, 0.25))], engine="manifold")
    handle = creation.torus(major_radius=0.6, minor_radius=0.15)
    handle.apply_transform(rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation((-1.1, 0, 0))
    return union(cup, handle)


def fish() -> trimesh.Trimesh:
    tail = creation.cone(radius=0.8, height=1.2, sections=24)
    tail.apply_scale((1, 0.25, 1))
    tail.apply_transform(rotation_matrix(-np.pi / 2, [0, 1, 0]))
    tail.apply_translation((-1.2, 0, 0))
    fin = ellipsoid((0.5, 0.08, 0.4), (0, 0, 0.7))
    return union(ellipsoid((1.6, 0.45, 0.8)), tail, fin)


ANIMALS = {"cow": (cow, 0.07), "bunny": (bunny, 0.06), "duck": (duck, 0.06), "elephant": (elephant, 0.07),
           "bear": (bear, 0.06), "teapot": (teapot, 0.065), "mug": (mug, 0.055), "fish": (fish, 0.065)}


# -- random irregular shapes --------------------------------------------------------------------------
def irregular(rng: np.random.Generator) -> trimesh.Trimesh:
    """Two to four random parts united into one connected solid."""
    while True:
        parts = []
        for _ in range(int(rng.integers(2, 5))):
            kind = rng.choice(["box", "ellipsoid", "cylinder", "capsule"])
            size = rng.uniform(0.012, 0.035, 3)
            if kind == "box":
                part = box(size)
            elif kind == "ellipsoid":
                part = ellipsoid(size / 2)
            elif kind == "cylinder":
                part = cylinder(size[0] / 2, size[2])
            else:
                part = creation.capsule(height=size[2], radius=size[0] / 2, count=[12, 12])
            angles = rng.uniform(0, 2 * np.pi, 3)
            for k, angle in enumerate(angles):
                part.apply_transform(rotation_matrix(angle, np.eye(3)[k]))
            part.apply_transform(translation_matrix(rng.uniform(-0.012, 0.012, 3)))
            parts.append(part)
        mesh = union(*parts)
        if mesh.is_volume and mesh.body_count == 1:
            mesh, _ = to_principal_frame(mesh)  # extents and aspect ratio as the catalogue reports them
            mesh = scaled_to(mesh, rng.uniform(0.045, 0.06))
            if 1.05 <= mesh.extents[0] / mesh.extents[2] <= 2.0:
                return mesh


# -- the catalogue ------------------------------------------------------------------------------------
def primitive(name: str, category: str, shape: str, size) -> dict:
    """A PyBullet primitive: 'box' (extents) or 'cylinder' (diameter, diameter, height along z)."""
    size = [round(float(x), 5) for x in size]
    if shape == "box":
        mesh = creation.box(extents=size)
    else:
        mesh = creation.cylinder(radius=size[0] / 2, height=size[2], sections=32)
    return {"name": name, "category": category, "shape": shape, "size": size, "mesh": mesh}


def catalogue_entries(rng: np.random.Generator) -> list[dict]:
    entries = []
    regular = [(d, a) for d in (0.050, 0.055, 0.060) for a in (1.6, 2.0, 2.4)]
    for d, a in regular:
        entries.append(primitive(f"cylinder_d{d * 1000:.0f}_ar{a * 10:.0f}", "cylinder", "cylinder", (d, d, d / a)))
    for s in (0.045, 0.050, 0.055):
        for a in (1.25, 1.375, 1.5):
            entries.append(primitive(f"cuboid_s{s * 1000:.0f}_ar{a * 1000:.0f}", "cuboid", "box",
                                     (s, s / a**0.5, s / a)))
    for a in (2.5, 3.5, 4.5, 5.5, 6.67):
        entries.append(primitive(f"long_cuboid_ar{a * 100:.0f}", "long_cuboid", "box", (0.02 * a, 0.02, 0.02)))
    for (d, a), scale in zip(regular, (0.5, 0.55, 0.6) * 3):
        entries.append(primitive(f"small_cylinder_d{d * 1000 * scale:.0f}_ar{a * 10:.0f}", "small_cylinder",
                                 "cylinder", (d * scale, d * scale, d * scale / a)))
    for k in range(32):
        entries.append({"name": f"irregular_{k:02d}", "category": "irregular", "shape": "mesh",
                        "mesh": irregular(rng)})
    for name, (build, longest) in ANIMALS.items():
        entries.append({"name": name, "category": "animal", "shape": "mesh", "mesh": scaled_to(build(), longest)})
    for name, mesh in (("small_cube_20", box((0.02, 0.02, 0.02))), ("small_ball_25", ellipsoid((0.0125,) * 3)),
                       ("small_cylinder_30", cylinder(0.01, 0.03, axis=(1, 0, 0))),
                       ("small_irregular_25", scaled_to(irregular(rng), 0.025))):
        entries.append({"name": name, "category": "small", "shape": "mesh", "mesh": mesh})
    for name, mesh in (("long_rod_135", cylinder(0.0125, 0.135, axis=(1, 0, 0))),
                       ("long_rod_160", cylinder(0.0125, 0.16, axis=(1, 0, 0))),
                       ("long_rod_200", cylinder(0.011, 0.20, axis=(1, 0, 0))),
                       ("long_bar_180", box((0.18, 0.022, 0.018)))):
        entries.append({"name": name, "category": "long", "shape": "mesh", "mesh": mesh})
    return entries


def generate(out: Path = HERE) -> Path:
    """Build every object, write ``out/meshes/*.obj`` and ``out/catalogue.json``; returns the latter."""
    rng = np.random.default_rng(SEED)
    records = []
    for entry in catalogue_entries(rng):
        name, mesh = entry["name"], entry.pop("mesh")
        if not trimesh.Trimesh(mesh.vertices, mesh.faces).is_volume:  # as a reader merging vertices sees it
            raise RuntimeError(f"{name}: the mesh is not a closed volume once coincident vertices merge")
        prepared = prepare_mesh(mesh)
        visual = f"meshes/{name}.obj"
        atomic_write(out / visual, obj_text([prepared.mesh]))
        record = {**entry, "mass": round(prepared.mass, 6), "friction": FRICTION,
                  "inertia": [float(f"{x:.6g}") for x in prepared.inertia], "visual": visual}
        if entry["shape"] == "mesh":
            collision = f"meshes/{name}_collision.obj"
            atomic_write(out / collision, obj_text(convex_hulls(prepared)))
            record.update(size=[round(float(x), 5) for x in prepared.extents], collision=collision,
                          convex=prepared.convex)
        records.append(record)
    path = out / "catalogue.json"
    write_json(path, {"version": 2, "density": DENSITY, "seed": SEED, "objects": records})
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate the object catalogue and meshes.")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: objects/)")
    print(generate(parser.parse_args().out))
