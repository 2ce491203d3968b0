"""``DexNDM/LeapRotate-v0`` through gymnasium.make."""

from __future__ import annotations

import inspect
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import ENV_ID, OBJECT, make_env, rollout
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from dexndm_envs import interface, objects
from dexndm_envs.envs.leap_rotate_v0 import HAND_POSITION, REWARD_TERMS, LeapRotateEnv
from dexndm_envs.interface import PRIVILEGED_DIM, PRIVILEGED_LAYOUT, RotationEnv
from dexndm_envs.metrics import METRIC_KEYS
from dexndm_envs.poses import WRISTS, general_axes
from dexndm_envs.rotations import quat_multiply, quat_to_matrix, rotvec_to_quat

STEP_INFO_KEYS = {"rot", "rot_step", "rate_step", "rotr", "rotr_step", "rotp_step", "fell", "target", "policy_target",
                  *REWARD_TERMS}
DT = 1.0 / 20.0


@pytest.fixture(scope="module")
def env(warm_grasps):
    e = make_env(wrist="palm_up", axis="+z")
    yield e
    e.close()


# -- API conformance --------------------------------------------------------------------------------------
def test_registered_with_time_limit():
    spec = gym.spec(ENV_ID)
    assert spec.max_episode_steps == 400
    assert spec.entry_point == "dexndm_envs.envs.leap_rotate_v0:LeapRotateEnv"


@pytest.mark.parametrize("obs_mode", ["proprio", "privileged"])
def test_gymnasium_env_checker(env_factory, warm_grasps, obs_mode):
    env = env_factory(obs_mode=obs_mode)
    env.unwrapped.action_space.seed(0)  # the checker samples actions: keep the test deterministic
    with warnings.catch_warnings():
        # an unbounded Box observation space is intended (joint readings, velocities)
        warnings.filterwarnings("ignore", message=".*Box observation space (minimum|maximum) value.*")
        gym_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("obs_mode", ["proprio", "privileged"])
def test_sb3_env_checker(env_factory, warm_grasps, obs_mode):
    env = env_factory(obs_mode=obs_mode)
    env.unwrapped.action_space.seed(0)
    sb3_check_env(env.unwrapped, warn=True, skip_render_check=True)


@pytest.mark.parametrize("wrist", ["palm_down", "random"])
def test_implements_the_rotation_env_protocol(env_factory, warm_grasps, wrist):
    """LeapRotate is a RotationEnv (the sim/real contract), before its first reset too (wrappers check
    at construction), with the members meaning what the protocol says."""
    env = env_factory(wrist=wrist, axis="-y")
    u = env.unwrapped
    assert isinstance(u, RotationEnv) and interface.missing_members(u) == []
    np.testing.assert_array_equal(u.axis, [0.0, -1.0, 0.0])
    if wrist != "random":
        np.testing.assert_array_equal(u.wrist_quat, WRISTS[wrist])
    env.reset(seed=0)
    assert isinstance(u, RotationEnv)
    assert u.wrist_quat.shape == (4,) and np.isfinite(u.wrist_quat).all()
    correction = np.full(16, 0.01)
    u.set_target_correction(correction)
    _, _, _, _, info = env.step(np.zeros(16, np.float32))
    np.testing.assert_array_equal(u.executed_target(), info["target"])
    np.testing.assert_array_equal(u.executed_target(), interface.executed_target(u.target, correction))
    position, quat = u.object_pose()
    expected = u.world.body_pose(u.objects.body)
    np.testing.assert_array_equal(position, expected[0])  # world frame, m
    np.testing.assert_array_equal(quat, expected[1])  # xyzw
    assert set(METRIC_KEYS) <= set(u.episode_metrics())


