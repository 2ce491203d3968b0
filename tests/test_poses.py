"""Wrist orientations and rotation axes."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_envs import poses
from dexndm_envs.rotations import quat_to_matrix

X, Y, Z = np.eye(3)
PALM_NORMAL = -Z  # the grasping side of the palm faces -z of the palm frame
FINGERS = X
THUMB = Y

# wrist -> list of (palm-frame direction, expected world direction)
WRIST_FACTS = {
    "palm_up": [(PALM_NORMAL, Z), (FINGERS, X)],
    "palm_down": [(PALM_NORMAL, -Z), (FINGERS, X)],
    "thumb_up": [(THUMB, Z), (FINGERS, X)],
    "thumb_down": [(THUMB, -Z), (FINGERS, X)],
    "base_up": [(FINGERS, -Z)],
    "base_down": [(FINGERS, Z)],
}


def test_six_wrists():
    assert set(poses.WRISTS) == {"palm_up", "palm_down", "base_up", "base_down", "thumb_up", "thumb_down"}
    assert set(poses.WRIST_CHOICES) == set(poses.WRISTS) | {"random"}


@pytest.mark.parametrize("name", sorted(WRIST_FACTS))
def test_wrist_quaternion_is_unit(name):
    q = np.asarray(poses.WRISTS[name])
    assert q.shape == (4,)
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", sorted(WRIST_FACTS))
def test_wrist_orientation_points_the_hand_as_named(name):
    rot = quat_to_matrix(poses.WRISTS[name])
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    for local, world in WRIST_FACTS[name]:
        np.testing.assert_allclose(rot @ local, world, atol=1e-9, err_msg=f"{name}: palm-frame {local}")


def test_wrists_are_distinct():
    mats = [quat_to_matrix(q) for q in poses.WRISTS.values()]
    for i in range(len(mats)):
        for j in range(i + 1, len(mats)):
            assert not np.allclose(mats[i], mats[j], atol=1e-6)


# -- axes -------------------------------------------------------------------------------------------------
def test_axis_directions_shape_and_unit():
    axes = poses.axis_directions()
    assert axes.shape == (32, 3)
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0, atol=1e-9)


def test_first_six_axes_are_principal():
    axes = poses.axis_directions()
    np.testing.assert_allclose(axes[:6], [X, -X, Y, -Y, Z, -Z], atol=1e-12)
    for name, vec in zip(("+x", "-x", "+y", "-y", "+z", "-z"), axes[:6]):
        np.testing.assert_allclose(poses.NAMED_AXES[name], vec)


def test_axis_directions_are_spread_out():
    axes = poses.axis_directions()
    cos = np.clip(axes @ axes.T, -1.0, 1.0)
    np.fill_diagonal(cos, -1.0)
    min_angle = np.degrees(np.arccos(cos.max()))
    assert min_angle > 30.0


def test_axis_directions_cover_the_sphere():
    rng = np.random.default_rng(12345)
    samples = rng.normal(size=(20000, 3))
    samples /= np.linalg.norm(samples, axis=1, keepdims=True)
    nearest = np.max(samples @ poses.axis_directions().T, axis=1)
    worst = np.degrees(np.arccos(np.clip(nearest.min(), -1.0, 1.0)))
    assert worst < 30.0


def test_axis_directions_are_deterministic():
    poses.axis_directions.cache_clear()
    first = poses.axis_directions().copy()
    poses.axis_directions.cache_clear()
    np.testing.assert_array_equal(poses.axis_directions(), first)


def test_general_axes_are_the_non_principal_ones():
    general = poses.general_axes()
    assert general.shape == (26, 3)
    np.testing.assert_array_equal(general, poses.axis_directions()[6:])
    # none of them is a principal axis
    assert np.max(np.abs(general)) < 1.0 - 1e-3


def test_sample_axis():
    rng = np.random.default_rng(0)
    general = poses.general_axes()
    for _ in range(20):
        a = poses.sample_axis("general", rng)
        assert np.min(np.linalg.norm(general - a, axis=1)) < 1e-12
        r = poses.sample_axis("random", rng)
        assert np.linalg.norm(r) == pytest.approx(1.0)
    v = np.array([0.0, 0.6, 0.8])
    np.testing.assert_array_equal(poses.sample_axis(v, rng), v)


# -- parsing ----------------------------------------------------------------------------------------------
def test_parse_wrist_names_and_quaternions():
    for name in poses.WRIST_CHOICES:
        assert poses.parse_wrist(name) == name
    q = poses.parse_wrist([0.0, 0.0, 0.0, 2.0])
    np.testing.assert_allclose(q, [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("bad", ["palm_sideways", "PALM_UP", ""])
def test_parse_wrist_unknown_name_lists_allowed(bad):
    with pytest.raises(ValueError) as err:
        poses.parse_wrist(bad)
    message = str(err.value)
    assert repr(bad) in message or bad in message
    for name in poses.WRIST_CHOICES:
        assert name in message


@pytest.mark.parametrize("bad", [[0, 0, 0, 0], [1, 2, 3], [np.nan, 0, 0, 1]])
def test_parse_wrist_bad_quaternion(bad):
    with pytest.raises(ValueError):
        poses.parse_wrist(bad)


def test_parse_axis_names_and_vectors():
    np.testing.assert_array_equal(poses.parse_axis("-y"), -Y)
    assert poses.parse_axis("random") == "random"
    assert poses.parse_axis("general") == "general"
    np.testing.assert_allclose(poses.parse_axis([0.0, 3.0, 4.0]), [0.0, 0.6, 0.8])
    # the returned named axis is a copy: mutating it does not change the table
    a = poses.parse_axis("+z")
    a[:] = 0.0
    np.testing.assert_array_equal(poses.NAMED_AXES["+z"], Z)


@pytest.mark.parametrize("bad", ["z", "+w", "vertical"])
def test_parse_axis_unknown_name_lists_allowed(bad):
    with pytest.raises(ValueError) as err:
        poses.parse_axis(bad)
    message = str(err.value)
    for name in poses.AXIS_CHOICES:
        assert name in message


@pytest.mark.parametrize("bad", [[0, 0, 0], [1, 0], [np.inf, 0, 0]])
def test_parse_axis_bad_vector(bad):
    with pytest.raises(ValueError):
        poses.parse_axis(bad)
