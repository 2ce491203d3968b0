"""A PPO residual over a searched gait (``dexndm train --residual-over``): the wrapper, training, loading."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from conftest import OBJECT
from test_gait_warm_start import gait_file, tiny_config  # noqa: F401  (the fixture and the helper)

from baselines import cli
from baselines.distill import read_teacher, rollouts
from baselines.policy import PolicySource, load_policy
from baselines.residual_gait import DEFAULT_SCALE, GaitResidualWrapper, rescale_residual_policy
from dexndm_envs.interface import ACTION_SCALE, PROPRIO_DIM, latest_target

KWARGS = {"object": OBJECT, "wrist": "palm_up", "axis": "+z", "obs_mode": "privileged"}


def test_a_zero_residual_is_the_gait(warm_grasps, gait_file):  # noqa: F811
    gait = load_policy(str(gait_file))
    plain = gym.make("DexNDM/LeapRotate-v0", **KWARGS)
    wrapped = GaitResidualWrapper(gym.make("DexNDM/LeapRotate-v0", **KWARGS), gait_file)
    try:
        obs, _ = plain.reset(seed=2)
        wobs, _ = wrapped.reset(seed=2)
        gait.reset(None)
        assert wobs.shape == (obs.size + 2,) and wrapped.observation_space.contains(wobs)
        for _ in range(30):
            obs, *_ = plain.step(gait(obs))
            wobs, *_ = wrapped.step(np.zeros(16))
            # the gait's targets, up to the float32 targets the wrapper reads back (contact amplifies
            # that rounding in the readings a little)
            np.testing.assert_allclose(latest_target(wobs), latest_target(obs), atol=1e-5)
            np.testing.assert_allclose(wobs[:PROPRIO_DIM], obs[:PROPRIO_DIM], atol=1e-2)
        # the phase features go round once per gait period
        period = gait.period
        np.testing.assert_allclose(wobs[-2:], [np.sin(2 * np.pi * 31 / period), np.cos(2 * np.pi * 31 / period)],
                                   atol=1e-6)
    finally:
        plain.close()
        wrapped.close()


def test_the_residual_bends_the_targets_by_at_most_its_scale(warm_grasps, gait_file):  # noqa: F811
    wrapped = GaitResidualWrapper(gym.make("DexNDM/LeapRotate-v0", **KWARGS), gait_file)
    zero = GaitResidualWrapper(gym.make("DexNDM/LeapRotate-v0", **KWARGS), gait_file)
    try:
        wrapped.reset(seed=1)
        zero.reset(seed=1)
        for _ in range(40):  # a constant residual: the targets settle scale rad from the gait's (inside limits)
            obs, *_ = wrapped.step(np.ones(16))
            zobs, *_ = zero.step(np.zeros(16))
        shift = latest_target(obs) - latest_target(zobs)
        assert np.all(shift <= DEFAULT_SCALE + 1e-6) and np.all(shift >= -ACTION_SCALE)  # float32 readings
        assert np.median(shift) > 0.8 * DEFAULT_SCALE
        with pytest.raises(ValueError, match="finite"):
            wrapped.step(np.full(16, np.nan))
    finally:
        wrapped.close()
        zero.close()


def test_a_trained_residual_runs_with_its_gait_anywhere_a_policy_does(warm_grasps, gait_file, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    cli.main(["train", "--env-kwargs", json.dumps(KWARGS), "--steps", "64", "--n-envs", "1", "--out", str(out),
              "--residual-over", str(gait_file), "--residual-scale", "0.1", "--config", str(tiny_config(tmp_path))])
    record = json.loads((out / "train.json").read_text())
    assert record["residual"] == {"gait": "gait.json", "scale": 0.1}
    assert (out / "gait.json").read_text() == gait_file.read_text()  # the run holds its own copy
    policy = PolicySource(out / "model.zip")
    assert policy.residual is not None and policy.residual.scale == 0.1
    # on the plain env the loaded policy does what the wrapped env did with the model's residual
    plain = gym.make("DexNDM/LeapRotate-v0", **KWARGS)
    try:
        obs, _ = plain.reset(seed=4)
        policy.reset(None)
        targets = []
        for _ in range(20):
            obs, *_ = plain.step(policy(obs))
            targets.append(latest_target(obs))
        policy.reset(None)  # a new episode restarts the gait: the same seed gives the same targets
        obs, _ = plain.reset(seed=4)
        for t in range(20):
            obs, *_ = plain.step(policy(obs))
            np.testing.assert_array_equal(latest_target(obs), targets[t])
    finally:
        plain.close()
    # as a distillation teacher it restarts its gait every episode: episode 2 of one call labels like
    # episode 1 of a fresh teacher given the same episode seeds
    teacher = {**read_teacher(out / "model.zip"), "source": policy}
    both = rollouts(teacher, None, 2, seed=7, steps=15, progress=False)
    again = rollouts({**teacher, "source": PolicySource(out / "model.zip")}, None, 2, seed=7, steps=15, progress=False)
    np.testing.assert_array_equal(both[1]["labels"], again[1]["labels"])
    with pytest.raises(SystemExit, match="cannot be combined with --resume"):
        cli.main(["train", "--env-kwargs", json.dumps(KWARGS), "--out", str(out), "--resume",
                  "--residual-over", str(gait_file)])


def test_resuming_with_a_new_residual_scale_keeps_what_the_policy_does(warm_grasps, gait_file, tmp_path):  # noqa: F811
    """The rescaled policy moves the gait's targets as before (same actions on the same episode, the same
    exploration in radians); resumed with --residual-scale, the run records and runs with the new scale."""
    out = tmp_path / "run"
    train = ["train", "--env-kwargs", json.dumps(KWARGS), "--steps", "64", "--n-envs", "1", "--out", str(out),
             "--config", str(tiny_config(tmp_path))]
    cli.main([*train, "--residual-over", str(gait_file), "--residual-scale", "0.1"])
    before, after = PolicySource(out / "model.zip"), PolicySource(out / "model.zip")
    rescale_residual_policy(after.model, 0.1, 0.3)
    after.residual.scale = 0.3
    np.testing.assert_allclose(0.3 * np.exp(after.model.policy.log_std.detach().numpy()),
                               0.1 * np.exp(before.model.policy.log_std.detach().numpy()), rtol=1e-6)
    env = gym.make("DexNDM/LeapRotate-v0", **KWARGS)
    try:
        actions = []
        for policy in (before, after):
            obs, _ = env.reset(seed=2)
            policy.reset(None)
            actions.append([])
            for _ in range(10):
                actions[-1].append(policy(obs))
                obs, *_ = env.step(actions[-1][-1])
        np.testing.assert_allclose(actions[1], actions[0], atol=1e-5)
    finally:
        env.close()
    cli.main([*train, "--resume", "--residual-scale", "0.3"])
    assert json.loads((out / "train.json").read_text())["residual"] == {"gait": "gait.json", "scale": 0.3}
    assert PolicySource(out / "model.zip").residual.scale == 0.3
    with pytest.raises(SystemExit, match="--residual-scale is the authority of a residual over a gait"):
        cli.main(["train", "--out", str(tmp_path / "plain"), "--residual-scale", "0.3"])


def test_only_a_gaussian_policy_with_positive_scales_is_rescaled():
    from types import SimpleNamespace

    squashed = SimpleNamespace(policy=SimpleNamespace(actor=None))  # SAC-like: no action_net, no log_std
    with pytest.raises(ValueError, match="only a Gaussian \\(PPO\\) residual policy"):
        rescale_residual_policy(squashed, 0.2, 0.4)
    with pytest.raises(ValueError, match="positive numbers of radians"):
        rescale_residual_policy(squashed, 0.2, 0.0)


def test_a_bad_residual_gait_or_scale_is_a_clear_error(tmp_path, gait_file):  # noqa: F811
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SystemExit, match="not a gait file"):
        cli.main(["train", "--out", str(tmp_path / "a"), "--residual-over", str(bad)])
    with pytest.raises(SystemExit, match="positive number of radians"):
        cli.main(["train", "--out", str(tmp_path / "b"), "--residual-over", str(gait_file), "--residual-scale", "-1"])


@pytest.mark.slow
def test_residual_over_search_searches_the_gait_first_then_trains_over_it(warm_grasps, tmp_path):
    """The oracle recipe in one call: the gait is searched on the training env (here a tiny search),
    saved as gait.json beside the model, named in the run record, and the model runs with it."""
    from baselines.train import train

    out = tmp_path / "oracle"
    tiny = {"generations": 1, "population": 2, "elite": 1, "episodes": 1, "steps": 8, "workers": 1}
    summary = train("DexNDM/LeapRotate-v0", KWARGS, out, config=tiny_config(tmp_path), steps=64, n_envs=1,
                    residual_over="search", gait_search=tiny, progress=False)
    gait = json.loads((out / "gait.json").read_text())
    assert gait["search"]["generations"] == 1 and len(gait["cos"]) == 16
    assert gait["env_kwargs"]["object"] == OBJECT and "obs_mode" not in gait["env_kwargs"]
    assert summary["residual"] == {"gait": "gait.json", "scale": DEFAULT_SCALE}
    policy = PolicySource(out / "model.zip")
    assert policy.residual is not None and policy.obs_mode == "privileged"