@pytest.mark.parametrize("obs_mode, dim", [("proprio", 327), ("privileged", 364)])
def test_observation_shapes(env_factory, warm_grasps, obs_mode, dim):
    env = env_factory(obs_mode=obs_mode)
    assert env.observation_space.shape == (dim,)
    assert env.observation_space.dtype == np.float32
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (16,), dtype=np.float32)
    obs, info = env.reset(seed=0)
    assert obs.shape == (dim,) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    assert info["object"] == OBJECT and info["wrist"] == "palm_up"
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == (dim,) and obs.dtype == np.float32 and np.all(np.isfinite(obs))
    assert isinstance(reward, float) and np.isfinite(reward)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
    assert PRIVILEGED_DIM == 364


def test_privileged_observation_content(env_factory, warm_grasps):
    env = env_factory(obs_mode="privileged", wrist="palm_down")
    env.reset(seed=1)
    obs, *_ = env.step(np.zeros(16, np.float32))
    u = env.unwrapped
    body = u.objects.body
    pos, quat = u.world.body_pose(body)
    lin, ang = u.world.body_velocity(body)
    spec = objects.get_object(OBJECT)
    part = {name: obs[where] for name, where in PRIVILEGED_LAYOUT.items()}
    np.testing.assert_allclose(part["object_position"], pos - HAND_POSITION, atol=1e-6)
    np.testing.assert_allclose(part["object_quat"], quat, atol=1e-6)
    np.testing.assert_allclose(part["object_linvel"], lin, atol=1e-6)
    np.testing.assert_allclose(part["object_angvel"], ang, atol=1e-6)
    np.testing.assert_allclose(part["fingertip_positions"].reshape(4, 3), u.hand.fingertip_positions() - HAND_POSITION,
                               atol=1e-6)
    assert set(np.unique(part["fingertip_contacts"])) <= {0.0, 1.0}
    np.testing.assert_allclose([*part["object_mass"], *part["object_friction"]], [spec.mass, spec.friction],
                               rtol=1e-6)  # nominal: randomize off
    np.testing.assert_allclose(part["object_com"], 0.0)
    np.testing.assert_allclose(part["object_size"], spec.size, rtol=1e-6)
    # the proprioceptive part is the proprio observation
    np.testing.assert_allclose(obs[interface.PROPRIO_LAYOUT["wrist_quat"]], WRISTS["palm_down"], atol=1e-7)
    assert PRIVILEGED_LAYOUT["proprio"] == slice(0, interface.PROPRIO_DIM)
    assert PRIVILEGED_LAYOUT["object_size"].stop == PRIVILEGED_DIM == 364
    covered = np.concatenate([np.arange(PRIVILEGED_DIM)[where] for where in PRIVILEGED_LAYOUT.values()])
    np.testing.assert_array_equal(covered, np.arange(PRIVILEGED_DIM))  # consecutive, no gaps or overlaps


# -- determinism ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("randomize", [False, True])
def test_two_envs_same_seed_same_trajectory(env_factory, warm_grasps, randomize):
    obs_a, rew_a = rollout(env_factory(randomize=randomize), seed=7, steps=50)
    obs_b, rew_b = rollout(env_factory(randomize=randomize), seed=7, steps=50)
    assert len(rew_a) == 50
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)


def test_different_seeds_differ(env_factory, warm_grasps):
    env = env_factory(randomize=True)
    obs_a, _ = rollout(env, seed=1, steps=5)
    obs_b, _ = rollout(env, seed=2, steps=5)
    assert not np.array_equal(obs_a, obs_b)


@pytest.mark.parametrize("kwargs", [{}, {"randomize": True}, {"obs_mode": "privileged", "wrist": "palm_down"}],
                         ids=["nominal", "randomized", "privileged"])
