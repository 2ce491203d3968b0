"""``MultiEnvSubprocVecEnv``: several envs per worker process, indistinguishable from SB3's vec envs."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import OBJECT
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.train import make_env
from baselines.vec_env import MultiEnvSubprocVecEnv

ENV = "DexNDM/LeapRotate-v0"
FACTORY = functools.partial(make_env, ENV, object=OBJECT, wrist="palm_up", fall_distance=0.004)


def run(vec, steps: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Seeded random actions for ``steps`` vec steps: observations, rewards, dones and the finished
    episodes' terminal observations (env index, step, observation)."""
    rng = np.random.default_rng(seed)
    vec.seed(seed)
    obs, rewards, dones, terminal = [vec.reset()], [], [], []
    for t in range(steps):
        o, r, d, infos = vec.step(rng.uniform(-1, 1, (vec.num_envs, 16)).astype(np.float32))
        obs.append(o)
        rewards.append(r)
        dones.append(d)
        terminal += [(i, t, info["terminal_observation"]) for i, info in enumerate(infos)
                     if "terminal_observation" in info]
    vec.close()
    return np.array(obs), np.array(rewards), np.array(dones), terminal


@pytest.mark.slow
def test_the_same_seed_gives_the_same_episodes_as_a_dummy_vec_env(warm_grasps):
    """Five envs in two workers (3 + 2) against five in this process: the same observations, rewards,
    auto-resets and terminal observations, step for step (a 4 mm fall distance makes episodes end)."""
    multi = run(make_vec_env(FACTORY, n_envs=5, vec_env_cls=MultiEnvSubprocVecEnv, vec_env_kwargs={"n_workers": 2}), 60)
    dummy = run(make_vec_env(FACTORY, n_envs=5, vec_env_cls=DummyVecEnv), 60)
    for a, b in zip(multi[:3], dummy[:3]):
        np.testing.assert_array_equal(a, b)
    assert multi[2].any(), "some episodes should have ended and been reset"
    assert [(i, t) for i, t, _ in multi[3]] == [(i, t) for i, t, _ in dummy[3]]
    for (_, _, a), (_, _, b) in zip(multi[3], dummy[3]):
        np.testing.assert_array_equal(a, b)


def test_attributes_and_methods_reach_the_right_env(warm_grasps):
    factories = [functools.partial(FACTORY, pose_penalty_weight=0.1 * i) for i in range(3)]
    vec = MultiEnvSubprocVecEnv(factories, n_workers=2)
    try:
        assert vec.n_workers == 2 and vec.num_envs == 3
        assert vec.get_attr("pose_penalty_weight") == pytest.approx([0.0, 0.1, 0.2])
        assert vec.get_attr("pose_penalty_weight", indices=[2, 0]) == pytest.approx([0.2, 0.0])
        vec.set_attr("pose_penalty_weight", 5.0, indices=[1, 2])
        assert vec.get_attr("pose_penalty_weight") == pytest.approx([0.0, 5.0, 5.0])
        vec.reset()
        vec.step(np.zeros((3, 16), np.float32))
        assert [m["steps"] for m in vec.env_method("episode_metrics", indices=[2, 1])] == [1, 1]
        assert vec.has_attr("objects") and not vec.has_attr("no_such_attribute")
    finally:
        vec.close()


@pytest.mark.parametrize("workers", [0, 4])
def test_a_bad_number_of_workers_is_refused(workers):
    with pytest.raises(ValueError, match="n_workers must be between 1 and the number of envs \\(3\\)"):
        MultiEnvSubprocVecEnv([FACTORY] * 3, n_workers=workers)
