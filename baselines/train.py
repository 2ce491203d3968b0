"""``dexndm train``: Stable-Baselines3 training on the DexNDM envs, CleanRL-style, top to bottom.

Hyperparameters come from a file in the rl-baselines3-zoo format (``baselines/configs/ppo.yml``, keyed
by env id), so ``python -m rl_zoo3.train ... --conf-file baselines/configs/ppo.yml`` reads the same
settings. The output directory holds ``model.zip`` with ``vecnormalize.pkl`` beside it (what
``dexndm eval`` and ``dexndm collect --policy`` load), ``best_model.zip`` from the EvalCallback,
``checkpoints/``, tensorboard logs in ``tb/`` and ``train.json`` (the command, steps and wall time).
``--resume`` continues from ``model.zip`` and its statistics.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path

import yaml

log = logging.getLogger(__name__)
ALGOS = ("ppo",)
_ZOO_ONLY = ("n_envs", "n_timesteps", "policy", "normalize", "env_wrapper", "frame_stack", "callback", "env_kwargs")
CURVE_FILE = "curve.csv"


def make_env(env_id: str, **kwargs):
    """``gym.make`` in a worker process: import the package that registers the DexNDM ids first (a
    SubprocVecEnv worker is a fresh interpreter that has not imported it)."""
    import gymnasium as gym

    import dexndm_envs  # noqa: F401

    return gym.make(env_id, **kwargs)


def rotation_curve_callback(path: Path, episode_steps: int = 400):
    """A callback that, after every rollout, logs the mean rotation (rad per episode, from the env's
    cumulative ``info["rot"]`` that Monitor keeps at episode end) and TTF (episode length / 400 steps)
    of the last 100 training episodes to tensorboard (``rollout/rot_rad``, ``rollout/ttf``) and appends
    them to ``path`` as CSV rows ``env_steps,rot_rad,ttf,episodes`` (the learning curve)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class RotationCurve(BaseCallback):
        def _on_training_start(self) -> None:
            if not path.is_file():
                path.write_text("env_steps,rot_rad,ttf,episodes\n")

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            infos = [i for i in self.model.ep_info_buffer if "rot" in i]
            if not infos:
                return
            rot = sum(i["rot"] for i in infos) / len(infos)
            ttf = sum(min(i["l"] / episode_steps, 1.0) for i in infos) / len(infos)
            self.logger.record("rollout/rot_rad", rot)
            self.logger.record("rollout/ttf", ttf)
            with path.open("a") as f:
                f.write(f"{self.model.num_timesteps},{rot:.4f},{ttf:.4f},{len(infos)}\n")

    return RotationCurve()


def load_hyperparams(path: str | Path, env_id: str) -> dict:
    """The zoo-format entry for ``env_id``; policy_kwargs and normalize strings are evaluated with only
    ``dict`` and ``torch.nn`` in scope, as the zoo does."""
    from torch import nn

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no hyperparameter file {path}")
    table = yaml.safe_load(path.read_text()) or {}
    if env_id not in table:
        raise ValueError(f"{path} has no entry for {env_id}; it has {sorted(table)}")
    hp = dict(table[env_id])
    for key in ("policy_kwargs", "normalize"):
        if isinstance(hp.get(key), str):
            hp[key] = eval(hp[key], {"__builtins__": {}}, {"dict": dict, "nn": nn})  # noqa: S307 (trusted config)
    return hp


def train(env_id: str, env_kwargs: dict, out: str | Path, *, algo: str = "ppo", config: str | Path | None = None,
          steps: int | None = None, n_envs: int | None = None, resume: bool = False, seed: int = 0,
          eval_every: int = 20_000, progress: bool = True) -> dict:
    """Train and save; returns the run summary written to ``train.json``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; allowed: {', '.join(ALGOS)}")
    config = Path(config) if config else Path(__file__).parent / "configs" / f"{algo}.yml"
    hp = load_hyperparams(config, env_id)
    n_envs = n_envs or hp.get("n_envs", 1)
    steps = steps or int(hp.get("n_timesteps", 1_000_000))
    normalize = hp.get("normalize", False)
    normalize = {} if normalize is True else (normalize or None)
    policy = hp.get("policy", "MlpPolicy")
    kwargs = {k: v for k, v in hp.items() if k not in _ZOO_ONLY}
    env_kwargs = {**hp.get("env_kwargs", {}), **env_kwargs}  # the command line wins over the config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_path, stats_path = out / "model.zip", out / "vecnormalize.pkl"
    if resume and not model_path.is_file():
        raise ValueError(f"--resume: no {model_path} to continue from")
    if not resume and model_path.is_file():
        raise FileExistsError(f"{out} already holds a model; pass --resume to continue it or choose another --out")

    # Each worker creates its own PyBullet client: gym.make runs in the worker process.
    vec_cls = SubprocVecEnv if n_envs > 1 else DummyVecEnv
    factory = functools.partial(make_env, env_id)
    monitor = {"info_keywords": ("rot",)}  # the episode's rotation, for the learning curve
    env = make_vec_env(factory, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs, vec_env_cls=vec_cls,
                       monitor_kwargs=monitor)
    eval_env = make_vec_env(factory, n_envs=1, seed=seed + 10_000, env_kwargs=env_kwargs, monitor_kwargs=monitor)
    if normalize is not None:
        env = VecNormalize.load(str(stats_path), env) if resume else VecNormalize(env, **normalize)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False, **{k: v for k, v in normalize.items()
                                                                                if k not in ("norm_reward",)})
    if resume:
        model = PPO.load(model_path, env=env, device="cpu", tensorboard_log=str(out / "tb"))
    else:
        model = PPO(policy, env, seed=seed, device="cpu", tensorboard_log=str(out / "tb"), verbose=0, **kwargs)
    callbacks = [
        EvalCallback(eval_env, best_model_save_path=str(out), log_path=str(out / "eval"),
                     eval_freq=max(eval_every // n_envs, 1), n_eval_episodes=5, deterministic=True, verbose=0),
        CheckpointCallback(save_freq=max(5 * eval_every // n_envs, 1), save_path=str(out / "checkpoints"),
                           save_vecnormalize=normalize is not None, verbose=0),
        rotation_curve_callback(out / CURVE_FILE),
    ]
    start = time.perf_counter()
    try:
        model.learn(total_timesteps=steps, callback=callbacks, progress_bar=progress, reset_num_timesteps=not resume,
                    tb_log_name=algo)
    finally:
        model.save(model_path)
        if normalize is not None:
            env.save(str(stats_path))
        env.close()
        eval_env.close()
    summary = {"env": env_id, "env_kwargs": env_kwargs, "algo": algo, "config": str(config), "seed": seed,
               "n_envs": n_envs, "steps_this_run": steps, "total_env_steps": int(model.num_timesteps),
               "wall_s": time.perf_counter() - start, "resumed": resume}
    (out / "train.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(args) -> None:
    """The ``dexndm train`` command (arguments parsed in :mod:`baselines.cli`)."""
    from baselines.collect import parse_env_kwargs

    kwargs = parse_env_kwargs(args.env_kwargs)
    s = train(args.env, kwargs, args.out, algo=args.algo, config=args.config, steps=args.steps, n_envs=args.n_envs,
              resume=args.resume, seed=args.seed)
    print(f"{s['total_env_steps']} env steps ({s['steps_this_run']} this run) in {s['wall_s']:.0f} s -> "
          f"{Path(args.out) / 'model.zip'} (+ vecnormalize.pkl, best_model.zip, tb/)")
