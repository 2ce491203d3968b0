"""``dexndm distill`` and the reference baselines (random, hold) as policies."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import OBJECT

from baselines import cli
from baselines.distill import distill, rollout_seed, rollouts
from baselines.evaluate import evaluate
from baselines.generalist import GeneralistSource, load_generalist
from baselines.policy import load_policy
from baselines.sources import HoldSource, RandomSource
from dexndm_envs.dynamics.checkpoint import CheckpointError
from dexndm_envs.interface import PROPRIO_DIM

TEACHER_KWARGS = {"object": OBJECT, "wrist": "palm_up", "axis": "+z", "obs_mode": "privileged"}
STEPS = 30


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, warm_grasps):
    """An untrained PPO on privileged observations, with the train.json `dexndm train` writes beside it.
    Its deterministic actions are a fixed function of the proprioceptive part of the observation (the
    privileged inputs are cut, so a student can clone it exactly; the action layer is scaled up from
    SB3's near-zero initialisation, so the actions vary): enough to check the cloning machinery."""
    from stable_baselines3 import PPO

    out = tmp_path_factory.mktemp("teacher")
    env = gym.make("DexNDM/LeapRotate-v0", **TEACHER_KWARGS)
    try:
        model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, seed=0, device="cpu",
                    policy_kwargs={"net_arch": [32], "log_std_init": -1.0})
        with torch.no_grad():
            model.policy.mlp_extractor.policy_net[0].weight[:, PROPRIO_DIM:] = 0.0
            model.policy.action_net.weight.mul_(100.0)
        model.save(out / "model.zip")
    finally:
        env.close()
    (out / "train.json").write_text(json.dumps({"env": "DexNDM/LeapRotate-v0", "env_kwargs": TEACHER_KWARGS}))
    return out / "model.zip"