def test_an_episode_does_not_depend_on_the_episodes_before_it(env_factory, warm_grasps, kwargs):
    """An env reset with a seed replays the episode a fresh env runs with it, whatever ran before
    (evaluation with fixed seeds, and episodes sharded over workers, depend on it). The privileged
    observation's fingertip contacts once came from the previous episode's last step."""
    fresh = rollout(env_factory(**kwargs), seed=5, steps=50)
    env = env_factory(**kwargs)
    for seed in (6, 11):
        env.reset(seed=seed)
        for _ in range(20):  # an episode that ends with the object held, fingertips on it
            env.step(np.zeros(16, np.float32))
        again = rollout(env, seed=5, steps=50)
        np.testing.assert_array_equal(fresh[0], again[0])
        np.testing.assert_array_equal(fresh[1], again[1])
    if kwargs.get("obs_mode") == "privileged":  # the first observation sees the grasp's contacts
        assert fresh[0][0][PRIVILEGED_LAYOUT["fingertip_contacts"]].sum() >= 2


def test_reset_observation_depends_only_on_seed(env_factory, warm_grasps):
    env = env_factory(obs_mode="privileged")
    obs_a, _ = env.reset(seed=0)
    for _ in range(10):
        env.step(np.zeros(16, np.float32))
    obs_b, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs_a, obs_b)


def test_env_that_generated_the_grasps_matches_one_that_loaded_them(env_factory, monkeypatch, tmp_path):
    """The first env on a machine (which generates the grasp cache) behaves like every later one."""
    monkeypatch.setenv("DEXNDM_CACHE", str(tmp_path))
    generated = rollout(env_factory(wrist="palm_down"), seed=3, steps=30)
    loaded = rollout(env_factory(wrist="palm_down"), seed=3, steps=30)
    np.testing.assert_array_equal(generated[0], loaded[0])
    np.testing.assert_array_equal(generated[1], loaded[1])


# -- argument validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, allowed", [
    ({"object": "unicorn"}, OBJECT),
    ({"object": ["cylinder_d55_ar20", "unicorn"]}, "cylinder"),
    ({"wrist": "sideways"}, "palm_up"),
    ({"axis": "+w"}, "+z"),
    ({"axis": "diagonal"}, "general"),
    ({"obs_mode": "pixels"}, "proprio"),
    ({"render_mode": "video"}, "rgb_array"),
    ({"actuator": "servo"}, "ideal_pd"),
])
@pytest.mark.filterwarnings("ignore:.*render_mode.*:UserWarning")
def test_unknown_names_raise_value_error_listing_allowed(dexndm_cache, kwargs, allowed):
    with pytest.raises(ValueError) as err:
        make_env(**kwargs)
    assert allowed in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_action_raises_and_commands_nothing(env, bad):
    env.reset(seed=0)
    u = env.unwrapped
    env.step(np.zeros(16, np.float32))
    target = u.target.copy()
    q, _ = u.hand.joint_state()
    pose = u.world.body_pose(u.objects.body)
    action = np.zeros(16, np.float32)
    action[3] = bad
    with pytest.raises(ValueError):
        env.step(action)
    np.testing.assert_array_equal(u.target, target)
    np.testing.assert_array_equal(u.hand.joint_state()[0], q)
    np.testing.assert_array_equal(u.world.body_pose(u.objects.body)[0], pose[0])
    env.step(np.zeros(16, np.float32))  # still usable


def test_wrong_action_shape_raises(env):
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(np.zeros(15, np.float32))


# -- axes -------------------------------------------------------------------------------------------------
def test_general_axis_is_one_of_the_26(env_factory, warm_grasps):
    env = env_factory(axis="general")
    seen = set()
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        index = int(np.argmin(np.linalg.norm(general_axes() - info["axis"], axis=1)))
        np.testing.assert_allclose(info["axis"], general_axes()[index], atol=1e-12)
        np.testing.assert_allclose(obs[interface.PROPRIO_LAYOUT["axis"]], info["axis"], atol=1e-7)
        seen.add(index)
    assert len(seen) > 1


