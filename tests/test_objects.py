"""The object catalogue (dexndm_envs.objects, objects/): every object loads and rests, has sound mass
properties, the set covers the paper's ranges, it regenerates byte for byte, and objects are found
by name or category.

Every test points ``$DEXNDM_USER_OBJECTS`` at a temporary folder, so the user catalogue in ``~/.local``
is never read or written.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pybullet as pb
import pytest
import trimesh
from conftest import hull_count

from dexndm_envs import objects
from dexndm_envs.grasps import GraspConfig
from dexndm_envs.meshes import DENSITY
from dexndm_envs.rotations import matrix_to_quat, quat_to_matrix
from dexndm_envs.world import PHYSICS_HZ, World

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = Path(str(resources.files("dexndm_objects")))
"""The installed shipped catalogue folder (objects/ in an editable install)."""
SHIPPED_SPECS = objects.read_catalogue(SHIPPED / "catalogue.json", "shipped")
"""Read at collection time without touching any user catalogue, to parametrize by object name."""
SHIPPED_NAMES = [s.name for s in SHIPPED_SPECS]
CATEGORIES = ("cylinder", "cuboid", "long_cuboid", "small_cylinder", "irregular", "animal", "small", "long")




# -- 1. every object loads in PyBullet and rests on the ground --------------------------------------------
SETTLE_STEPS = round(1.5 * PHYSICS_HZ)
DRIFT_STEPS = round(0.5 * PHYSICS_HZ)
DROP = 0.001
"""Height of the lowest point above the ground when released (m)."""


def collision_points(spec: objects.ObjectSpec) -> np.ndarray:
    """Points (body frame, m) whose lowest one is the lowest point of the object's collision shape."""
    if spec.shape == "box":
        return np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * spec.extents / 2
    if spec.shape == "cylinder":
        angles = np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False)
        r, h = spec.size[0] / 2, spec.size[2] / 2
        rim = np.stack([r * np.cos(angles), r * np.sin(angles)], axis=1)
        return np.concatenate([np.c_[rim, np.full(len(rim), z)] for z in (-h, h)])
    return trimesh.load(spec.collision, force="mesh", process=False).vertices


def resting_rotation(points: np.ndarray) -> np.ndarray:
    """The most probable quasi-static resting orientation of the points' convex hull with the centre of
    mass at the body origin (trimesh), as a rotation matrix: the object is put down on a face, not
    balanced on an edge (a 24-gon rod at identity rests on an edge and rolls away)."""
    transforms, _ = trimesh.poses.compute_stable_poses(trimesh.Trimesh(points).convex_hull, center_mass=np.zeros(3))
    return transforms[0][:3, :3]


def add_ground(world: World) -> int:
    """A static 2 m x 2 m box with its top face at z = 0.

    Not a GEOM_PLANE: Bullet's box-against-plane contact at 120 Hz is fragile (even with a 2 cm breaking
    threshold, primitive cuboids dropped from 2-5 mm onto a plane end up spinning on one contact and
    sunk up to 9 mm), which would test Bullet rather than the catalogue."""
    c = world.client
    shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[1.0, 1.0, 0.05], physicsClientId=c)
    return world.add_body(pb.createMultiBody(0.0, shape, basePosition=[0.0, 0.0, -0.05], physicsClientId=c))


def angle_between(q1, q2) -> float:
    """Angle (rad) of the rotation between two xyzw quaternions."""
    return 2.0 * float(np.arccos(min(1.0, abs(float(np.dot(q1, q2))))))


def settle(world: World, spec: objects.ObjectSpec) -> dict:
    """Put ``spec`` down in its resting orientation DROP above the ground, simulate 1.5 s and measure."""
    points = collision_points(spec)
    rot = resting_rotation(points)
    quat = matrix_to_quat(rot)
    start = np.array([0.0, 0.0, DROP - float((points @ rot.T)[:, 2].min())])
    body = objects.create_body(world, spec, position=start)
    try:
        world.set_body_pose(body, start, quat)
        for _ in range(SETTLE_STEPS - DRIFT_STEPS):
            world.step()
        pos_before, quat_before = world.body_pose(body)
        for _ in range(DRIFT_STEPS):
            world.step()
        pos, q = world.body_pose(body)
        lin, ang = world.body_velocity(body)
        world_points = points @ quat_to_matrix(q).T + pos
        return {
            "finite": bool(np.all(np.isfinite(pos)) and np.all(np.isfinite(q))),
            "horizontal": float(np.linalg.norm(pos[:2] - start[:2])),
            "lowest": float(world_points[:, 2].min()),
            "speed": float(np.linalg.norm(lin)),
            "spin": float(np.linalg.norm(ang)),
            "turned": angle_between(quat, q),
            "drift": float(np.linalg.norm(pos - pos_before)),
            "drift_turn": angle_between(quat_before, q),
        }
    finally:
        world.remove_body(body)


