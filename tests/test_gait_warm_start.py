"""The periodic gait (source and search) and cloning it into a new PPO model (``--warm-start``)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import OBJECT

from baselines import cli
from baselines.gait import PeriodicGaitSource
from baselines.gait_search import search
from baselines.policy import load_policy
from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import ACTION_SCALE, latest_target

KWARGS = {"object": OBJECT, "wrist": "palm_up", "axis": "+z"}


@pytest.fixture
def gait_file(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "gait.json"
    path.write_text(json.dumps({"period_steps": 12, "cos": rng.uniform(-0.2, 0.2, NUM_JOINTS).tolist(),
                                "sin": rng.uniform(-0.2, 0.2, NUM_JOINTS).tolist(),
                                "offset": rng.uniform(-0.1, 0.1, NUM_JOINTS).tolist()}))
    return path


def test_the_gait_is_periodic_in_the_targets(warm_grasps, gait_file):
    gait = load_policy(str(gait_file))
    assert isinstance(gait, PeriodicGaitSource)
    env = gym.make("DexNDM/LeapRotate-v0", **KWARGS)
    try:
        obs, _ = env.reset(seed=0)
        gait.reset(np.random.default_rng(0))
        targets = []
        for _ in range(48):
            action = gait(obs)
            assert action.shape == (NUM_JOINTS,) and np.all(np.abs(action) <= 1)
            obs, *_ = env.step(action)
            targets.append(latest_target(obs))
    finally:
        env.close()
    targets = np.array(targets)
    # after the first period (offset ramp done, any rate-limited catch-up over) the targets repeat
    np.testing.assert_allclose(targets[24:36], targets[36:48], atol=ACTION_SCALE * 1e-3)
    assert np.ptp(targets[24:], axis=0).max() > 0.1  # and they move


def test_bad_gait_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a gait file"):
        load_policy(str(bad))
    bad.write_text(json.dumps({"period_steps": 12, "cos": [0.0] * 3, "sin": [0.0] * 3, "offset": [0.0] * 3}))
    with pytest.raises(ValueError, match="cos and sin of 16 x harmonics values, offset of 16.*got harmonics 1, cos 3"):
        load_policy(str(bad))
    bad.write_text(json.dumps({"period_steps": 12, "harmonics": 2, "cos": [0.0] * 16, "sin": [0.0] * 32,
                               "offset": [0.0] * 16}))
    with pytest.raises(ValueError, match="got harmonics 2, cos 16, sin 32"):
        load_policy(str(bad))
    with pytest.raises(ValueError, match=r"\(2 H \+ 1\) x 16 parameters for H >= 1 harmonics; got 32"):
        PeriodicGaitSource.from_params(12, np.zeros(32))
    bad.write_text(json.dumps({"period_steps": 12, "cos": [float("nan")] * 16, "sin": [0.0] * 16,
                               "offset": [0.0] * 16}))
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_policy(str(bad))
    with pytest.raises(ValueError, match="1 <= elite <= population"):
        search(KWARGS, population=4, elite=5, progress=False)
    with pytest.raises(ValueError, match="steps <= 400"):
        search(KWARGS, steps=401, progress=False)
    with pytest.raises(ValueError, match="unknown fitness 'speed'; allowed: rot, rotr, steady"):
        search(KWARGS, fitness="speed", progress=False)
    with pytest.raises(ValueError, match="harmonics >= 1, 0 < skew < 1 and fall_penalty >= 0; got .*harmonics=0"):
        search(KWARGS, harmonics=0, progress=False)
    with pytest.raises(ValueError, match="fall_penalty >= 0; got .*fall_penalty=-1"):
        search(KWARGS, fall_penalty=-1.0, progress=False)


def test_a_second_harmonic_adds_the_double_frequency_wave(tmp_path):
    """target_j(t) = start_j + offset_j min(1, t/P) + sum_h a_hj (cos(2 pi h t/P) - 1) + b_hj sin(2 pi h t/P),
    the file's cos and sin lists harmonic by harmonic."""
    rng = np.random.default_rng(5)
    a, b = rng.uniform(-0.2, 0.2, (2, NUM_JOINTS)), rng.uniform(-0.2, 0.2, (2, NUM_JOINTS))
    offset = np.zeros(NUM_JOINTS)
    path = tmp_path / "gait2.json"
    path.write_text(json.dumps({"period_steps": 20, "harmonics": 2, "cos": a.ravel().tolist(),
                                "sin": b.ravel().tolist(), "offset": offset.tolist()}))
    from_file = PeriodicGaitSource(path)
    from_params = PeriodicGaitSource.from_params(20, np.concatenate([a.ravel(), b.ravel(), offset]))
    for gait in (from_file, from_params):
        gait.start = np.zeros(NUM_JOINTS)
        for t in (0, 3, 7, 15):
            w = 2 * np.pi * t / 20
            want = sum(a[h] * (np.cos((h + 1) * w) - 1) + b[h] * np.sin((h + 1) * w) for h in range(2))
            np.testing.assert_allclose(gait.wave(t), want, atol=1e-12)
    one = PeriodicGaitSource.from_params(20, np.concatenate([a[0], b[0], offset]))
    one.start = np.zeros(NUM_JOINTS)
    assert np.abs(from_file.wave(3) - one.wave(3)).max() > 0.01  # the second harmonic is there