def test_vector_axis_is_normalised(env_factory, warm_grasps):
    env = env_factory(axis=[0.0, 3.0, 4.0])
    obs, info = env.reset(seed=0)
    np.testing.assert_allclose(info["axis"], [0.0, 0.6, 0.8])
    np.testing.assert_allclose(obs[interface.PROPRIO_LAYOUT["axis"]], [0.0, 0.6, 0.8], atol=1e-7)


# -- rendering --------------------------------------------------------------------------------------------
def test_rgb_array_render(env_factory, warm_grasps):
    env = env_factory(render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert isinstance(image, np.ndarray)
    assert image.ndim == 3 and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0
    assert image.dtype == np.uint8
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) >= 10, "the image looks blank"
    assert image.std() > 5.0


def test_no_render_mode_warns_and_renders_nothing(env):
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="without specifying any render mode.*render_mode=.rgb_array"):
        assert env.render() is None


# -- info, reward, termination ----------------------------------------------------------------------------
def test_step_info_keys_and_reward_terms(env):
    env.reset(seed=2)
    u = env.unwrapped
    for _ in range(5):
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert STEP_INFO_KEYS <= set(info)
        assert isinstance(info["fell"], bool)
        assert reward == sum(info[key] for key in REWARD_TERMS)  # exactly: the reward is rebuilt from info
        assert info["reward_rotate"] == u.rotate_reward_weight * info["rotr_step"]
        for key in REWARD_TERMS[1:]:  # the penalties
            assert info[key] <= 0.0
        q = u.hand.joint_state()[0]
        assert info["reward_pose"] == -(u.pose_penalty_weight * float((q - u.q_init) @ (q - u.q_init)))


def test_reward_settings_are_attributes_under_their_argument_names(env_factory, warm_grasps):
    settings = dict(rotate_reward_weight=1.5, rotate_reward_clip=0.7, rotate_reward_rate="step_mean",
                    rotp_penalty_weight=0.2, linvel_penalty_weight=0.4, pose_penalty_weight=0.5,
                    work_penalty_weight=2.5, torque_penalty_weight=0.3, action_rate_penalty_weight=0.2,
                    fall_penalty_weight=10.0, overspeed_penalty_weight=0.5, unsteady_penalty_weight=0.25,
                    fall_distance=0.05)
    u = env_factory(**settings).unwrapped
    assert {name: getattr(u, name) for name in settings} == settings
    reward_arguments = [name for name in inspect.signature(LeapRotateEnv).parameters
                        if name.endswith(("_weight", "_clip", "_rate"))]
    assert sorted(reward_arguments) == sorted(k for k in settings if k != "fall_distance")


def test_reward_weights_are_used(env_factory, warm_grasps):
    env = env_factory(rotate_reward_weight=0.0, rotp_penalty_weight=0.0, linvel_penalty_weight=0.0,
                      pose_penalty_weight=1.0, work_penalty_weight=0.0, torque_penalty_weight=0.0)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.ones(16, np.float32))
    assert reward == info["reward_pose"]
    assert info["reward_pose"] < 0.0
    assert all(info[key] == 0.0 for key in REWARD_TERMS if key != "reward_pose")


def test_the_action_rate_term_charges_the_change_of_action(env_factory, warm_grasps):
    """-w |a_t - a_{t-1}|^2, with a_{-1} = 0 after every reset: a steady action costs nothing after its
    first step, a reversal costs four times its square."""
    env = env_factory(action_rate_penalty_weight=0.5)
    a = np.full(16, 0.25, np.float32)
    for _ in range(2):  # the second reset starts from a zero previous action again
        env.reset(seed=0)
        assert env.step(a)[4]["reward_action_rate"] == pytest.approx(-0.5 * 16 * 0.25**2)
    assert env.step(a)[4]["reward_action_rate"] == 0.0
    assert env.step(-a)[4]["reward_action_rate"] == pytest.approx(-0.5 * 16 * 0.5**2)


