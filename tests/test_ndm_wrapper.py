"""NDMCorrection around the PyBullet env, the envs' target correction, and recording episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import make_env

from dexndm_envs import interface
from dexndm_envs.dynamics.checkpoint import save_checkpoint
from dexndm_envs.dynamics.dataset import EpisodeDataset, EpisodeWriter
from dexndm_envs.dynamics.recording import record_episode
from dexndm_envs.dynamics.residual import RESIDUAL_FORMAT, MLPResidual, ResidualPolicy
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS
from dexndm_envs.wrappers import NDMCorrection

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 15
SEED = 5
W = 10
# a known correction per joint, some large enough to hit the joint limits from the grasp's targets
KNOWN = np.array([0.05, -0.05, 0.08, -0.02, 0.0, 0.03, -0.08, 0.01, 0.05, -0.05, 0.08, -0.02, 0.09, 0.03, -0.09, 0.01])


def constant_residual(correction: np.ndarray = KNOWN, max_correction: float = 0.1) -> ResidualPolicy:
    """A residual whose output is ``correction`` whatever its input: zero last-layer weights, bias atanh."""
    residual = MLPResidual(W, hidden=8, max_correction=max_correction)
    with torch.no_grad():
        residual.net[-1].bias.copy_(torch.as_tensor(np.arctanh(correction / max_correction)))
    residual.eval()
    return residual


def actions(steps: int = STEPS, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (steps, NUM_JOINTS)).astype(np.float32)


def run(env: gym.Env, acts: np.ndarray, seed: int = SEED):
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    for a in acts:
        obs, reward, terminated, truncated, info = env.step(a)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        assert not (terminated or truncated)
    return np.array(observations), np.array(rewards), infos


def history(observations: np.ndarray) -> np.ndarray:
    """[T+1, 10, 2, 16]: the (q, target) pairs in each observation."""
    return observations[:, interface.PROPRIO_LAYOUT["history"]].reshape(len(observations), 10, 2, NUM_JOINTS)


@pytest.fixture
def gap_env(warm_grasps):
    envs = []

    def factory():
        envs.append(make_env(gap="leap_xc330"))
        return envs[-1]

    yield factory
    for e in envs:
        e.close()


def test_constant_residual_is_known():
    c = constant_residual().correct(np.zeros((W, NUM_JOINTS)), np.ones((W, NUM_JOINTS)))
    np.testing.assert_allclose(c, KNOWN, atol=1e-6)


# pushes joints 6 and 13 past their limits from the grasp's targets (0.26 and 0.34 rad away)
BEYOND = np.zeros(NUM_JOINTS)
BEYOND[[6, 13]] = 0.6, -0.6


@pytest.mark.parametrize("correction, bound", [(KNOWN, 0.1), (BEYOND, 1.0)], ids=["small", "beyond-limits"])
def test_executed_target_is_the_corrected_policy_target(gap_env, correction, bound):
    env = NDMCorrection(gap_env(), constant_residual(correction, bound))
    _, _, infos = run(env, actions())
    clipped = 0
    for info in infos:
        np.testing.assert_allclose(info["correction"], correction, atol=1e-6)
        expected = np.clip(info["policy_target"] + info["correction"], LOWER_LIMITS, UPPER_LIMITS)
        np.testing.assert_array_equal(info["target"], expected)
        clipped += int(np.sum(expected != info["policy_target"] + info["correction"]))
    assert not np.array_equal(infos[-1]["target"], infos[-1]["policy_target"])
    if bound == 0.1:
        assert clipped == 0
    else:  # joints 6 and 13 are held at their limits
        assert clipped >= len(infos)


def test_observations_keep_the_policy_targets(gap_env):
    acts = actions()
    plain_obs, _, plain_infos = run(gap_env(), acts)
    wrapped_obs, _, wrapped_infos = run(NDMCorrection(gap_env(), constant_residual()), acts)
    plain_h, wrapped_h = history(plain_obs), history(wrapped_obs)
    np.testing.assert_array_equal(wrapped_h[:, :, 1], plain_h[:, :, 1])  # the targets the policy sees
    for t, info in enumerate(wrapped_infos):
        np.testing.assert_array_equal(wrapped_h[t + 1, -1, 1], info["policy_target"].astype(np.float32))
        np.testing.assert_array_equal(info["policy_target"], plain_infos[t]["policy_target"])
    q_diff = np.abs(wrapped_h[-1, :, 0] - plain_h[-1, :, 0]).max()
    assert q_diff > 0.01, f"the correction barely moved the joints ({q_diff} rad)"  # the hand moved differently


def test_spaces_are_unchanged(gap_env):
    env = gap_env()
    wrapped = NDMCorrection(env, constant_residual())
    assert wrapped.observation_space == env.observation_space
    assert wrapped.action_space == env.action_space


def test_zero_residual_reproduces_the_env(gap_env):
    acts = actions()
    plain_obs, plain_rew, plain_infos = run(gap_env(), acts)
    torch.manual_seed(0)
    wrapped_obs, wrapped_rew, wrapped_infos = run(NDMCorrection(gap_env(), MLPResidual(W, hidden=8)), acts)
    np.testing.assert_array_equal(wrapped_obs, plain_obs)
    np.testing.assert_array_equal(wrapped_rew, plain_rew)
    for a, b in zip(plain_infos, wrapped_infos):
        np.testing.assert_array_equal(a["target"], b["target"])
        assert np.array_equal(b["correction"], np.zeros(NUM_JOINTS))


class RecordingResidual(MLPResidual):
    """Any-input residual that remembers the windows it was given."""

    def __init__(self):
        super().__init__(W, hidden=8, max_correction=0.1)
        torch.manual_seed(1)
        for p in self.net.parameters():
            torch.nn.init.normal_(p, std=0.3)
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def correct(self, q_hist, target_hist):
        self.seen.append((q_hist.copy(), target_hist.copy()))
        return super().correct(q_hist, target_hist)


def test_the_residual_sees_the_readings_and_the_policy_targets(gap_env):
    residual = RecordingResidual()
    env = NDMCorrection(gap_env(), residual)
    obs, _ = env.reset(seed=SEED)
    q = [interface.latest_joint_positions(obs)]
    policy_targets = []
    for a in actions(12):
        obs, _, _, _, info = env.step(a)
        policy_targets.append(info["policy_target"])
        q.append(interface.latest_joint_positions(obs))
        assert np.any(info["correction"] != 0)
    assert len(residual.seen) == 12
    padded_q = [q[0]] * (W - 1) + q
    # padded as the training windows are (dexndm_envs.dynamics.transitions): with the first step's target
    padded_targets = [policy_targets[0]] * (W - 1) + policy_targets
    for t, (q_hist, target_hist) in enumerate(residual.seen):
        # step t: the readings q_{t-W+1..t} and the policy targets target_{t-W+1..t}, the newest about to be executed
        np.testing.assert_array_equal(q_hist, np.array(padded_q[t:t + W]))
        np.testing.assert_array_equal(target_hist, np.array(padded_targets[t:t + W]))


def test_reset_starts_the_residual_history_afresh(gap_env):
    env = NDMCorrection(gap_env(), RecordingResidual())
    acts = actions(8)
    first = run(env, acts)
    second = run(env, acts)  # the same seed again, after an episode that filled the buffers
    np.testing.assert_array_equal(first[0], second[0])
    for a, b in zip(first[2], second[2]):
        np.testing.assert_array_equal(a["correction"], b["correction"])


def test_wrapper_loads_a_residual_checkpoint(gap_env, tmp_path):
    residual = constant_residual()
    path = save_checkpoint(tmp_path / "res.pt", RESIDUAL_FORMAT, residual, residual.kind, residual.config())
    acts = actions(5)
    from_file = run(NDMCorrection(gap_env(), path), acts)
    from_memory = run(NDMCorrection(gap_env(), residual), acts)
    np.testing.assert_array_equal(from_file[0], from_memory[0])


@pytest.mark.parametrize("bad", [np.full(NUM_JOINTS, np.nan), np.r_[np.zeros(15), np.inf], np.zeros(15),
                                 np.zeros((2, NUM_JOINTS)), 0.1])
def test_set_target_correction_rejects_bad_corrections(gap_env, bad):
    env = gap_env().unwrapped
    env.reset(seed=SEED)
    with pytest.raises(ValueError, match="16 finite radians"):
        env.set_target_correction(bad)
    np.testing.assert_array_equal(env.target_correction, np.zeros(NUM_JOINTS))  # unchanged


def test_correction_is_cleared_by_reset(gap_env):
    env = gap_env()
    env.reset(seed=SEED)
    env.unwrapped.set_target_correction(KNOWN)
    _, _, _, _, info = env.step(np.zeros(NUM_JOINTS, np.float32))
    np.testing.assert_array_equal(info["target"], interface.executed_target(info["policy_target"], KNOWN))
    env.reset(seed=SEED)
    _, _, _, _, info = env.step(np.zeros(NUM_JOINTS, np.float32))
    np.testing.assert_array_equal(info["target"], info["policy_target"])


class NotLeap(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (3,))
    action_space = gym.spaces.Box(-1, 1, (16,))


def test_wrapper_needs_a_leap_env():
    with pytest.raises(TypeError, match="set_target_correction.*NotLeap"):
        NDMCorrection(NotLeap(), constant_residual())


class StatelessLeap(NotLeap):
    """RotationEnv's methods, but a reset that sets none of its state (target, axis ...)."""

    def reset(self, *, seed=None, options=None):
        return np.zeros(3, np.float32), {}

    def set_target_correction(self, correction): ...
    def executed_target(self): ...
    def episode_metrics(self): ...
    def object_pose(self): ...


