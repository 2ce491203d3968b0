"""``dexndm train``: a tiny PPO run with the shipped config, resume, evaluation of the result, rl-zoo3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import OBJECT
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from baselines import cli
from baselines.train import load_hyperparams

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "baselines" / "configs" / "ppo.yml"
KWARGS = json.dumps({"object": OBJECT, "wrist": "palm_up", "obs_mode": "privileged"})


def train(out: Path, *extra: str) -> None:
    cli.main(["train", "--env-kwargs", KWARGS, "--steps", "2048", "--n-envs", "2", "--out", str(out), *extra])


@pytest.mark.slow
def test_a_tiny_run_with_the_shipped_config_writes_a_loadable_model(warm_grasps, tmp_path):
    out = tmp_path / "run"
    train(out)
    model = PPO.load(out / "model.zip", device="cpu")
    assert model.observation_space.shape == (364,)  # privileged observations
    with open(out / "vecnormalize.pkl", "rb") as f:
        import pickle

        stats = pickle.load(f)
    assert isinstance(stats, VecNormalize) and stats.obs_rms.count > 2048 - 1
    summary = json.loads((out / "train.json").read_text())
    assert summary["total_env_steps"] >= 2048 and summary["n_envs"] == 2
    assert any((out / "tb").rglob("events.out.tfevents.*")), "tensorboard logs"
    curve = np.genfromtxt(out / "curve.csv", delimiter=",", names=True, ndmin=1)  # the learning curve
    assert curve.size >= 1 and curve["env_steps"][-1] == 2048 and curve["episodes"][-1] >= 2
    assert np.all((curve["ttf"] > 0) & (curve["ttf"] <= 1)) and np.all(np.isfinite(curve["rot_rad"]))
    assert (out / "curve.png").stat().st_size > 0

    train(out, "--resume")
    assert json.loads((out / "train.json").read_text())["total_env_steps"] >= 4096

    report = tmp_path / "eval.json"
    cli.main(["eval", "--policy", str(out / "model.zip"), "--env-kwargs", KWARGS, "--episodes", "1", "--steps", "20",
              "--json", str(report)])
    data = json.loads(report.read_text())
    assert {"rot_rad", "ttf", "ttf_s", "rotr", "rotp", "episodes"} <= set(data)


def test_steps_are_rounded_up_to_whole_rollouts_and_the_summary_names_what_exists(warm_grasps, tmp_path, capsys,
                                                                                   caplog):
    """``--steps 500`` with 64-step rollouts runs 512 steps and says so (the progress bar counts 512, not
    a total it overshoots); before the first evaluation there is no best_model.zip, and the summary
    does not name one."""
    import yaml

    table = yaml.safe_load(CONFIG.read_text())
    table["DexNDM/LeapRotate-v0"].update(n_steps=64, batch_size=64)
    config = tmp_path / "ppo.yml"
    config.write_text(yaml.safe_dump(table))
    out = tmp_path / "run"
    cli.main(["train", "--env-kwargs", KWARGS, "--config", str(config), "--steps", "500", "--n-envs", "1",
              "--out", str(out)])
    assert "500 steps rounded up to 512: PPO collects whole rollouts of n_steps x n_envs = 64 x 1" in caplog.text
    summary = json.loads((out / "train.json").read_text())
    assert summary["total_env_steps"] == summary["steps_this_run"] == 512
    printed = capsys.readouterr().out
    assert "512 env steps" in printed and "model.zip" in printed and "train.json" in printed
    assert not (out / "best_model.zip").exists() and "best_model.zip" not in printed


def test_training_into_a_used_directory_needs_resume(warm_grasps, tmp_path):
    (tmp_path / "model.zip").write_bytes(b"an earlier model")
    with pytest.raises(SystemExit, match="--resume"):
        train(tmp_path)
    with pytest.raises(SystemExit, match="no .* to continue from"):
        train(tmp_path / "empty", "--resume")


def test_the_config_is_zoo_format_keyed_by_env_id():
    hp = load_hyperparams(CONFIG, "DexNDM/LeapRotate-v0")
    assert hp["policy"] == "MlpPolicy" and hp["n_envs"] >= 1
    assert hp["policy_kwargs"]["net_arch"]["pi"]
    with pytest.raises(ValueError, match="no entry for Foo/Bar-v0"):
        load_hyperparams(CONFIG, "Foo/Bar-v0")


ZOO_OVERRIDES = {"ppo": ["n_envs:2", "n_steps:1024"],  # the zoo steps its envs in one process: keep them few
                 **{algo: ["n_envs:2", "learning_starts:100", "buffer_size:1000"] for algo in ("sac", "tqc", "crossq")}}


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ZOO_OVERRIDES))
def test_rl_zoo3_trains_with_each_shipped_config(warm_grasps, tmp_path, algo):
    config = ROOT / "baselines" / "configs" / f"{algo}.yml"
    steps = "2048" if algo == "ppo" else "300"
    proc = subprocess.run([sys.executable, "-m", "rl_zoo3.train", "--algo", algo, "--env", "DexNDM/LeapRotate-v0",
                           "--gym-packages", "dexndm_envs", "--conf-file", str(config), "-n", steps, "-f",
                           str(tmp_path), "--eval-freq", "-1", "--seed", "0", "--hyperparams", *ZOO_OVERRIDES[algo]],
                          cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(tmp_path.rglob("DexNDM-LeapRotate-v0.zip"))


def tiny_config(tmp_path: Path, algo: str) -> Path:
    """The shipped config of ``algo`` shrunk to a seconds-long run (small buffer, early learning)."""
    import yaml

    table = yaml.safe_load((ROOT / "baselines" / "configs" / f"{algo}.yml").read_text())
    table["DexNDM/LeapRotate-v0"].update(buffer_size=2000, learning_starts=64, batch_size=32, train_freq=4,
                                         gradient_steps=2)
    config = tmp_path / f"{algo}.yml"
    config.write_text(yaml.safe_dump(table))
    return config


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "tqc", "crossq"])
def test_an_off_policy_learner_trains_resumes_with_its_replay_buffer_and_runs_as_a_policy(warm_grasps, tmp_path,
                                                                                         algo):
    from baselines.policy import algo_class, load_policy

    out, config = tmp_path / "run", tiny_config(tmp_path, algo)
    train(out, "--algo", algo, "--config", str(config), "--steps", "200", "--n-envs", "2")
    record = json.loads((out / "train.json").read_text())
    assert record["algo"] == algo and record["total_env_steps"] == 200 and record["n_workers"] == 2
    assert record["total_cpu_hours"] > 0 and record["learn_s"] > 0
    model = algo_class(algo).load(out / "model.zip", device="cpu")
    assert model.use_sde, "the shipped configs explore with gSDE"
    assert (out / "replay_buffer.pkl").stat().st_size > 0
    train(out, "--algo", algo, "--config", str(config), "--steps", "100", "--n-envs", "2", "--resume")
    again = json.loads((out / "train.json").read_text())  # chunks of train_freq 4 x 2 envs: 100 -> 104
    assert again["total_env_steps"] == 304 and again["steps_this_run"] == 104
    assert again["total_cpu_hours"] > record["total_cpu_hours"]
    assert again["total_wall_s"] > record["total_wall_s"]
    resumed = algo_class(algo).load(out / "model.zip", device="cpu")
    resumed.load_replay_buffer(out / "replay_buffer.pkl")
    assert resumed.replay_buffer.size() * 2 == 304  # 2 envs: every transition of both runs is kept
    policy = load_policy(str(out / "model.zip"))  # the run record says which class to load
    assert type(policy.model) is algo_class(algo)
    assert policy(np.zeros(364, np.float32)).shape == (16,)


def test_resume_and_warm_start_refuse_what_they_cannot_do(warm_grasps, tmp_path):
    (tmp_path / "model.zip").write_bytes(b"an earlier model")
    (tmp_path / "train.json").write_text(json.dumps({"env": "DexNDM/LeapRotate-v0", "env_kwargs": {}, "algo": "ppo"}))
    with pytest.raises(SystemExit, match="trained with --algo ppo, not sac"):
        train(tmp_path, "--algo", "sac", "--resume")
    with pytest.raises(SystemExit, match="clones into a PPO model; it is not available with --algo tqc"):
        train(tmp_path / "new", "--algo", "tqc", "--warm-start", "scripted")
    with pytest.raises(SystemExit, match="n_workers must be between 1 and n_envs \\(2\\); got 3"):
        train(tmp_path / "new", "--n-workers", "3")


@pytest.mark.parametrize("algo", ["ppo", "sac", "tqc", "crossq"])
def test_every_algorithm_has_a_zoo_config_exploring_with_gsde(algo):
    from baselines.policy import ALGOS

    assert algo in ALGOS
    hp = load_hyperparams(ROOT / "baselines" / "configs" / f"{algo}.yml", "DexNDM/LeapRotate-v0")
    assert hp["use_sde"] is True and hp["sde_sample_freq"] > 0
    assert hp["n_envs"] % 2 == 0, "the envs split evenly over two workers"


@pytest.mark.slow
def test_an_asymmetric_actor_critic_trains_on_privileged_and_runs_on_proprio(warm_grasps, tmp_path):
    """--asymmetric: the critic reads the privileged observation, the actor only its proprioceptive
    prefix, so the trained model runs on the deployable observation with no distillation."""
    from baselines.asymmetric import AsymmetricActorCriticPolicy
    from baselines.policy import load_policy
    from dexndm_envs.interface import PROPRIO_DIM

    out = tmp_path / "run"
    train(out, "--asymmetric", "--config", str(tiny_ppo_config(tmp_path)), "--steps", "128")
    model = PPO.load(out / "model.zip", device="cpu")
    assert isinstance(model.policy, AsymmetricActorCriticPolicy) and model.observation_space.shape == (364,)
    obs = np.random.default_rng(0).normal(size=(1, 364)).astype(np.float32)
    changed = obs.copy()
    changed[:, PROPRIO_DIM:] += 5.0  # the object's state and the physics: only the critic may notice
    act = [model.policy.predict(o, deterministic=True)[0] for o in (obs, changed)]
    np.testing.assert_array_equal(act[0], act[1])
    values = [model.policy.predict_values(torch_tensor(o)).item() for o in (obs, changed)]
    assert values[0] != values[1]
    policy = load_policy(str(out / "model.zip"))
    assert policy.obs_mode == "proprio" and policy.observation_dim == PROPRIO_DIM
    report = tmp_path / "eval.json"  # on the deployable observation: no obs_mode given, none needed
    cli.main(["eval", "--policy", str(out / "model.zip"), "--env-kwargs", json.dumps({"object": OBJECT}),
              "--episodes", "1", "--steps", "20", "--json", str(report)])
    assert json.loads(report.read_text())["episodes"] == 1


def torch_tensor(array):
    import torch

    return torch.as_tensor(array)


def tiny_ppo_config(tmp_path: Path) -> Path:
    import yaml

    table = yaml.safe_load(CONFIG.read_text())
    table["DexNDM/LeapRotate-v0"].update(n_envs=2, n_steps=64, batch_size=64)
    config = tmp_path / "ppo_tiny.yml"
    config.write_text(yaml.safe_dump(table))
    return config


def test_asymmetric_training_needs_ppo_and_the_privileged_observation(tmp_path):
    with pytest.raises(SystemExit, match="--asymmetric .* needs --algo ppo, obs_mode 'privileged'"):
        cli.main(["train", "--asymmetric", "--env-kwargs", json.dumps({"object": OBJECT}), "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--asymmetric"):
        train(tmp_path, "--asymmetric", "--algo", "sac")
    with pytest.raises(SystemExit, match="--penalty-curriculum is a number of env steps >= 0; got -5"):
        train(tmp_path, "--penalty-curriculum", "-5")


def test_the_penalty_curriculum_ramps_the_motion_penalties_but_not_the_fall_penalty(warm_grasps):
    from stable_baselines3.common.env_util import make_vec_env

    from baselines.train import make_env, penalty_curriculum_callback

    env = make_vec_env(make_env, n_envs=1, env_kwargs={"env_id": "DexNDM/LeapRotate-v0", "object": OBJECT,
                                                       "work_penalty_weight": 2.0, "fall_penalty_weight": 10.0})
    try:
        model = PPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, device="cpu", seed=0)
        model.learn(64, callback=penalty_curriculum_callback(128))  # the second rollout starts at t = 32
        assert env.get_attr("work_penalty_weight")[0] == pytest.approx(2.0 * 32 / 128)
        assert env.get_attr("pose_penalty_weight")[0] == pytest.approx(0.3 * 32 / 128)  # the env's default
        assert env.get_attr("fall_penalty_weight")[0] == 10.0
    finally:
        env.close()


@pytest.mark.slow
def test_a_run_saves_as_it_goes_so_a_killed_run_resumes_from_its_last_save(warm_grasps, tmp_path):
    """Every --eval-every steps the model, its statistics and the run record are written: a run killed
    from outside (here: the process ends without its final save) continues with --resume from there,
    and the learning curve drops the rows after that save."""
    out = tmp_path / "run"
    config = str(tiny_ppo_config(tmp_path))
    proc = subprocess.run([sys.executable, "-c", f"""
