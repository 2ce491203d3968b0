"""The sim/real contract (``dexndm_envs.interface``), run against the simulated env and the virtual hand alike.

One set of tests, two hands in two engines: ``DexNDM/LeapRotate-v0`` with the ``leap_xc330`` gap, and
``DexNDM/LeapRotateReal-v0`` driving the virtual LEAP hand (real-time physics behind a serial line,
with its tracker), each in PyBullet and in MuJoCo (the ``mujoco`` extra). Both must offer the same
spaces, the same timing (after ``reset`` the history holds
``(q_0, target_{-1})``; ``step(a)`` returns ``(q_{t+1}, target_t)`` as the newest pair with
``target_t = clip(target_{t-1} + a / 24, limits)``), the same target-correction semantics and the
:class:`~dexndm_envs.interface.RotationEnv` members.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest

from dexndm_envs import interface
from dexndm_envs.gap import DEFAULT_HAND
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS, ticks_to_urdf, urdf_to_ticks
from dexndm_envs.interface import HISTORY_STEPS, PROPRIO_LAYOUT, RotationEnv
from dexndm_envs.metrics import METRIC_KEYS

SCENE = dict(object="cylinder_d55_ar20", wrist="palm_up")
ACTION = np.tile(np.array([1.0, -1.0, 0.5, -0.25], dtype=np.float32), NUM_JOINTS // 4)
"""Mixed signs and sizes, one value per joint."""


@dataclass
class Hand:
    """An env under test and, from outside it, the hand's joints and the motors' goals."""

    env: gym.Env
    joints: Callable[[], np.ndarray]
    """The joint angles now (rad, URDF, motor order), read past the env."""
    goals: Callable[[], np.ndarray] | None
    """The goal the motors hold (rad), read past the env; None where the env has no motors to ask."""
    q_tol: float
    """How far the env's reading may be from ``joints()``: encoder quantization and noise, and on the
    virtual hand the motion between the env's read and ours (its physics runs in real time)."""


def _sim(gap: str) -> Iterator[Hand]:
    env = gym.make("DexNDM/LeapRotate-v0", gap=gap, **SCENE)
    try:
        yield Hand(env, lambda: env.unwrapped.hand.joint_state()[0], None, q_tol=0.01)
    finally:
        env.close()


def _virtual_hand(gap: str) -> Iterator[Hand]:
    from real.emulator.virtual_hand import VirtualHand

    with VirtualHand(gap=gap, seed=0, **SCENE) as hand:
        env = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist=SCENE["wrist"],
                       tracker=hand.tracker_address)

        def registers(name: str) -> np.ndarray:
            with hand.lock:
                return ticks_to_urdf(hand.bus.get(name))

        try:
            yield Hand(env, lambda: registers("present_position"), lambda: registers("goal_position"), q_tol=0.03)
        finally:
            env.close()


@pytest.fixture(scope="module", params=["sim", "virtual_hand", "mujoco_sim", "mujoco_virtual_hand"])
def hand(request, warm_grasps, tmp_path_factory) -> Iterator[Hand]:
    mujoco, kind = request.param.startswith("mujoco_"), request.param.removeprefix("mujoco_")
    gap = {"sim": "leap_xc330", "virtual_hand": DEFAULT_HAND}[kind]  # the virtual hand's default: the identified servo
    if mujoco:  # the same hand in MuJoCo
        pytest.importorskip("mujoco")
        path = tmp_path_factory.mktemp("gap") / f"mujoco_{gap}.json"
        path.write_text(json.dumps({"extends": gap, "simulator": "mujoco"}))
        gap = str(path)
    yield from {"sim": _sim, "virtual_hand": _virtual_hand}[kind](gap)


def _history(obs: np.ndarray) -> np.ndarray:
    """(T, 2, 16): per entry, oldest first, the reading q and the policy target."""
    return obs[PROPRIO_LAYOUT["history"]].reshape(HISTORY_STEPS, 2, NUM_JOINTS)


def test_spaces_are_the_interfaces(hand):
    assert hand.env.action_space == interface.action_space()
    assert hand.env.observation_space == interface.proprio_space()


