"""Rot, TTF, RotR and RotP (dexndm_envs.metrics) on exact inputs."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_envs import metrics
from dexndm_envs.metrics import EpisodeMetrics, off_axis_speed, rotation_about_axis, rotation_reward
from dexndm_envs.rotations import quat_multiply, rotvec_to_quat

Z = np.array([0.0, 0.0, 1.0])
X = np.array([1.0, 0.0, 0.0])
START = rotvec_to_quat(np.array([0.3, -1.1, 0.7]))  # a generic orientation


def turn(quat, rotvec):
    """Rotate an orientation by a world-frame rotation vector."""
    return quat_multiply(rotvec_to_quat(np.asarray(rotvec, dtype=np.float64)), quat)


def test_episode_constants():
    assert metrics.CONTROL_HZ == 20
    assert metrics.EPISODE_STEPS == 400
    assert metrics.EPISODE_SECONDS == pytest.approx(20.0)


@pytest.mark.parametrize("angle", [0.3, -0.3, 1.2, 3.0])
def test_rotation_about_axis_known_rotation(angle):
    axis = np.array([1.0, 2.0, -2.0]) / 3.0
    after = turn(START, angle * axis)
    assert rotation_about_axis(START, after, axis) == pytest.approx(angle, abs=1e-9)
    assert rotation_about_axis(START, after, -axis) == pytest.approx(-angle, abs=1e-9)


def test_rotation_about_axis_is_in_the_world_frame_and_projects():
    # A world-frame turn about z from a tilted orientation counts fully about z and not about x.
    after = turn(START, 0.4 * Z)
    assert rotation_about_axis(START, after, Z) == pytest.approx(0.4, abs=1e-9)
    assert rotation_about_axis(START, after, X) == pytest.approx(0.0, abs=1e-9)
    # A turn about a tilted axis u counts angle * (u . k).
    u = np.array([np.sin(0.5), 0.0, np.cos(0.5)])
    after = turn(START, 0.2 * u)
    assert rotation_about_axis(START, after, Z) == pytest.approx(0.2 * np.cos(0.5), abs=1e-9)


def test_rotation_about_axis_ignores_quaternion_sign():
    after = turn(START, 0.25 * Z)
    assert rotation_about_axis(START, -after, Z) == pytest.approx(0.25, abs=1e-9)
    assert rotation_about_axis(-START, after, Z) == pytest.approx(0.25, abs=1e-9)


def test_rot_accumulates_beyond_half_a_turn():
    m = EpisodeMetrics(Z)
    m.reset(START)
    q = START
    for _ in range(100):  # 100 x 0.05 rad = 5 rad, past pi
        q = turn(q, 0.05 * Z)
        info = m.update(q, 1.0 * Z)
        assert info["rot_step"] == pytest.approx(0.05, abs=1e-9)
    assert m.summary()["rot_rad"] == pytest.approx(5.0, abs=1e-8)
    assert info["rot"] == pytest.approx(5.0, abs=1e-8)


def test_rot_is_signed():
    m = EpisodeMetrics(Z)
    m.reset(START)
    q = START
    for _ in range(10):
        q = turn(q, 0.05 * Z)
        m.update(q, Z)
    for _ in range(4):
        q = turn(q, -0.05 * Z)
        m.update(q, -Z)
    assert m.summary()["rot_rad"] == pytest.approx(0.3, abs=1e-9)


def _run(m: EpisodeMetrics, steps: int, fall_step: int | None = None):
    m.reset(START)
    for k in range(1, steps + 1):
        m.update(START, np.zeros(3), fell=fall_step is not None and k >= fall_step)
    return m.summary()


def test_ttf_fall_at_step_k():
    s = _run(EpisodeMetrics(Z), steps=150, fall_step=120)
    assert s["ttf_s"] == pytest.approx(120 / 20)
    assert s["ttf"] == pytest.approx(120 / 400)
    assert s["steps"] == 150


def test_ttf_first_fall_counts():
    m = EpisodeMetrics(Z)
    m.reset(START)
    for k in range(1, 50):
        m.update(START, np.zeros(3), fell=k in (10, 30))
    assert m.summary()["ttf_s"] == pytest.approx(10 / 20)


def test_ttf_no_fall_full_episode():
    s = _run(EpisodeMetrics(Z), steps=400)
    assert s["ttf_s"] == pytest.approx(20.0)
    assert s["ttf"] == pytest.approx(1.0)


def test_ttf_no_fall_partial_episode_scores_time_run():
    s = _run(EpisodeMetrics(Z), steps=100)
    assert s["ttf_s"] == pytest.approx(5.0)
    assert s["ttf"] == pytest.approx(0.25)


def test_ttf_custom_rate_and_length():
    s = _run(EpisodeMetrics(Z, control_hz=10, episode_steps=50), steps=50, fall_step=5)
    assert s["ttf_s"] == pytest.approx(0.5)
    assert s["ttf"] == pytest.approx(0.1)


def test_rotation_reward_and_off_axis_speed():
    assert rotation_reward(np.array([0.0, 0.0, 0.2]), Z) == pytest.approx(0.2)
    assert rotation_reward(np.array([0.0, 0.0, 3.0]), Z) == pytest.approx(0.5)
    assert rotation_reward(np.array([0.0, 0.0, -3.0]), Z) == pytest.approx(-0.5)
    assert rotation_reward(np.array([0.0, 0.0, 3.0]), Z, clip=1.0) == pytest.approx(1.0)
    assert off_axis_speed(np.array([0.3, 0.4, 5.0]), Z) == pytest.approx(0.5)
    assert off_axis_speed(np.array([0.0, 0.0, 5.0]), Z) == pytest.approx(0.0)


def test_rotr_is_the_episode_sum_of_clipped_rewards():
    m = EpisodeMetrics(Z)
    m.reset(START)
    for w in (0.2, 1.0, -2.0, 0.4):
        info = m.update(START, np.array([0.7, 0.0, w]))
    # 0.2 + 0.5 - 0.5 + 0.4
    assert m.summary()["rotr"] == pytest.approx(0.6)
    assert info["rotr"] == pytest.approx(0.6)
    assert info["rotr_step"] == pytest.approx(0.4)


def test_rotp_is_the_mean_off_axis_speed():
    m = EpisodeMetrics(Z)
    m.reset(START)
    for w in ([0.3, 0.4, 1.0], [0.0, 1.0, -2.0], [0.0, 0.0, 0.5], [0.6, 0.8, 0.0]):
        info = m.update(START, np.array(w))
    # (0.5 + 1.0 + 0 + 1.0) / 4
    assert m.summary()["rotp"] == pytest.approx(0.625)
    assert info["rotp_step"] == pytest.approx(1.0)


def test_reset_clears_the_episode():
    m = EpisodeMetrics(Z)
    m.reset(START)
    m.update(turn(START, 0.1 * Z), np.array([1.0, 1.0, 1.0]), fell=True)
    m.reset(START)
    s = m.summary()
    assert s["rot_rad"] == 0.0 and s["rotr"] == 0.0 and s["rotp"] == 0.0 and s["steps"] == 0
    assert m.fell_at is None


def test_summary_keys():
    s = _run(EpisodeMetrics(Z), steps=3)
    assert set(s) == {"rot_rad", "ttf_s", "ttf", "rotr", "rotp", "steps"}