import os, json
from baselines import cli
import baselines.train as t
real = t.every_steps_callback
def save_then_die(every, action):
    def act():
        action()
        if json.load(open({str(out / 'train.json')!r}))["total_env_steps"] >= 256:
            os._exit(3)  # killed: no final save
    return real(every, act)
t.every_steps_callback = save_then_die
cli.main(["train", "--env-kwargs", {KWARGS!r}, "--config", {config!r}, "--steps", "1024", "--eval-every", "128",
          "--out", {str(out)!r}])
"""], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    saved = json.loads((out / "train.json").read_text())
    assert 256 <= saved["total_env_steps"] < 1024 and saved["total_cpu_hours"] > 0
    train(out, "--config", config, "--steps", "128", "--resume")
    again = json.loads((out / "train.json").read_text())
    assert again["total_env_steps"] == saved["total_env_steps"] + 128
    steps = np.genfromtxt(out / "curve.csv", delimiter=",", names=True, ndmin=1)["env_steps"]
    assert np.all(np.diff(steps) > 0), "the curve continues from the save, without repeated steps"


@pytest.mark.slow
def test_train_to_starts_resumes_and_then_leaves_a_finished_run_alone(warm_grasps, tmp_path):
    from baselines.train import train_to

    out, config = tmp_path / "run", tiny_ppo_config(tmp_path)
    kwargs = json.loads(KWARGS)
    assert train_to(128, "DexNDM/LeapRotate-v0", kwargs, out, config=config, progress=False)["total_env_steps"] == 128
    second = train_to(256, "DexNDM/LeapRotate-v0", kwargs, out, config=config, progress=False)
    assert second["total_env_steps"] == 256 and second["resumed"] and second["steps_this_run"] == 128
    again = train_to(256, "DexNDM/LeapRotate-v0", kwargs, out, config=config, progress=False)
    assert again == json.loads((out / "train.json").read_text()) and again["steps_this_run"] == 128


def test_a_resumed_run_takes_its_own_seed_not_the_checkpoints(warm_grasps, tmp_path):
    """Loading a model re-seeds torch and the envs with the seed it was saved with; --seed on --resume
    wins: the same checkpoint resumed with two seeds learns two different models, each recording its seed."""
    import shutil

    import torch

    from baselines.train import train

    first, config = tmp_path / "first", tiny_ppo_config(tmp_path)
    kwargs = json.loads(KWARGS)
    train("DexNDM/LeapRotate-v0", kwargs, first, config=config, steps=64, progress=False)
    weights = {}
    for seed in (0, 1):
        out = tmp_path / f"seed{seed}"
        shutil.copytree(first, out)
        record = train("DexNDM/LeapRotate-v0", kwargs, out, config=config, steps=64, resume=True, seed=seed,
                       progress=False)
        assert record["seed"] == seed
        weights[seed] = torch.nn.utils.parameters_to_vector(PPO.load(out / "model.zip").policy.parameters())
    assert not torch.equal(weights[0], weights[1])