def test_wrapper_checks_the_rotation_env_state_after_reset():
    env = NDMCorrection(StatelessLeap(), constant_residual())  # the state may come with the first reset
    with pytest.raises(TypeError, match="RotationEnv.*StatelessLeap lacks axis, target, target_correction, wrist_quat"):
        env.reset(seed=0)


# -- recording ----------------------------------------------------------------------------------------------
def test_record_episode_and_write_it(warm_grasps, tmp_path):
    env = make_env()
    try:
        acts = iter(actions(20, seed=3))
        ep = record_episode(env, lambda obs: next(acts), 20, seed=SEED)
    finally:
        env.close()
    assert ep["q"].shape == (21, NUM_JOINTS) and ep["targets"].shape == (20, NUM_JOINTS)
    assert ep["actions"].shape == (20, NUM_JOINTS) and ep["timestamps"].shape == (21,)
    assert not ep["terminated"]
    np.testing.assert_allclose(np.diff(ep["timestamps"]), 0.05, rtol=1e-9)
    assert ep["timestamps"][0] == 0.0
    np.testing.assert_array_equal(ep["targets"][-1], ep["last_info"]["target"])
    # the targets follow the actions: target_t = clip(target_{t-1} + a_t / 24)
    np.testing.assert_allclose(ep["targets"][1:], np.clip(ep["targets"][:-1] + ep["actions"][1:] / 24.0,
                                                          LOWER_LIMITS, UPPER_LIMITS), atol=1e-12)
    meta = {"source": "sim", "wrist": "palm_up", "object": ep["reset_info"]["object"], "gap": None,
            "policy": "random", "control_period_s": 0.05, "seed": SEED}
    EpisodeWriter(tmp_path).write(ep["q"], ep["targets"], ep["timestamps"], meta, actions=ep["actions"])
    back = EpisodeDataset(tmp_path)[0]
    np.testing.assert_array_equal(back["q"], ep["q"].astype(np.float32))
    np.testing.assert_array_equal(back["targets"], ep["targets"].astype(np.float32))
    assert back["meta"]["object"] == ep["reset_info"]["object"]