@pytest.fixture(scope="module")
def generalist(teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "generalist.pt"
    report = distill([teacher], out, episodes=3, dagger_rounds=1, min_rot=-np.inf, hidden=64, blocks=1,
                     epochs=150, patience=150, batch_size=32, steps=STEPS, progress=False)
    return out, report


def test_the_student_clones_the_teachers_actions(teacher, generalist):
    path, _ = generalist
    spec = {"path": str(teacher), "env": "DexNDM/LeapRotate-v0", "env_kwargs": TEACHER_KWARGS}
    student, _ = load_generalist(path)
    # the teacher's own rollouts (the seeds distill drew them with): a fit far better than any constant
    # action. (Generalisation to new grasps needs real amounts of data: see BENCHMARKS.md.)
    seen = rollouts(spec, None, 3, seed=rollout_seed(0, 0, 0), steps=STEPS, progress=False)
    obs = torch.as_tensor(np.concatenate([e["obs"] for e in seen]))
    labels = np.concatenate([e["labels"] for e in seen])
    with torch.no_grad():
        err = float(((student(obs).numpy() - labels) ** 2).mean())
    constant = float(((labels - labels.mean(0)) ** 2).mean())  # the best constant action
    assert err < 0.1 * constant, (err, constant)


def test_dagger_adds_the_students_own_states_and_the_report_says_so(generalist):
    _, report = generalist
    first, second = report["rounds"]
    # 90 % of 3 teacher episodes of STEPS steps, then 3 more student episodes labelled by the teacher
    assert second["train_samples"] > first["train_samples"] >= STEPS
    assert report["teacher_rollouts"][0]["successful"] == 3
    for key in ("best_eval_mse", "student_rot_rad", "student_ttf"):
        assert np.isfinite(second[key])
    _, ckpt = load_generalist(generalist[0])
    assert ckpt["info"]["rounds"] == report["rounds"]  # the checkpoint says how it was made
    # the saved student is the round that rotated most on the (shared) probe episodes
    best = max(report["rounds"], key=lambda r: r["student_rot_rad"])
    assert report["selected_round"] == best["round"]


def test_the_generalist_runs_on_proprioceptive_envs_through_eval(generalist, tmp_path):
    path, _ = generalist
    source = load_policy(str(path))
    assert isinstance(source, GeneralistSource)
    env = gym.make("DexNDM/LeapRotate-v0", object=OBJECT, wrist="palm_up")  # obs_mode="proprio"
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == (PROPRIO_DIM,)
        action = source(obs)
        assert action.shape == (16,) and np.all(np.abs(action) <= 1)
    finally:
        env.close()
    report = tmp_path / "eval.json"
    cli.main(["eval", "--policy", str(path), "--env-kwargs", json.dumps({"object": OBJECT, "wrist": "palm_up"}),
              "--episodes", "1", "--steps", "10", "--json", str(report)])
    assert json.loads(report.read_text())["policy"] == str(path)


def test_distill_through_the_cli(teacher, tmp_path):
    out, report = tmp_path / "g.pt", tmp_path / "distill.json"
    cli.main(["distill", "--teachers", str(teacher), "--episodes", "1", "--dagger-rounds", "0", "--min-rot", "-10",
              "--hidden", "16", "--blocks", "1", "--epochs", "2", "--out", str(out), "--json", str(report)])
    assert load_generalist(out)[0].inp.out_features == 16
    assert json.loads(report.read_text())["rounds"][0]["round"] == 0


def test_a_clocked_student_reads_the_phase_its_source_counts_from_each_reset(teacher, tmp_path):
    """--clock-period: the student's input is the proprioceptive observation plus the clock of
    dexndm_envs.interface.clock, counted by the action source from its reset (so on a real hand too)."""
    from dexndm_envs.interface import clock

    out = tmp_path / "clocked.pt"
    cli.main(["distill", "--teachers", str(teacher), "--episodes", "1", "--dagger-rounds", "0", "--min-rot", "-10",
              "--hidden", "16", "--blocks", "1", "--epochs", "2", "--clock-period", "16", "--out", str(out)])
    model, ckpt = load_generalist(out)
    assert model.inp.in_features == PROPRIO_DIM + 2 and ckpt["info"]["clock_period"] == 16
    source = load_policy(str(out))
    obs = np.zeros(PROPRIO_DIM, np.float32)
    source.reset(None)
    first = [source(obs) for _ in range(3)]
    source.reset(None)
    assert all(np.array_equal(a, b) for a, b in zip(first, [source(obs) for _ in range(3)]))
    assert not np.array_equal(first[0], first[1]), "the clock moves the input from step to step"
    with torch.no_grad():
        x = torch.as_tensor(np.concatenate([obs, clock(2, 16)]))
        np.testing.assert_allclose(first[2], model(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(clock(0, 16), [np.sin(np.pi / 8), np.cos(np.pi / 8)], atol=1e-7)
    with pytest.raises(ValueError, match="clock period is a positive number of policy steps; got -2"):
        distill([teacher], tmp_path / "bad.pt", clock_period=-2)


def test_bad_teachers_and_checkpoints_give_clear_errors(teacher, tmp_path):
    with pytest.raises(ValueError, match="no teacher checkpoint"):
        distill([tmp_path / "missing.zip"], tmp_path / "g.pt")
    lone = tmp_path / "lone" / "model.zip"
    lone.parent.mkdir()
    lone.write_bytes(teacher.read_bytes())
    with pytest.raises(ValueError, match="no train.json beside it"):
        distill([lone], tmp_path / "g.pt")
    (lone.parent / "train.json").write_text("{truncated")
    with pytest.raises(ValueError, match="not a `dexndm train` run record"):
        distill([lone], tmp_path / "g.pt")
    with pytest.raises(ValueError, match="no successful teacher rollouts"):
        distill([teacher], tmp_path / "g.pt", episodes=1, steps=5, min_rot=100.0, progress=False)
    assert not (tmp_path / "g.pt").exists()  # nothing half-made is left behind
    ndm_like = tmp_path / "other.pt"
    torch.save({"format": "dexndm-ndm", "version": 1}, ndm_like)
    with pytest.raises(CheckpointError, match="'dexndm-generalist' checkpoint is needed"):
        load_policy(str(ndm_like))
    with pytest.raises(ValueError, match="unknown policy 'greedy'; allowed: scripted, random, hold"):
        load_policy("greedy")


def test_random_and_hold_baselines(warm_grasps):
    kwargs = {"object": OBJECT, "wrist": "palm_up"}
    a = evaluate("DexNDM/LeapRotate-v0", kwargs, "random", 2, steps=20, progress=False)
    b = evaluate("DexNDM/LeapRotate-v0", kwargs, "random", 2, steps=20, progress=False)
    assert a["per_episode"] == b["per_episode"]  # seeded: the same random actions
    rng = np.random.default_rng(0)
    src = RandomSource()
    src.reset(rng)
    actions = np.array([src(None) for _ in range(200)])
    assert actions.min() >= -1 and actions.max() <= 1 and actions.std() > 0.5
    hold = HoldSource()
    hold.reset(rng)
    assert not hold(None).any()
    still = evaluate("DexNDM/LeapRotate-v0", kwargs, "hold", 1, steps=20, progress=False)
    assert abs(still["rot_rad"]) < 0.05 and still["ttf"] == pytest.approx(20 / 400)


def test_a_residual_teachers_gait_period_is_read_and_a_clock_off_it_is_named(teacher, tmp_path):
    from baselines.distill import off_clock_teachers, read_teacher
    from dexndm_envs.hand import NUM_JOINTS

    run = tmp_path / "residual"
    run.mkdir()
    (run / "model.zip").write_bytes(teacher.read_bytes())
    (run / "gait.json").write_text(json.dumps({"period_steps": 32, "cos": [0.1] * NUM_JOINTS,
                                               "sin": [0.0] * NUM_JOINTS, "offset": [0.0] * NUM_JOINTS}))
    (run / "train.json").write_text(json.dumps({"env": "DexNDM/LeapRotate-v0", "env_kwargs": TEACHER_KWARGS,
                                                "residual": {"gait": "gait.json", "scale": 0.2}}))
    specs = [read_teacher(run / "model.zip"), read_teacher(teacher)]
    assert [s["gait_period"] for s in specs] == [32.0, None]  # the plain teacher has no gait
    assert off_clock_teachers(specs, 32) == [] and off_clock_teachers(specs, None) == []
    assert off_clock_teachers(specs, 16) == [str(run / "model.zip")]


def test_action_noise_moves_the_teachers_path_but_not_its_labels(teacher):
    """DART: the teacher drives with noisy actions, reproducibly per seed, and each step is labelled with
    its clean action, so the first label (same start state) is the noiseless rollout's first label."""
    spec = {"path": str(teacher), "env": "DexNDM/LeapRotate-v0", "env_kwargs": TEACHER_KWARGS}
    clean, noisy, again = (rollouts(spec, None, 1, 5, steps=STEPS, progress=False, action_noise=a)[0]
                           for a in (0.0, 0.5, 0.5))
    np.testing.assert_array_equal(noisy["obs"], again["obs"])
    assert not np.allclose(noisy["obs"][1:], clean["obs"][1:len(noisy["obs"])])
    # the teacher reads only the proprioceptive part (its privileged weights are zero): its clean action on
    # each state the noisy rollout visited is that step's label
    from baselines.policy import PolicySource

    source = PolicySource(teacher)
    extra = np.zeros(source.model.observation_space.shape[0] - PROPRIO_DIM, np.float32)
    for x, label in zip(noisy["obs"], noisy["labels"]):
        np.testing.assert_allclose(source(np.concatenate([x, extra])), label, atol=1e-6)
    with pytest.raises(ValueError, match="action_noise >= 0; got .*-0.1"):
        distill([teacher], "unused.pt", action_noise=-0.1)
