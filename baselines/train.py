"""``dexndm train``: Stable-Baselines3 training on the DexNDM envs, CleanRL-style, top to bottom.

Hyperparameters come from a file in the rl-baselines3-zoo format (``baselines/configs/ppo.yml``, keyed
by env id), so ``python -m rl_zoo3.train ... --conf-file baselines/configs/ppo.yml`` reads the same
settings. The output directory holds ``model.zip`` with ``vecnormalize.pkl`` beside it (what
``dexndm eval`` and ``dexndm collect --policy`` load), ``best_model.zip`` from the EvalCallback (after
its first evaluation, every ``eval_every`` steps), ``checkpoints/`` (every five evaluations),
tensorboard logs in ``tb/``, the run record ``train.json`` (env, kwargs, steps and wall time;
:func:`baselines.policy.read_run_record` reads it) and the learning curve (``curve.csv``: mean
rotation and TTF of the last 100 training episodes after every rollout; ``curve.png``).
PPO collects whole rollouts of ``n_steps x n_envs`` steps, so the steps asked for are rounded up to
a whole number of them (and a warning says so). ``--resume`` continues from ``model.zip`` and its
statistics.
"""

from __future__ import annotations

import functools
import logging
import pickle
import time
from pathlib import Path

import yaml

from baselines.policy import RUN_RECORD, read_run_record
from baselines.residual_gait import DEFAULT_SCALE, GaitResidual, GaitResidualWrapper
from dexndm_envs.fileio import atomic_write, write_json
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)
ALGOS = ("ppo",)
_ZOO_ONLY = ("n_envs", "n_timesteps", "policy", "normalize", "env_wrapper", "frame_stack", "callback", "env_kwargs")
CURVE_FILE = "curve.csv"
OUTPUTS = ("model.zip", "vecnormalize.pkl", "best_model.zip", "checkpoints", "tb", RUN_RECORD, CURVE_FILE, "curve.png")
"""What a run directory may hold (``best_model.zip`` and ``checkpoints`` only once an evaluation or a
checkpoint was due)."""


def make_env(env_id: str, residual: dict | None = None, **kwargs):
    """``gym.make`` in a worker process: import the package that registers the DexNDM ids first (a
    SubprocVecEnv worker is a fresh interpreter that has not imported it). ``residual`` (``{"gait":
    path, "scale": rad}``) wraps the env for a residual policy over that gait
    (:class:`baselines.residual_gait.GaitResidualWrapper`)."""
    import gymnasium as gym

    import dexndm_envs  # noqa: F401

    env = gym.make(env_id, **kwargs)
    return GaitResidualWrapper(env, residual["gait"], residual["scale"]) if residual else env