def rest_problems(m: dict) -> list[str]:
    """What is wrong with a settled object (empty when it rests)."""
    checks = [
        (m["finite"], "pose is not finite"),
        (m["horizontal"] < 0.03, f"moved {m['horizontal'] * 1000:.1f} mm sideways"),
        (m["lowest"] > -0.003, f"sank: lowest point {m['lowest'] * 1000:.1f} mm below the ground"),
        (m["speed"] < 0.05, f"still moving at {m['speed']:.3f} m/s"),
        (m["spin"] < 2.0, f"still turning at {m['spin']:.2f} rad/s"),
        (m["turned"] < np.radians(20), f"turned {np.degrees(m['turned']):.0f} deg from the pose it was put down in"),
        (m["drift"] < 0.002, f"drifted {m['drift'] * 1000:.1f} mm in the last 0.5 s"),
        # a few degrees of contact jitter are allowed; rolling or spinning objects turn far more
        (m["drift_turn"] < np.radians(10), f"turned {np.degrees(m['drift_turn']):.1f} deg in the last 0.5 s"),
    ]
    return [message for ok, message in checks if not ok]


@pytest.fixture(scope="module")
def rest_world():
    """One world (the envs' physics settings) with a ground for all the resting tests."""
    world = World()
    add_ground(world)
    yield world
    world.close()


@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_object_loads_and_rests_on_the_ground(rest_world, name):
    spec = objects.get_object(name)
    m = settle(rest_world, spec)
    assert not rest_problems(m), f"{name}: " + "; ".join(rest_problems(m))


# -- 2. mass properties --------------------------------------------------------------------------------------
def triangle_inequality(moments) -> bool:
    a, b, c = sorted(float(x) for x in moments)
    return a + b >= c * (1 - 1e-9)


@pytest.fixture(scope="module")
def plain_world():
    world = World()
    yield world
    world.close()


@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_mass_and_inertia_are_physical(plain_world, name):
    spec = objects.get_object(name)
    assert spec.mass > 0
    body = objects.create_body(plain_world, spec)
    try:
        mass, _, local_inertia = pb.getDynamicsInfo(body, -1, physicsClientId=plain_world.client)[:3]
    finally:
        plain_world.remove_body(body)
    assert mass == pytest.approx(spec.mass, rel=1e-9)
    local_inertia = np.array(local_inertia)
    assert np.all(local_inertia > 0) and triangle_inequality(local_inertia), local_inertia
    if spec.shape == "mesh":
        assert spec.inertia is not None and len(spec.inertia) == 3
        assert all(x > 0 for x in spec.inertia) and triangle_inequality(spec.inertia), spec.inertia
        # create_body gives the body the mesh's own principal moments, not PyBullet's bounding-box guess
        np.testing.assert_allclose(local_inertia, spec.inertia, rtol=1e-6)
    else:
        # PyBullet's exact primitive against the catalogue's (32-gon) mesh moments
        np.testing.assert_allclose(local_inertia, spec.inertia, rtol=2e-2)


@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_mass_properties_match_the_visual_mesh(name):
    """The body frame is the centre of mass and the principal axes of the (400 kg/m^3) visual mesh."""
    spec = objects.get_object(name)
    mesh = trimesh.load(spec.visual, force="mesh", process=False)  # as written (see the watertight test)
    assert mesh.is_volume
    assert spec.mass == pytest.approx(DENSITY * mesh.volume, rel=2e-3)
    assert np.linalg.norm(mesh.center_mass) < 1e-5
    inertia = DENSITY * mesh.moment_inertia
    np.testing.assert_allclose(np.diag(inertia), spec.inertia, rtol=2e-3)
    assert np.abs(inertia - np.diag(np.diag(inertia))).max() < 1e-3 * np.diag(inertia).max()
    np.testing.assert_allclose(mesh.extents, spec.size, atol=2e-5)  # sizes are rounded to 10 um


