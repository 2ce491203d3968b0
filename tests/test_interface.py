"""Action semantics and the proprioceptive observation (dexndm_envs.interface), alone and in the env."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_env
from gymnasium import spaces

from dexndm_envs import hand, interface
from dexndm_envs.poses import WRISTS


def test_action_space():
    space = interface.action_space()
    assert isinstance(space, spaces.Box)
    assert space == spaces.Box(-1.0, 1.0, (16,), dtype=np.float32)
    assert space.dtype == np.float32
    np.testing.assert_array_equal(space.low, -1.0)
    np.testing.assert_array_equal(space.high, 1.0)


def test_proprio_layout_constants():
    assert interface.HISTORY_STEPS == 10
    assert interface.PROPRIO_DIM == 327
    layout = interface.PROPRIO_LAYOUT
    assert layout["history"] == slice(0, 320)
    assert layout["wrist_quat"] == slice(320, 324)
    assert layout["axis"] == slice(324, 327)
    assert interface.proprio_space().shape == (327,)
    assert interface.proprio_space().dtype == np.float32


def test_next_target_scales_by_one_24th():
    prev = np.full(16, 0.5)
    action = np.linspace(-1.0, 1.0, 16)
    np.testing.assert_allclose(interface.next_target(prev, action), prev + action / 24.0, atol=1e-15)
    assert interface.ACTION_SCALE == pytest.approx(1.0 / 24.0)


def test_next_target_clips_to_joint_limits():
    up = interface.next_target(hand.UPPER_LIMITS.copy(), np.ones(16))
    np.testing.assert_array_equal(up, hand.UPPER_LIMITS)
    down = interface.next_target(hand.LOWER_LIMITS.copy(), -np.ones(16))
    np.testing.assert_array_equal(down, hand.LOWER_LIMITS)
    # per joint, in motor order: only the joints pushed past their limit are clipped
    prev = hand.UPPER_LIMITS - 0.01
    action = np.zeros(16)
    action[[0, 13]] = 1.0
    out = interface.next_target(prev, action)
    expected = prev.copy()
    expected[[0, 13]] = hand.UPPER_LIMITS[[0, 13]]
    np.testing.assert_allclose(out, expected)


def test_validate_action_clips_and_returns_float64():
    a = interface.validate_action([2.0] + [-3.0] + [0.25] * 14)
    assert a.dtype == np.float64 and a.shape == (16,)
    assert a[0] == 1.0 and a[1] == -1.0 and a[2] == 0.25
    np.testing.assert_array_equal(interface.validate_action(np.zeros(16, np.float32)), 0.0)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_validate_action_rejects_non_finite(bad_value):
    a = np.zeros(16)
    a[5] = bad_value
    with pytest.raises(ValueError) as err:
        interface.validate_action(a)
    assert "5" in str(err.value)


@pytest.mark.parametrize("shape", [(15,), (17,), (1, 16), (16, 1), ()])
def test_validate_action_rejects_wrong_shape(shape):
    with pytest.raises(ValueError) as err:
        interface.validate_action(np.zeros(shape))
    assert "16" in str(err.value)


def test_proprio_history_layout_newest_last():
    hist = interface.ProprioHistory()
    q0, t0 = np.full(16, 0.1), np.full(16, 0.2)
    hist.reset(q0, t0)
    wrist = np.array([0.0, 0.0, 0.0, 1.0])
    axis = np.array([0.0, 0.0, 1.0])
    obs = hist.observation(wrist, axis)
    assert obs.dtype == np.float32 and obs.shape == (327,)
    entries = obs[interface.PROPRIO_LAYOUT["history"]].reshape(10, 2, 16)
    np.testing.assert_allclose(entries[:, 0], 0.1, rtol=1e-6)
    np.testing.assert_allclose(entries[:, 1], 0.2, rtol=1e-6)

    pairs = [(np.arange(16) + 100.0 * k, -np.arange(16) - 100.0 * k) for k in range(1, 4)]
    for q, t in pairs:
        hist.push(q, t)
    obs = hist.observation(wrist, axis)
    entries = obs[interface.PROPRIO_LAYOUT["history"]].reshape(10, 2, 16)
    for k, (q, t) in enumerate(reversed(pairs)):  # newest last
        np.testing.assert_array_equal(entries[-1 - k, 0], q.astype(np.float32))
        np.testing.assert_array_equal(entries[-1 - k, 1], t.astype(np.float32))
    np.testing.assert_allclose(entries[:-3, 0], 0.1, rtol=1e-6)
    np.testing.assert_allclose(entries[:-3, 1], 0.2, rtol=1e-6)
    # flat layout: entry i occupies [32 i, 32 i + 32), q first then target
    flat = obs[interface.PROPRIO_LAYOUT["history"]]
    np.testing.assert_array_equal(flat[-32:-16], pairs[-1][0].astype(np.float32))
    np.testing.assert_array_equal(flat[-16:], pairs[-1][1].astype(np.float32))
    np.testing.assert_array_equal(obs[interface.PROPRIO_LAYOUT["wrist_quat"]], wrist.astype(np.float32))
    np.testing.assert_array_equal(obs[interface.PROPRIO_LAYOUT["axis"]], axis.astype(np.float32))


def test_proprio_history_drops_the_oldest():
    hist = interface.ProprioHistory()
    hist.reset(np.zeros(16), np.zeros(16))
    for k in range(1, 13):
        hist.push(np.full(16, float(k)), np.full(16, -float(k)))
    entries = hist.observation(np.zeros(4), np.zeros(3))[interface.PROPRIO_LAYOUT["history"]].reshape(10, 2, 16)
    np.testing.assert_array_equal(entries[:, 0, 0], np.arange(3, 13, dtype=np.float32))
    np.testing.assert_array_equal(entries[:, 1, 0], -np.arange(3, 13, dtype=np.float32))


def test_observation_is_a_copy():
    hist = interface.ProprioHistory()
    hist.reset(np.zeros(16), np.zeros(16))
    obs = hist.observation(np.zeros(4), np.zeros(3))
    hist.push(np.ones(16), np.ones(16))
    assert np.all(obs[interface.PROPRIO_LAYOUT["history"]] == 0.0)


# -- the same semantics inside the env ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(warm_grasps):
    e = make_env(wrist="palm_down", axis="-x")
    yield e
    e.close()


def test_env_reset_history_and_tail(env):
    obs, info = env.reset(seed=3)
    u = env.unwrapped
    entries = obs[interface.PROPRIO_LAYOUT["history"]].reshape(10, 2, 16)
    q, _ = u.hand.joint_state()
    for k in range(10):
        np.testing.assert_array_equal(entries[k, 0], q.astype(np.float32))
        np.testing.assert_array_equal(entries[k, 1], u.target.astype(np.float32))
    np.testing.assert_allclose(obs[interface.PROPRIO_LAYOUT["wrist_quat"]], WRISTS["palm_down"], atol=1e-7)
    np.testing.assert_allclose(obs[interface.PROPRIO_LAYOUT["axis"]], [-1.0, 0.0, 0.0])
    np.testing.assert_allclose(info["axis"], [-1.0, 0.0, 0.0])
    assert info["wrist"] == "palm_down"


def test_env_step_applies_next_target_and_pushes_newest_pair(env):
    obs, _ = env.reset(seed=4)
    u = env.unwrapped
    rng = np.random.default_rng(7)
    previous = [obs[interface.PROPRIO_LAYOUT["history"]].reshape(10, 2, 16)]
    target = u.target.copy()
    for _ in range(12):
        action = rng.uniform(-1.5, 1.5, 16).astype(np.float32)  # out-of-range entries are clipped
        expected_target = interface.next_target(target, np.clip(action.astype(np.float64), -1.0, 1.0))
        obs, _, terminated, _, info = env.step(action)
        assert not terminated
        np.testing.assert_allclose(info["target"], expected_target, atol=1e-12)
        entries = obs[interface.PROPRIO_LAYOUT["history"]].reshape(10, 2, 16)
        q, _ = u.hand.joint_state()
        np.testing.assert_array_equal(entries[-1, 0], q.astype(np.float32))  # q_{t+1}
        np.testing.assert_array_equal(entries[-1, 1], expected_target.astype(np.float32))  # target_t
        np.testing.assert_array_equal(entries[:-1], previous[-1][1:])  # shifted by one
        previous.append(entries)
        target = expected_target