def test_the_fall_penalty_is_paid_once_on_the_step_the_object_falls(env_factory, warm_grasps):
    env = env_factory(fall_penalty_weight=10.0, wrist="palm_down")
    env.reset(seed=0)
    opening = -np.ones(16, np.float32)  # open every joint: palm down, the object drops out
    for _ in range(200):
        _, reward, terminated, _, info = env.step(opening)
        assert info["reward_fall"] == (-10.0 if terminated else 0.0)
        if terminated:
            break
    assert terminated and info["fell"], "the opened palm-down hand should drop the object"


def test_the_overspeed_term_charges_the_rate_the_clip_cuts_off(env_factory, warm_grasps):
    """-w |omega . k - clip(omega . k, -c, c)|: nothing for a turn slower than the clip, the excess either
    way for a faster one (a flick forward and its spring back both cost)."""
    env = env_factory(overspeed_penalty_weight=2.0, rotate_reward_clip=0.05)
    env.reset(seed=1)
    charged = 0
    for _ in range(20):
        _, _, _, _, info = env.step(env.action_space.sample())
        excess = abs(info["rate_step"]) - 0.05
        assert info["reward_overspeed"] == pytest.approx(-2.0 * max(excess, 0.0), abs=1e-12)
        assert info["rotr_step"] == pytest.approx(np.clip(info["rate_step"], -0.05, 0.05), abs=1e-12)
        charged += excess > 0
    assert charged > 0, "random actions should turn the object faster than 0.05 rad/s at some step"


def test_the_unsteady_term_charges_what_steadiness_loses(env_factory, warm_grasps):
    """-w |20 Hz d_theta - clip(omega . k, -c, c)|: the step's mean rate against the clipped rate RotR
    samples at its end; over an episode the charges add up to at least 20 Rot - RotR, the gap between a
    steady turn's RotR and this one's."""
    env = env_factory(unsteady_penalty_weight=2.0)
    env.reset(seed=1)
    charged = 0.0
    for _ in range(20):
        _, _, _, _, info = env.step(env.action_space.sample())
        want = 2.0 * abs(20 * info["rot_step"] - np.clip(info["rate_step"], -0.5, 0.5))
        assert info["reward_unsteady"] == pytest.approx(-want, abs=1e-12)
        charged += want / 2.0
    assert charged > 0.0, "random actions should not turn the object steadily"
    assert charged >= 20 * info["rot"] - info["rotr"] - 1e-9


def test_rotation_metrics_follow_the_object_velocity(env):
    env.reset(seed=1)
    u = env.unwrapped
    body = u.objects.body
    for _ in range(10):
        _, _, _, _, info = env.step(env.action_space.sample())
        _, ang = u.world.body_velocity(body)
        assert info["rate_step"] == pytest.approx(ang @ u.axis, abs=1e-12)
        assert info["rotr_step"] == pytest.approx(np.clip(ang @ u.axis, -0.5, 0.5), abs=1e-12)
        assert info["rotp_step"] == pytest.approx(np.linalg.norm(np.cross(ang, u.axis)), abs=1e-12)


def test_the_step_mean_rotation_reward_pays_the_rotation_rot_counts(env_factory):
    env = env_factory(rotate_reward_rate="step_mean", rotate_reward_clip=100.0, rotp_penalty_weight=0.0,
                      linvel_penalty_weight=0.0, pose_penalty_weight=0.0, work_penalty_weight=0.0,
                      torque_penalty_weight=0.0)
    env.reset(seed=1)
    paid = 0.0
    for _ in range(20):
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert reward == pytest.approx(info["rot_step"] * 20)  # rad per step x 20 Hz = mean rad/s
        paid += reward / 20
    assert paid == pytest.approx(info["rot"])
    with pytest.raises(ValueError, match="allowed: instant, step_mean"):
        env_factory(rotate_reward_rate="mean")