def rotation_curve_callback(path: Path, resume: bool = False):
    """A callback that, after every rollout, logs the mean rotation (rad per episode, from the env's
    cumulative ``info["rot"]`` that Monitor keeps at episode end) and TTF (episode length / 400 steps)
    of the last 100 training episodes to tensorboard (``rollout/rot_rad``, ``rollout/ttf``) and writes
    them to ``path`` as CSV rows ``env_steps,rot_rad,ttf,episodes`` (the learning curve; a resumed run
    appends to it, a new one starts it afresh)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class RotationCurve(BaseCallback):
        def _on_training_start(self) -> None:
            if not (resume and path.is_file()):
                atomic_write(path, "env_steps,rot_rad,ttf,episodes\n")

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            infos = self.model.ep_info_buffer  # Monitor(info_keywords=("rot",)) adds "rot" to each
            if not infos:
                return
            rot = sum(i["rot"] for i in infos) / len(infos)
            ttf = sum(min(i["l"] / EPISODE_STEPS, 1.0) for i in infos) / len(infos)
            self.logger.record("rollout/rot_rad", rot)
            self.logger.record("rollout/ttf", ttf)
            atomic_write(path, path.read_text() + f"{self.model.num_timesteps},{rot:.4f},{ttf:.4f},{len(infos)}\n")

    return RotationCurve()


def plot_learning_curve(csv_path: str | Path, png_path: str | Path, title: str = "") -> Path:
    """Rotation (rad per 20 s episode) and TTF against env steps, from a run's ``curve.csv``."""
    import numpy as np

    from baselines import plots

    data = np.genfromtxt(csv_path, delimiter=",", names=True, ndmin=1)
    if data.size == 0:
        raise ValueError(f"{csv_path} has no finished training episodes to plot")
    fig, rot_ax = plots.figure(size=(6, 3.5))
    rot_ax.plot(data["env_steps"], data["rot_rad"], color="C0", lw=1.2)
    rot_ax.axhline(2 * np.pi, color="C0", ls=":", lw=1, label="one turn per episode")
    rot_ax.set_xlabel("env steps")
    rot_ax.set_ylabel("rotation per episode (rad)", color="C0")
    ttf_ax = rot_ax.twinx()
    ttf_ax.plot(data["env_steps"], data["ttf"], color="C1", lw=1, alpha=0.7)
    ttf_ax.set_ylim(0, 1.05)
    ttf_ax.set_ylabel("TTF (fraction of 20 s)", color="C1")
    rot_ax.legend(loc="upper left", fontsize=8)
    rot_ax.set_title(title or "training episodes (stochastic policy, mean of the last 100)")
    rot_ax.grid(alpha=0.3)
    return plots.save(fig, png_path, dpi=90)


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
          warm_start: str | None = None, warm_start_episodes: int = 20, residual_over: str | None = None,
          residual_scale: float | None = None, eval_every: int = 20_000, progress: bool = True) -> dict:
    """Train and save; returns the run summary written to ``train.json``. ``warm_start`` (anything
    ``--policy`` accepts) is cloned into a new model first (:mod:`baselines.warm_start`);
    ``residual_over`` (a gait file) makes the model a residual over that gait, moving its wanted targets
    by up to ``residual_scale`` rad (:mod:`baselines.residual_gait`; the gait is copied into ``out``)."""
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
    if resume and warm_start:
        raise ValueError("--warm-start starts a new model; it cannot be combined with --resume")
    if not resume and model_path.is_file():
        raise FileExistsError(f"{out} already holds a model; pass --resume to continue it or choose another --out")
    if residual_over and (resume or warm_start):
        raise ValueError("--residual-over starts a new model (a resumed run keeps its own gait); it cannot be "
                         "combined with --resume or --warm-start")
    record = read_run_record(out) if resume else None
    residual = record.residual if record else None  # a resumed run keeps its gait
    if residual_over:
        scale = DEFAULT_SCALE if residual_scale is None else residual_scale
        GaitResidual(residual_over, scale)  # a bad gait file or scale fails here, before any env starts
        atomic_write(out / "gait.json", Path(residual_over).read_bytes())
        residual = {"gait": str(out / "gait.json"), "scale": float(scale)}
        # say so at once: the checkpoints written during the run only make sense with their gait
        write_json(out / RUN_RECORD, {"env": env_id, "env_kwargs": env_kwargs,
                                      "residual": {"gait": "gait.json", "scale": float(scale)}})

    start = time.perf_counter()  # wall time includes the warm start
    # Each worker creates its own PyBullet client: gym.make runs in the worker process.
    vec_cls = SubprocVecEnv if n_envs > 1 else DummyVecEnv
    factory = functools.partial(make_env, env_id, residual=residual)
    monitor = {"info_keywords": ("rot",)}  # the episode's rotation, for the learning curve
    env = make_vec_env(factory, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs, vec_env_cls=vec_cls,
                       monitor_kwargs=monitor)
    eval_env = make_vec_env(factory, n_envs=1, seed=seed + 10_000, env_kwargs=env_kwargs, monitor_kwargs=monitor)
    if normalize is not None:
        env = VecNormalize.load(str(stats_path), env) if resume else VecNormalize(env, **normalize)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False, **{k: v for k, v in normalize.items()
                                                                                if k not in ("norm_reward",)})
    warm = None
    try:  # the envs hold worker processes: close them if the model cannot be built or warm-started
        if resume:
            model = PPO.load(model_path, env=env, device="cpu", tensorboard_log=str(out / "tb"))
        else:
            model = PPO(policy, env, seed=seed, device="cpu", tensorboard_log=str(out / "tb"), verbose=0, **kwargs)
        if warm_start:
            from baselines.warm_start import warm_start as clone

            warm = clone(model, env if normalize is not None else None,
                         functools.partial(make_env, env_id, **env_kwargs), warm_start, episodes=warm_start_episodes,
                         seed=seed)
    except BaseException:
        env.close()
        eval_env.close()
        raise
    callbacks = [
        EvalCallback(eval_env, best_model_save_path=str(out), log_path=str(out / "eval"),
                     eval_freq=max(eval_every // n_envs, 1), n_eval_episodes=5, deterministic=True, verbose=0),
        CheckpointCallback(save_freq=max(5 * eval_every // n_envs, 1), save_path=str(out / "checkpoints"),
                           save_vecnormalize=normalize is not None, verbose=0),
        rotation_curve_callback(out / CURVE_FILE, resume),
    ]
    rollout = model.n_steps * model.n_envs
    if steps % rollout:  # learn() runs whole rollouts: say what will run, and let the progress bar count it
        rounded = -(-steps // rollout) * rollout
        log.warning("%d steps rounded up to %d: PPO collects whole rollouts of n_steps x n_envs = %d x %d steps",
                    steps, rounded, model.n_steps, model.n_envs)
        steps = rounded
    try:
        model.learn(total_timesteps=steps, callback=callbacks, progress_bar=progress, reset_num_timesteps=not resume,
                    tb_log_name=algo)
    finally:
        atomic_write(model_path, model.save)
        if normalize is not None:
            atomic_write(stats_path, lambda f: pickle.dump(env, f))  # what VecNormalize.save writes
        env.close()
        eval_env.close()
    summary = {"env": env_id, "env_kwargs": env_kwargs, "algo": algo, "config": str(config), "seed": seed,
               "n_envs": n_envs, "steps_this_run": steps, "total_env_steps": int(model.num_timesteps),
               "wall_s": time.perf_counter() - start, "resumed": resume, "warm_start": warm,
               "residual": residual and {"gait": "gait.json", "scale": residual["scale"]}}
    write_json(out / RUN_RECORD, summary)
    if (out / CURVE_FILE).read_text().count("\n") > 1:  # at least one rollout with finished episodes
        condition = " ".join(str(env_kwargs[k]) for k in ("object", "wrist", "axis") if k in env_kwargs)
        plot_learning_curve(out / CURVE_FILE, out / "curve.png", f"{env_id} {condition}")
    return summary