# -- 3. the catalogue covers the paper's ranges -----------------------------------------------------------------
@pytest.fixture(scope="module")
def catalogue() -> dict[str, list[objects.ObjectSpec]]:
    by_category: dict[str, list[objects.ObjectSpec]] = {}
    for spec in SHIPPED_SPECS:
        by_category.setdefault(spec.category, []).append(spec)
    return by_category


def test_shipped_catalogue_is_what_list_objects_returns():
    assert [s.name for s in objects.list_objects()] == SHIPPED_NAMES
    assert len(SHIPPED_NAMES) == 80 and len(set(SHIPPED_NAMES)) == 80
    assert all(s.source == "shipped" for s in objects.list_objects())
    assert sorted(objects.categories()) == sorted(CATEGORIES)


def test_category_counts(catalogue):
    counts = Counter({k: len(v) for k, v in catalogue.items()})
    minimum = {"cylinder": 9, "cuboid": 9, "long_cuboid": 4, "small_cylinder": 9, "irregular": 30, "animal": 6,
               "small": 1, "long": 1}
    assert all(counts[k] >= n for k, n in minimum.items()), counts


def aspects(specs) -> list[float]:
    return [s.aspect_ratio for s in specs]


def test_regular_shapes_aspect_ratios(catalogue):
    eps = 1e-2  # sizes are rounded to 10 um
    assert all(1.6 - eps <= a <= 2.4 + eps for a in aspects(catalogue["cylinder"])), aspects(catalogue["cylinder"])
    assert all(1.25 - eps <= a <= 1.5 + eps for a in aspects(catalogue["cuboid"])), aspects(catalogue["cuboid"])
    long = aspects(catalogue["long_cuboid"])
    assert all(a >= 2.5 - eps for a in long) and min(long) <= 2.5 + eps and round(max(long), 2) >= 6.67, long
    assert all(s.shape == "cylinder" for s in catalogue["cylinder"] + catalogue["small_cylinder"])
    assert all(s.shape == "box" for s in catalogue["cuboid"] + catalogue["long_cuboid"])


def test_small_cylinders_are_half_to_six_tenths_of_the_cylinders(catalogue):
    regular = catalogue["cylinder"]
    scales = []
    for small in catalogue["small_cylinder"]:
        matches = [max(small.size) / max(r.size) for r in regular if abs(r.aspect_ratio - small.aspect_ratio) < 1e-2
                   and 0.5 - 1e-3 <= max(small.size) / max(r.size) <= 0.6 + 1e-3]
        assert matches, f"{small.name} is not 0.5-0.6 of a cylinder of its aspect ratio"
        scales.extend(matches)
    largest = [max(s.size) for s in catalogue["small_cylinder"]]
    regular_largest = [max(s.size) for s in regular]
    assert min(largest) / min(regular_largest) == pytest.approx(0.5, abs=1e-3)
    assert max(largest) / max(regular_largest) == pytest.approx(0.6, abs=1e-3)


def test_irregular_aspect_ratios(catalogue):
    values = aspects(catalogue["irregular"])
    assert all(1.05 - 1e-3 <= a <= 2.0 + 1e-3 for a in values), values
    assert len({round(a, 2) for a in values}) > 10, "irregular shapes should span the range, not repeat one"


def test_size_and_aspect_extremes(catalogue):
    specs = SHIPPED_SPECS
    assert max(s.aspect_ratio for s in specs) >= 6.67
    assert min(max(s.size) for s in specs) <= 0.03
    assert max(max(s.size) for s in specs) >= 0.135
    small = [max(s.size) for s in catalogue["small"]]
    long = [max(s.size) for s in catalogue["long"]]
    assert 2 <= len(small) and all(0.02 - 1e-6 <= x <= 0.03 + 1e-6 for x in small), small
    assert 2 <= len(long) and all(0.135 - 1e-6 <= x <= 0.20 + 1e-6 for x in long), long


def test_sizes_are_sorted_and_positive():
    for s in SHIPPED_SPECS:
        assert len(s.size) == 3 and min(s.size) > 0, s.name
        if s.shape != "cylinder":  # a cylinder's size is (diameter, diameter, height)
            assert list(s.size) == sorted(s.size, reverse=True), s.name


