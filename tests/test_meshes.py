"""Importing user meshes (objects.import_mesh, dexndm_envs.meshes): a concave mesh end to end into
the user catalogue and the env, clear errors for bad files, repair of small holes.

Every test points ``$DEXNDM_USER_OBJECTS`` at a temporary folder, so ``~/.local`` is never touched.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import hull_count, l_shape_mm, make_env
from trimesh import creation

from dexndm_envs import meshes, objects

SHIPPED_CATALOGUE = Path(str(resources.files("dexndm_objects"))) / "catalogue.json"
L_NAME = "test_l_bracket"


def write_mesh(mesh: trimesh.Trimesh, path: Path) -> Path:
    mesh.export(path)
    return path


def box_mesh(extents=(0.05, 0.04, 0.03)) -> trimesh.Trimesh:
    return creation.box(extents=extents)


def without_faces(mesh: trimesh.Trimesh, faces: list[int]) -> trimesh.Trimesh:
    keep = np.setdiff1d(np.arange(len(mesh.faces)), faces)
    return trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False)


def user_catalogue_names(root: Path) -> list[str]:
    return [e["name"] for e in json.loads((root / "catalogue.json").read_text())["objects"]]


# -- 5. a concave mesh end to end ---------------------------------------------------------------------------
def test_import_l_shape_end_to_end(l_stl, user_objects):
    shipped_before = SHIPPED_CATALOGUE.read_bytes()
    shipped_meshes_before = sorted(p.name for p in (SHIPPED_CATALOGUE.parent / "meshes").iterdir())

    spec = objects.import_mesh(l_stl, L_NAME, scale=0.001)

    assert spec.name == L_NAME and spec.source == "user" and spec.category == "user"
    assert spec.shape == "mesh" and spec.convex is False
    assert list(spec.size) == sorted(spec.size, reverse=True)
    assert spec.size[2] == pytest.approx(0.015, abs=1e-5)  # the thickness is the thinnest principal extent
    assert 0.06 <= spec.size[0] <= 0.08  # the L's longest principal extent (diagonal-ish), in metres
    volume = (60 * 20 + 20 * 25) * 15 * 1e-9
    assert spec.mass == pytest.approx(meshes.DENSITY * volume, rel=1e-3)
    assert spec.inertia is not None and all(x > 0 for x in spec.inertia)
    a, b, c = sorted(spec.inertia)
    assert a + b >= c
    assert spec.visual.is_file() and spec.collision.is_file()
    assert user_objects in spec.visual.parents and user_objects in spec.collision.parents
    assert trimesh.load(spec.visual, force="mesh", process=False).is_volume

    # the user catalogue lists it, the shipped one is untouched, and the catalogue API sees it
    assert user_catalogue_names(user_objects) == [L_NAME]
    assert not list(user_objects.rglob("*.tmp")), "atomic writes left temporary files"
    assert SHIPPED_CATALOGUE.read_bytes() == shipped_before
    assert sorted(p.name for p in (SHIPPED_CATALOGUE.parent / "meshes").iterdir()) == shipped_meshes_before
    assert objects.get_object(L_NAME) == spec
    assert [s.name for s in objects.list_objects("user")] == [L_NAME]
    assert len(objects.list_objects()) == 81

    # the env grasps it (grasps are generated on the first reset) and steps
    env = make_env(object=L_NAME, wrist="palm_up")
    try:
        obs, info = env.reset(seed=0)
        assert info["object"] == L_NAME
        assert env.unwrapped.objects[0].source == "user"
        for _ in range(20):
            obs, reward, terminated, truncated, info = env.step(np.zeros(16, dtype=np.float32))
            assert np.all(np.isfinite(obs)) and np.isfinite(reward)
            assert not terminated, "the L fell out of the hand with zero actions"
    finally:
        env.close()


def test_concave_mesh_collides_as_several_convex_hulls(l_stl):
    """V-HACD splits the L into parts; the collision OBJ keeps one object group per hull."""
    prepared = meshes.prepare_mesh(meshes.load_and_repair(l_stl, 0.001))
    assert not prepared.convex
    hulls = meshes.convex_hulls(prepared)
    assert len(hulls) > 1, "the concave L is collided as a single convex hull (its inner corner filled in)"
    assert all(h.is_convex for h in hulls)
    hull_volume = sum(h.volume for h in hulls)
    assert hull_volume < 0.95 * prepared.mesh.convex_hull.volume


def test_imported_concave_mesh_has_several_hulls(l_stl):
    spec = objects.import_mesh(l_stl, L_NAME, scale=0.001)
    assert hull_count(spec.collision) > 1


def test_import_with_a_given_mass(l_stl):
    light = objects.import_mesh(l_stl, "l_light", scale=0.001)
    heavy = objects.import_mesh(l_stl, "l_heavy", scale=0.001, mass=0.05)
    assert heavy.mass == pytest.approx(0.05)
    np.testing.assert_allclose(np.array(heavy.inertia) / np.array(light.inertia), 0.05 / light.mass, rtol=1e-4)
    assert heavy.size == light.size


def test_repairable_box_with_one_missing_triangle_imports(tmp_path, user_objects):
    path = write_mesh(without_faces(box_mesh(), [0]), tmp_path / "holey_box.stl")
    assert not trimesh.load(path, force="mesh").is_watertight
    spec = objects.import_mesh(path, "repaired_box")
    assert spec.convex and spec.shape == "mesh"
    np.testing.assert_allclose(spec.size, (0.05, 0.04, 0.03), atol=1e-6)
    assert spec.mass == pytest.approx(meshes.DENSITY * 0.05 * 0.04 * 0.03, rel=1e-4)
    assert trimesh.load(spec.visual, force="mesh").is_volume
    assert hull_count(spec.collision) == 1
    assert user_catalogue_names(user_objects) == ["repaired_box"]


def test_principal_frame_of_an_off_centre_rotated_box():
    box = box_mesh((0.03, 0.06, 0.02))
    box.apply_transform(trimesh.transformations.rotation_matrix(0.7, [1.0, 2.0, 3.0]))
    box.apply_translation((0.1, -0.2, 0.3))
    moved, moments = meshes.to_principal_frame(box)
    np.testing.assert_allclose(moved.center_mass, 0.0, atol=1e-12)
    np.testing.assert_allclose(moved.extents, (0.06, 0.03, 0.02), atol=1e-9)
    m = (0.06 * 0.03 * 0.02)
    expected = m / 12 * np.array([0.03**2 + 0.02**2, 0.06**2 + 0.02**2, 0.06**2 + 0.03**2])
    np.testing.assert_allclose(moments, expected, rtol=1e-6)


# -- 6. bad meshes: a ValueError saying what is wrong, and nothing written -------------------------------------
def flat_square(path: Path) -> Path:
    square = trimesh.Trimesh([[0, 0, 0], [0.05, 0, 0], [0.05, 0.05, 0], [0, 0.05, 0]], [[0, 1, 2], [0, 2, 3]],
                             process=False)
    return write_mesh(square, path)


def open_box(path: Path) -> Path:
    """A box missing three of its six sides: the hole is too big to fill."""
    return write_mesh(without_faces(box_mesh(), [0, 1, 2, 3, 4, 5]), path)


def text_file(path: Path) -> Path:
    path.write_text("these are not the triangles you are looking for\n")
    return path


BAD_FILES = {
    "missing": (lambda d: d / "nowhere.stl", {}, "no such file"),
    "text_txt": (lambda d: text_file(d / "notes.txt"), {}, "not a mesh"),
    "text_stl": (lambda d: text_file(d / "notes.stl"), {}, "not a mesh"),
    "text_obj": (lambda d: text_file(d / "notes.obj"), {}, "not a mesh"),
    "flat": (lambda d: flat_square(d / "flat.stl"), {}, "zero volume"),
    "open": (lambda d: open_box(d / "open_box.stl"), {}, "not a closed surface"),
    "too_big": (lambda d: write_mesh(l_shape_mm(), d / "l_mm.stl"), {}, "--scale 0.001"),
    "too_small": (lambda d: write_mesh(box_mesh((0.005,) * 3), d / "tiny.stl"), {}, "1.5-25 cm"),
    "zero_scale": (lambda d: write_mesh(box_mesh(), d / "box.stl"), {"scale": 0.0}, "scale must be a positive"),
    "bad_mass": (lambda d: write_mesh(box_mesh(), d / "box.stl"), {"mass": -1.0}, "mass must be a positive"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_mesh_gives_a_clear_error(case, tmp_path, user_objects):
    make, kwargs, message = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(ValueError, match=re.escape(message)) as e:
        objects.import_mesh(path, f"bad_{case}", **kwargs)
    if case not in ("zero_scale", "bad_mass"):
        assert path.name in str(e.value), "the error should name the file"
    assert not user_objects.exists() or not any(user_objects.rglob("*")), "a failed import wrote files"
    with pytest.raises(ValueError):
        objects.get_object(f"bad_{case}")


def test_too_big_says_how_big_and_the_allowed_range(tmp_path):
    path = write_mesh(l_shape_mm(), tmp_path / "l_mm.stl")
    with pytest.raises(ValueError) as e:
        objects.import_mesh(path, "l_mm")
    assert "6e+03 cm" in str(e.value) and "1.5-25 cm" in str(e.value)


def test_too_small_gives_the_allowed_range(tmp_path):
    path = write_mesh(box_mesh((0.005,) * 3), tmp_path / "tiny.stl")
    with pytest.raises(ValueError) as e:
        objects.import_mesh(path, "tiny")
    assert "0.5 cm" in str(e.value) and "1.5-25 cm" in str(e.value)


def test_shipped_name_is_taken(l_stl, user_objects):
    with pytest.raises(ValueError, match="'cow' is taken"):
        objects.import_mesh(l_stl, "cow", scale=0.001)
    assert not user_objects.exists()


def test_duplicate_user_name(l_stl, user_objects):
    objects.import_mesh(l_stl, L_NAME, scale=0.001)
    before = (user_objects / "catalogue.json").read_bytes()
    with pytest.raises(ValueError, match=f"'{L_NAME}' is already in the user catalogue"):
        objects.import_mesh(l_stl, L_NAME, scale=0.001)
    assert (user_objects / "catalogue.json").read_bytes() == before


@pytest.mark.parametrize("name", ["my object", "", "a/b", "duck!", "../up"])
def test_bad_name(l_stl, name, user_objects):
    with pytest.raises(ValueError, match="must use only letters, digits"):
        objects.import_mesh(l_stl, name, scale=0.001)
    assert not user_objects.exists()


def test_malformed_user_catalogue_names_the_file(user_objects):
    user_objects.mkdir(parents=True)
    (user_objects / "catalogue.json").write_text("{not json")
    with pytest.raises(ValueError, match="catalogue.json is unreadable or malformed"):
        objects.list_objects()