def test_record_episode_with_the_wrapper_records_executed_targets(gap_env):
    env = NDMCorrection(gap_env(), constant_residual())
    ep = record_episode(env, lambda obs: np.zeros(NUM_JOINTS, np.float32), 5, seed=SEED)
    np.testing.assert_array_equal(ep["targets"][-1], ep["last_info"]["target"])
    assert not np.array_equal(ep["targets"][-1], ep["last_info"]["policy_target"])


def test_the_wrapper_corrects_the_real_env_on_the_virtual_hand(warm_grasps):
    """NDMCorrection wraps LeapRotateReal like the sim env: the motors get the policy's target plus the
    correction (the Goal Position registers say so), the observation keeps the policy's targets."""
    from dexndm_envs.hand import ticks_to_urdf
    from real.emulator.virtual_hand import VirtualHand

    with VirtualHand(wrist="palm_down") as hand:
        env = NDMCorrection(gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_down"),
                            constant_residual())
        try:
            obs, _ = env.reset(seed=0)
            for a in actions(5):
                obs, _, _, _, info = env.step(a)
            executed = np.clip(info["policy_target"] + KNOWN, LOWER_LIMITS, UPPER_LIMITS)
            np.testing.assert_allclose(info["target"], executed)
            with hand.lock:
                goals = np.array([hand.bus.tables[i].get("goal_position") for i in range(NUM_JOINTS)])
            np.testing.assert_allclose(ticks_to_urdf(goals), executed, atol=2 * np.pi / 4096)
            np.testing.assert_allclose(interface.latest_target(obs), info["policy_target"], atol=1e-6)
            assert env.observation_space == gym.make("DexNDM/LeapRotate-v0").observation_space
        finally:
            env.close()


def test_step_before_reset_is_a_clear_error(gap_env):
    env = NDMCorrection(gap_env(), constant_residual())
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(NUM_JOINTS, np.float32))