def test_reset_fills_the_history_with_the_first_reading_and_the_starting_target(hand):
    obs, _ = hand.env.reset(seed=0)
    base = hand.env.unwrapped
    assert isinstance(base, RotationEnv)
    assert obs.shape == hand.env.observation_space.shape and obs.dtype == np.float32
    history = _history(obs)
    assert (history == history[-1]).all(), "every entry is the pair (q_0, target_{-1})"
    np.testing.assert_array_equal(history[-1, 1], base.target.astype(np.float32))
    np.testing.assert_allclose(history[-1, 0], hand.joints(), atol=hand.q_tol)
    np.testing.assert_array_equal(base.target_correction, np.zeros(NUM_JOINTS))
    np.testing.assert_array_equal(base.executed_target(), base.target)
    np.testing.assert_array_equal(obs[PROPRIO_LAYOUT["wrist_quat"]], np.asarray(base.wrist_quat, np.float32))
    np.testing.assert_array_equal(obs[PROPRIO_LAYOUT["axis"]], np.asarray(base.axis, np.float32))
    assert abs(np.linalg.norm(base.axis) - 1.0) < 1e-6 and abs(np.linalg.norm(base.wrist_quat) - 1.0) < 1e-6


def test_step_returns_the_new_reading_with_the_target_that_produced_it(hand):
    obs, _ = hand.env.reset(seed=0)
    base = hand.env.unwrapped
    for sign in (1.0, -1.0, 1.0):
        previous, before = base.target.copy(), _history(obs).copy()
        obs, _, _, _, info = hand.env.step(sign * ACTION)
        expected = np.clip(previous + sign * ACTION.astype(np.float64) / 24.0, LOWER_LIMITS, UPPER_LIMITS)
        np.testing.assert_allclose(base.target, expected, rtol=0, atol=1e-12)
        history = _history(obs)
        np.testing.assert_array_equal(history[:-1], before[1:])  # one step older
        np.testing.assert_array_equal(history[-1, 1], expected.astype(np.float32))
        np.testing.assert_allclose(history[-1, 0], hand.joints(), atol=hand.q_tol)
        np.testing.assert_allclose(info["policy_target"], expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(info["target"], base.executed_target())
        np.testing.assert_allclose(info["target"], expected, rtol=0, atol=1e-12)


def test_a_target_correction_moves_the_motors_but_not_the_observed_target(hand):
    hand.env.reset(seed=0)
    base = hand.env.unwrapped
    correction = np.zeros(NUM_JOINTS)
    correction[0], correction[1] = 0.05, 10.0  # joint 1 is corrected past its upper limit
    base.set_target_correction(correction)
    np.testing.assert_array_equal(base.target_correction, correction)
    obs, _, _, _, info = hand.env.step(ACTION)
    executed = np.clip(base.target + correction, LOWER_LIMITS, UPPER_LIMITS)
    assert executed[1] == UPPER_LIMITS[1]
    np.testing.assert_array_equal(base.executed_target(), executed)
    np.testing.assert_array_equal(info["target"], executed)
    np.testing.assert_array_equal(info["policy_target"], base.target)
    np.testing.assert_array_equal(interface.latest_target(obs), base.target.astype(np.float32))
    assert not np.allclose(interface.latest_target(obs), executed)
    if hand.goals is not None:  # the motors hold the corrected target, to the tick
        np.testing.assert_array_equal(urdf_to_ticks(hand.goals()), urdf_to_ticks(executed))
    with pytest.raises(ValueError, match="16 finite radians"):
        base.set_target_correction(np.full(NUM_JOINTS, np.nan))
    hand.env.reset(seed=0)
    np.testing.assert_array_equal(base.target_correction, np.zeros(NUM_JOINTS))
    np.testing.assert_array_equal(base.executed_target(), base.target)


def test_object_pose_and_episode_metrics(hand):
    hand.env.reset(seed=0)
    base = hand.env.unwrapped
    for _ in range(3):
        hand.env.step(np.zeros(NUM_JOINTS, np.float32))
    pose = base.object_pose()
    assert pose is not None, "the object is observed: simulated, or seen by the virtual hand's tracker"
    position, quaternion = pose
    assert np.shape(position) == (3,) and np.shape(quaternion) == (4,)
    assert abs(np.linalg.norm(quaternion) - 1.0) < 1e-6
    metrics = base.episode_metrics()
    assert set(METRIC_KEYS) <= set(metrics) and metrics["steps"] == 3