def test_the_fitness_is_rot_or_the_clipped_rate_over_20_hz(warm_grasps):
    """rot scores what Rot counts; rotr the sum of the clipped end-of-step rates / 20 Hz, which a gait
    turning the object in jerks inside its steps cannot inflate; steady that less the rate beyond the
    clip, either way."""
    from baselines import gait_search

    params = np.random.default_rng(1).uniform(-0.3, 0.3, 3 * NUM_JOINTS)
    gait = PeriodicGaitSource.from_params(16, params)
    env = gym.make("DexNDM/LeapRotate-v0", **KWARGS)
    overspeed = 0.0
    try:
        obs, _ = env.reset(seed=3)
        gait.reset(None)
        for _ in range(30):
            obs, _, terminated, _, info = env.step(gait(obs))
            overspeed += max(abs(info["rate_step"]) - 0.5, 0.0)
            assert not terminated
    finally:
        env.close()
    scores = {f: gait_search._score((KWARGS, 16, None, params, 3, 30, 2.0, f, 1.0)) for f in gait_search.FITNESS}
    assert scores["rot"] == pytest.approx(info["rot"])
    assert scores["rotr"] == pytest.approx(info["rotr"] / 20)
    assert overspeed > 0  # this gait flicks the object: steady scores less than rotr
    assert scores["steady"] == pytest.approx((info["rotr"] - overspeed) / 20)
    half = gait_search._score((KWARGS, 16, None, params, 3, 30, 2.0, "steady", 0.5))
    assert half == pytest.approx((info["rotr"] - 0.5 * overspeed) / 20)


def test_a_skewed_gait_strokes_slowly_one_way_and_returns_quickly(tmp_path):
    """skew s: triangle waves with cos's period and peak, falling for 1 - s of the cycle, rising for s;
    a joint moves at one constant speed each way, and the speeds' ratio is (1 - s) / s."""
    from baselines.gait import cos_like

    angles = np.linspace(0, 2 * np.pi, 9)
    np.testing.assert_allclose(cos_like(angles, None), np.cos(angles))
    np.testing.assert_allclose(cos_like(np.array([0.0, 0.5 * np.pi, np.pi, 2 * np.pi]), 0.5), [1, 0, -1, 1], atol=1e-12)
    np.testing.assert_allclose(cos_like(np.array([0.0, 1.4 * np.pi, 1.7 * np.pi]), 0.3), [1, -1, 0], atol=1e-12)
    a = np.zeros(NUM_JOINTS)
    a[3] = 0.2
    path = tmp_path / "skewed.json"
    path.write_text(json.dumps({"period_steps": 20, "skew": 0.25, "cos": a.tolist(), "sin": [0.0] * NUM_JOINTS,
                                "offset": [0.0] * NUM_JOINTS}))
    gait = PeriodicGaitSource(path)
    gait.start = np.zeros(NUM_JOINTS)
    steps = np.diff([gait.wave(t)[3] for t in range(21)])
    assert np.sum(steps < 0) == 15 and np.sum(steps > 0) == 5  # 15 steps down, 5 back up
    assert steps.max() == pytest.approx(-3 * steps.min())
    assert gait.wave(0)[3] == pytest.approx(0.0) and gait.wave(20)[3] == pytest.approx(0.0, abs=1e-12)
    path.write_text(json.dumps({"period_steps": 20, "skew": 1.0, "cos": a.tolist(), "sin": [0.0] * NUM_JOINTS,
                                "offset": [0.0] * NUM_JOINTS}))
    with pytest.raises(ValueError, match=r"skew is the rising fraction of each cycle, in \(0, 1\); got 1.0"):
        PeriodicGaitSource(path)
    with pytest.raises(ValueError, match="0 < skew < 1 .*; got .*skew=0"):
        search(KWARGS, skew=0.0, progress=False)