def test_dropping_the_object_terminates(env):
    env.reset(seed=0)
    u = env.unwrapped
    for _ in range(3):
        env.step(np.zeros(16, np.float32))
    body = u.objects.body
    pos, quat = u.world.body_pose(body)
    u.world.set_body_pose(body, pos + np.array([0.0, 0.0, 0.3]), quat)  # far out of the hand
    _, _, terminated, truncated, info = env.step(np.zeros(16, np.float32))
    assert terminated and not truncated
    assert info["fell"] is True
    summary = info["episode_metrics"]
    assert summary["ttf_s"] == pytest.approx(4 * DT)
    assert summary["steps"] == 4
    assert u.episode_metrics()["ttf_s"] == pytest.approx(4 * DT)


# -- the Rot metric, measured on a known motion -------------------------------------------------------------
def _matrix_rotvec(m: np.ndarray) -> np.ndarray:
    """Rotation vector of a (small-angle) rotation matrix, from the matrix (not from quaternions)."""
    angle = np.arccos(np.clip((np.trace(m) - 1.0) / 2.0, -1.0, 1.0))
    skew = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
    if angle < 1e-12:
        return skew / 2.0
    return angle * skew / (2.0 * np.sin(angle))


def _turn_each_step(env, seed: int, rate: float, steps: int, about=None):
    """Reset, pin the object (mass 0: physics no longer moves it) and, right before each env.step,
    teleport it by ``rate * dt`` about ``about`` (default: the env's axis) around its current
    position. Returns the step infos."""
    env.reset(seed=seed)
    u = env.unwrapped
    body = u.objects.body
    u.world.set_dynamics(body, mass=0.0)
    axis = u.axis if about is None else np.asarray(about, dtype=np.float64)
    infos = []
    for _ in range(steps):
        pos, quat = u.world.body_pose(body)
        u.world.set_body_pose(body, pos, quat_multiply(rotvec_to_quat(rate * DT * axis), quat))
        _, _, terminated, _, info = env.step(np.zeros(16, np.float32))
        assert not terminated
        infos.append(info)
    return infos


@pytest.mark.parametrize("wrist, axis", [("palm_up", "+z"), ("palm_down", "-y"), ("palm_up", "+x")])
@pytest.mark.parametrize("rate", [1.0, -1.0])
def test_rot_measures_a_known_rotation(env_factory, warm_grasps, wrist, axis, rate):
    env = env_factory(wrist=wrist, axis=axis)
    steps = 60  # 3 s at 1 rad/s: past pi
    infos = _turn_each_step(env, seed=4, rate=rate, steps=steps)
    true_angle = rate * DT * steps
    for info in infos:
        assert info["rot_step"] == pytest.approx(rate * DT, rel=0.02)
    assert infos[-1]["rot"] == pytest.approx(true_angle, rel=0.02)
    assert env.unwrapped.episode_metrics()["rot_rad"] == pytest.approx(true_angle, rel=0.02)
    assert env.unwrapped.episode_metrics()["steps"] == steps


def test_rot_ignores_rotation_about_other_axes(env_factory, warm_grasps):
    env = env_factory(wrist="palm_up", axis="+z")
    infos = _turn_each_step(env, seed=4, rate=1.0, steps=20, about=[1.0, 0.0, 0.0])
    assert abs(infos[-1]["rot"]) < 1e-6


def test_rot_of_a_free_object_matches_its_orientation_change(env):
    """With physics on, Rot over an episode equals the summed per-step turns of the object about the
    axis, measured independently from its poses."""
    env.reset(seed=3)
    u = env.unwrapped
    body = u.objects.body
    _, prev = u.world.body_pose(body)
    total = 0.0
    rng = np.random.default_rng(0)
    for _ in range(40):
        _, _, terminated, _, info = env.step(rng.uniform(-1, 1, 16).astype(np.float32))
        _, quat = u.world.body_pose(body)
        total += float(_matrix_rotvec(quat_to_matrix(quat) @ quat_to_matrix(prev).T) @ u.axis)
        prev = quat
        if terminated:
            break
    assert info["rot"] == pytest.approx(total, abs=1e-6)