def test_every_mesh_file_exists_and_is_used():
    referenced = set()
    for s in SHIPPED_SPECS:
        assert s.visual is not None and s.visual.is_file(), s.name
        referenced.add(s.visual.resolve())
        if s.shape == "mesh":
            assert s.collision is not None and s.collision.is_file(), s.name
            referenced.add(s.collision.resolve())
        else:
            assert s.collision is None, s.name
    on_disk = {p.resolve() for p in (SHIPPED / "meshes").iterdir()}
    assert on_disk == referenced, f"unreferenced: {sorted(on_disk - referenced)}"


def test_shipped_meshes_are_small():
    total = sum(p.stat().st_size for p in (SHIPPED / "meshes").iterdir())
    assert total < 20 * 1024 * 1024, f"{total / 1e6:.1f} MB"


def test_visual_meshes_are_watertight_volumes():
    """As any tool reads them: trimesh's default load merges coincident vertices."""
    problems = []
    for s in SHIPPED_SPECS:
        mesh = trimesh.load(s.visual, force="mesh")
        if not mesh.is_volume:
            degenerate = int((~mesh.nondegenerate_faces()).sum())
            problems.append(f"{s.name} (watertight {mesh.is_watertight}, {degenerate} degenerate faces)")
    assert not problems, f"visual meshes that are not closed volumes: {problems}"


def test_convex_flag_matches_the_mesh():
    for s in SHIPPED_SPECS:
        if s.shape == "mesh":
            assert s.convex == bool(trimesh.load(s.visual, force="mesh").is_convex), s.name


def test_some_irregular_objects_are_concave_with_several_hulls(catalogue):
    concave = [s for s in catalogue["irregular"] if not s.convex]
    assert concave, "no irregular object is concave"
    counts = {s.name: hull_count(s.collision) for s in concave}
    several = [name for name, n in counts.items() if n > 1]
    assert several, f"every concave irregular object collides as one convex hull: {counts}"


def test_convex_objects_collide_as_one_hull():
    for s in SHIPPED_SPECS:
        if s.shape == "mesh" and s.convex:
            assert hull_count(s.collision) == 1, s.name


# -- 4. regeneration gives the same geometry --------------------------------------------------------------------
# Byte equality would tie the shipped files to one trimesh / numpy release: a newer release may pick another
# (equally valid) principal frame for an object with a symmetric cross-section, or round a last digit
# differently. What must not change is the geometry itself (docs/decisions.md, "Reproducible installs").
SIZE_TOLERANCE_M = 2.5e-4
"""Bounding-box extents of a polygonal cross-section depend on its rotation about the long axis."""
VERTEX_TOLERANCE_M = 1e-6


def _obj_geometry(path: Path) -> tuple[int, np.ndarray, int, float]:
    """Object-group count, sorted vertex distances from the origin (m; invariant under the principal
    frame's rotation about the centre of mass), face count and enclosed volume (m^3) of an OBJ file."""
    text = path.read_text().splitlines()
    vertices = np.array([[float(x) for x in line.split()[1:4]] for line in text if line.startswith("v ")])
    faces = sum(line.startswith("f ") for line in text)
    groups = sum(line.startswith("o ") for line in text)
    volume = trimesh.load(path, force="mesh", process=False).volume
    return groups, np.sort(np.linalg.norm(vertices, axis=1)), faces, volume


def _same_catalogue_entry(produced: dict, shipped: dict) -> list[str]:
    """The fields of two catalogue entries that differ beyond the tolerances (names of the fields)."""
    wrong = []
    for key, want in shipped.items():
        got = produced.get(key)
        if key == "size":
            ok = np.allclose(got, want, rtol=0, atol=SIZE_TOLERANCE_M)
        elif isinstance(want, (int, float, list)) and not isinstance(want, bool):
            ok = np.allclose(got, want, rtol=1e-6, atol=1e-12)
        else:
            ok = got == want
        if not ok:
            wrong.append(f"{shipped['name']}.{key}: {got!r} != {want!r}")
    return wrong