def test_the_search_can_start_from_a_gait_with_fewer_harmonics(warm_grasps, gait_file, tmp_path):
    """--init: the gait's amplitudes are the starting mean, the extra harmonics start at zero."""
    from baselines.gait_search import _initial_mean

    one = json.loads(gait_file.read_text())
    mean = _initial_mean(gait_file, 2)
    np.testing.assert_allclose(mean, np.concatenate([one["cos"], np.zeros(NUM_JOINTS), one["sin"],
                                                     np.zeros(NUM_JOINTS), one["offset"]]))
    gait = search(KWARGS, harmonics=2, init=gait_file, init_std=0.0, generations=1, population=2, elite=1,
                  episodes=1, steps=4, workers=1, progress=False)
    np.testing.assert_allclose(gait["cos"], mean[:2 * NUM_JOINTS], atol=1e-12)  # no spread: the start is kept
    assert gait["search"]["init"] == str(gait_file)
    two = tmp_path / "two.json"
    two.write_text(json.dumps(gait))
    with pytest.raises(ValueError, match="initial gait has 2 harmonics, more than the 1 searched"):
        search(KWARGS, harmonics=1, init=two, progress=False)


def test_a_search_over_some_fingers_keeps_the_other_fingers_waves(warm_grasps, gait_file):
    """fingers=["thumb"]: only the thumb's amplitudes and offsets move; the other twelve joints keep
    the start's waves exactly, in every harmonic."""
    from baselines.gait_search import _initial_mean
    from dexndm_envs.hand import FINGERS

    start = _initial_mean(gait_file, 2)
    gait = search(KWARGS, harmonics=2, init=gait_file, fingers=["thumb"], generations=2, population=4, elite=2,
                  episodes=1, steps=4, workers=1, progress=False)
    found = np.concatenate([gait["cos"], gait["sin"], gait["offset"]])
    thumb = np.isin(np.arange(found.size) % NUM_JOINTS, FINGERS["thumb"])
    np.testing.assert_array_equal(found[~thumb], start[~thumb])
    assert np.abs(found[thumb] - start[thumb]).max() > 0.01 and gait["search"]["fingers"] == ["thumb"]
    with pytest.raises(ValueError, match="fingers to search must be some of index, middle, ring, thumb; got"):
        search(KWARGS, fingers=["pinky"], progress=False)