@pytest.mark.slow
def test_generate_reproduces_the_shipped_geometry(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # generate.py puts the repository on sys.path
    spec = importlib.util.spec_from_file_location("dexndm_objects_generate", ROOT / "objects" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "generated"
    assert module.generate(out) == out / "catalogue.json"
    produced = json.loads((out / "catalogue.json").read_text())
    shipped = json.loads((SHIPPED / "catalogue.json").read_text())
    assert {k: v for k, v in produced.items() if k != "objects"} == {k: v for k, v in shipped.items() if k != "objects"}
    assert [o["name"] for o in produced["objects"]] == [o["name"] for o in shipped["objects"]]
    wrong = [w for p, s in zip(produced["objects"], shipped["objects"]) for w in _same_catalogue_entry(p, s)]
    assert not wrong, f"regenerated catalogue differs from the shipped one: {wrong}"
    names = sorted(p.name for p in (SHIPPED / "meshes").iterdir())
    assert sorted(p.name for p in (out / "meshes").iterdir()) == names
    for name in names:
        g1, r1, f1, v1 = _obj_geometry(out / "meshes" / name)
        g2, r2, f2, v2 = _obj_geometry(SHIPPED / "meshes" / name)
        assert (g1, f1, len(r1)) == (g2, f2, len(r2)), f"{name}: different mesh structure"
        assert np.abs(r1 - r2).max() <= VERTEX_TOLERANCE_M, f"{name}: vertices moved"
        assert v1 == pytest.approx(v2, rel=1e-6), f"{name}: volume changed"


def test_geometry_comparison_notices_a_changed_object(tmp_path):
    shipped = json.loads((SHIPPED / "catalogue.json").read_text())["objects"][0]
    grown = {**shipped, "size": [x + 1e-3 for x in shipped["size"]]}
    assert _same_catalogue_entry(grown, shipped) and not _same_catalogue_entry(dict(shipped), shipped)
    mesh = next(p for p in sorted((SHIPPED / "meshes").iterdir()) if not p.name.endswith("_collision.obj"))
    moved = tmp_path / mesh.name
    lines = mesh.read_text().splitlines()
    stretched = [f"v {float(line.split()[1]) * 1.01} {line.split(maxsplit=2)[2]}" if line.startswith("v ") else line
                 for line in lines]
    moved.write_text("\n".join(stretched) + "\n")
    assert np.abs(_obj_geometry(moved)[1] - _obj_geometry(mesh)[1]).max() > VERTEX_TOLERANCE_M


# -- 7. finding objects ------------------------------------------------------------------------------------------
def test_unknown_object_lists_the_categories():
    with pytest.raises(ValueError, match="unknown object 'nope'") as e:
        objects.get_object("nope")
    assert all(c in str(e.value) for c in CATEGORIES)


def test_unknown_category_lists_the_categories():
    with pytest.raises(ValueError, match="unknown object category 'nope'") as e:
        objects.list_objects("nope")
    assert all(c in str(e.value) for c in CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES)
def test_resolve_a_category_gives_all_of_it(category):
    pool = objects.resolve_objects(category)
    expected = [s.name for s in SHIPPED_SPECS if s.category == category]
    assert [s.name for s in pool] == expected
    assert [s.name for s in objects.list_objects(category)] == expected


def test_resolve_names_and_categories_without_duplicates():
    pool = objects.resolve_objects(["duck", "animal", "cylinder_d55_ar20", "duck"])
    names = [s.name for s in pool]
    assert len(names) == len(set(names))
    assert set(names) == {s.name for s in SHIPPED_SPECS if s.category == "animal"} | {"cylinder_d55_ar20"}
    assert [s.name for s in objects.resolve_objects("duck")] == ["duck"]
    with pytest.raises(ValueError, match="empty"):
        objects.resolve_objects([])
    with pytest.raises(ValueError, match="unknown object"):
        objects.resolve_objects(["duck", "nope"])


@pytest.mark.slow
def test_env_samples_different_animals_across_resets(env_factory):
    env = env_factory(object="animal", wrist="palm_up",
                      grasp_config=GraspConfig(num_grasps=4, max_candidates=100))
    animals = {s.name for s in SHIPPED_SPECS if s.category == "animal"}
    assert {s.name for s in env.unwrapped.objects} == animals
    seen = []
    for seed in range(8):
        _, info = env.reset(seed=seed)
        seen.append(info["object"])
    assert set(seen) <= animals
    assert len(set(seen)) > 1, seen
    # the same seed draws the same object
    assert env.reset(seed=3)[1]["object"] == seen[3]