def test_a_staged_search_starts_each_stage_from_the_last_and_keeps_the_stages(warm_grasps, tmp_path):
    """search_stages: stage 2 starts from stage 1's gait under its own settings and env kwargs; run again
    in the same folder after a stop between the stages, it reuses stage 1 instead of searching it again."""
    from baselines.gait_search import search_stages

    tiny = {"generations": 1, "population": 2, "elite": 1, "episodes": 1, "steps": 4, "workers": 1}
    stages = [{**tiny, "period": 20}, {**tiny, "period": 20, "skew": 0.3, "env_kwargs": {"rotate_reward_clip": 0.3}}]
    path = search_stages(KWARGS, stages, tmp_path, progress=False)
    first, final = (json.loads((tmp_path / name).read_text()) for name in ("gait_stage0.json", "gait.json"))
    assert final == json.loads((tmp_path / "gait_stage1.json").read_text()) and path == tmp_path / "gait.json"
    assert final["search"]["init"] == str(tmp_path / "gait_stage0.json") and final["skew"] == 0.3
    assert final["env_kwargs"] == {**KWARGS, "rotate_reward_clip": 0.3} and first["env_kwargs"] == KWARGS
    assert final["search_cpu_s"] > first["search_cpu_s"] > 0.0  # the final gait carries both stages' CPU
    (tmp_path / "gait_stage1.json").unlink()
    (tmp_path / "gait.json").unlink()
    search_stages(KWARGS, stages, tmp_path, progress=False)  # stopped after stage 1: only stage 2 runs again
    assert json.loads((tmp_path / "gait_stage0.json").read_text()) == first
    assert (tmp_path / "gait.json").is_file()
    with pytest.raises(ValueError, match="at least one stage"):
        search_stages(KWARGS, [], tmp_path / "none", progress=False)


@pytest.mark.parametrize("harmonics, skew", [(1, None), (2, None), (1, 0.3)])
def test_the_search_writes_a_usable_gait(warm_grasps, harmonics, skew, tmp_path):
    gait = search(KWARGS, harmonics=harmonics, skew=skew, generations=2, population=4, elite=2, episodes=1, steps=8,
                  workers=1, progress=False)
    assert gait.get("skew") == skew
    assert len(gait["history"]) == 2 and all(np.isfinite(h["elite_fitness"]) for h in gait["history"])
    assert gait["harmonics"] == harmonics and len(gait["offset"]) == NUM_JOINTS
    assert all(len(gait[k]) == harmonics * NUM_JOINTS for k in ("cos", "sin"))
    assert all(max(map(abs, gait[k])) <= 0.5 for k in ("cos", "sin", "offset"))
    path = tmp_path / "gait.json"
    path.write_text(json.dumps(gait))
    assert PeriodicGaitSource(path).harmonics == harmonics and PeriodicGaitSource(path).skew == skew


def test_warm_start_clones_the_gait_into_the_new_model(warm_grasps, gait_file, tmp_path):
    from baselines.policy import PolicySource

    out = tmp_path / "run"
    kwargs = json.dumps({**KWARGS, "obs_mode": "privileged"})
    cli.main(["train", "--env-kwargs", kwargs, "--steps", "64", "--n-envs", "1", "--out", str(out),
              "--warm-start", str(gait_file), "--warm-start-episodes", "3", "--config", str(tiny_config(tmp_path))])
    warm = json.loads((out / "train.json").read_text())["warm_start"]
    assert warm["demonstrator"] == str(gait_file) and 0 < warm["samples"] <= 3 * 400 and warm["episodes"] == 3
    # the trained policy (64 PPO steps later) acts like the gait on the gait's own states
    policy, gait = PolicySource(out / "model.zip"), load_policy(str(gait_file))
    env = gym.make("DexNDM/LeapRotate-v0", **KWARGS, obs_mode="privileged")
    try:
        obs, _ = env.reset(seed=5)
        gait.reset(None)
        errors, spread = [], []
        for _ in range(40):
            want = gait(obs)
            errors.append(np.abs(policy(obs) - want).mean())
            spread.append(np.abs(want).mean())
            obs, *_ = env.step(want)
    finally:
        env.close()
    assert np.mean(errors) < 0.3 * np.mean(spread), (np.mean(errors), np.mean(spread))
    with pytest.raises(SystemExit, match="cannot be combined with --resume"):
        cli.main(["train", "--env-kwargs", kwargs, "--out", str(out), "--resume", "--warm-start", str(gait_file)])


def tiny_config(tmp_path):
    """The shipped config with a small rollout, so the test trains for seconds."""
    import yaml

    table = yaml.safe_load((Path(cli.__file__).parent / "configs" / "ppo.yml").read_text())
    table["DexNDM/LeapRotate-v0"].update(n_steps=64, batch_size=64)
    path = tmp_path / "ppo.yml"
    path.write_text(yaml.safe_dump(table))
    return path
