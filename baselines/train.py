"""``dexndm train``: Stable-Baselines3 training on the DexNDM envs, CleanRL-style, top to bottom.

Algorithms (:data:`~baselines.policy.ALGOS`): PPO and SAC from Stable-Baselines3, TQC and CrossQ from
sb3-contrib, each with generalized state-dependent exploration (gSDE, ``use_sde``) where its config
asks for it. Hyperparameters come from a file in the rl-baselines3-zoo format
(``baselines/configs/<algo>.yml``, keyed by env id), so ``python -m rl_zoo3.train --algo <algo> ...
--conf-file baselines/configs/<algo>.yml`` reads the same settings. The environments run ``n_envs /
n_workers`` to a worker process (:class:`baselines.vec_env.MultiEnvSubprocVecEnv`, one worker per
core by default), so the policy acts on a batch of all of them at once.

The output directory holds ``model.zip`` with ``vecnormalize.pkl`` beside it (what ``dexndm eval`` and
``dexndm collect --policy`` load), ``best_model.zip`` from the EvalCallback (after its first
evaluation, every ``eval_every`` steps), ``checkpoints/`` (at every evaluation),
``replay_buffer.pkl`` for the off-policy learners (what ``--resume`` needs to continue them),
tensorboard logs in ``tb/``, the run record ``train.json`` (env, kwargs, algorithm, steps, wall time
and CPU hours, the totals summed over resumed parts; :func:`baselines.policy.read_run_record` reads
it) and the learning curve (``curve.csv``: mean rotation and TTF of the last 100 training episodes
after every PPO rollout or every ~2k off-policy steps, with the wall time; ``curve.png``).

PPO collects whole rollouts of ``n_steps x n_envs`` steps and the off-policy learners whole chunks of
``train_freq x n_envs``, so the steps asked for are rounded up to a whole number of them (and a
warning says so). ``--resume`` continues from ``model.zip``, its statistics and (off-policy) its
replay buffer; ``--steps`` then counts the steps still to run, so a long training runs in parts.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from baselines.cputime import cpu_seconds
from baselines.policy import RUN_RECORD, algo_class, read_run_record
from baselines.residual_gait import DEFAULT_SCALE, GaitResidual, GaitResidualWrapper, rescale_residual_policy
from dexndm_envs.fileio import atomic_write, write_json
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)
ON_POLICY = ("ppo",)
GAIT_SEARCH = "search"
"""``--residual-over search``: search the gait first, then train the residual over it."""
REPLAY_BUFFER = "replay_buffer.pkl"
_ZOO_ONLY = ("n_envs", "n_timesteps", "policy", "normalize", "env_wrapper", "frame_stack", "callback", "env_kwargs")
CURVE_FILE = "curve.csv"
OUTPUTS = ("model.zip", "vecnormalize.pkl", REPLAY_BUFFER, "best_model.zip", "checkpoints", "tb", RUN_RECORD,
           CURVE_FILE, "curve.png")
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


def every_steps_callback(every: int, action: Callable[[], object]):
    """A callback calling ``action()`` whenever ``every`` more env steps have run (SB3's
    ``EveryNTimesteps``)."""
    from stable_baselines3.common.callbacks import ConvertCallback, EveryNTimesteps

    def call(_locals: dict, _globals: dict) -> bool:
        action()
        return True

    return EveryNTimesteps(every, ConvertCallback(call))


def make_training_env(factory, n_envs: int, n_workers: int, seed: int, env_kwargs: dict | None = None,
                      monitor_kwargs: dict | None = None):
    """``n_envs`` Monitor-wrapped copies of ``factory(**env_kwargs)``, seeded ``seed + i``, in
    ``n_workers`` processes (:class:`~baselines.vec_env.MultiEnvSubprocVecEnv`; in this process when
    ``n_workers`` is 1). The vec env of ``dexndm train`` and of ``benchmarks/training.py``."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    from baselines.vec_env import MultiEnvSubprocVecEnv

    if n_workers > 1:
        vec_cls, vec_kwargs = MultiEnvSubprocVecEnv, {"n_workers": n_workers}
    else:
        vec_cls, vec_kwargs = DummyVecEnv, None
    return make_vec_env(factory, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs, vec_env_cls=vec_cls,
                        vec_env_kwargs=vec_kwargs, monitor_kwargs=monitor_kwargs)


def rotation_curve_callback(path: Path, resume: bool = False, every: int = 2048):
    """A callback that, after a rollout that ends at least ``every`` env steps after the last row (every
    PPO rollout; every ``train_freq`` chunk of an off-policy learner, thinned), logs the mean rotation
    (rad per episode, from the env's cumulative ``info["rot"]`` that Monitor keeps at episode end) and
    TTF (episode length / 400 steps) of the last 100 training episodes to tensorboard
    (``rollout/rot_rad``, ``rollout/ttf``) and appends them to ``path`` as CSV rows
    ``env_steps,rot_rad,ttf,episodes,wall_s`` (the learning curve, wall time since the run's first
    start; a resumed run appends to it, a new one starts it afresh)."""
    from stable_baselines3.common.callbacks import BaseCallback

    columns = "env_steps,rot_rad,ttf,episodes,wall_s\n"

    class RotationCurve(BaseCallback):
        def _on_training_start(self) -> None:
            self.last_row, self.wall0 = -every, 0.0
            if resume and path.is_file() and path.read_text().startswith(columns):
                # rows after the model's last save (a run killed from outside) are dropped: they are redone
                rows = [r for r in path.read_text().splitlines()[1:]
                        if int(r.split(",")[0]) <= self.model.num_timesteps]
                atomic_write(path, columns + "".join(r + "\n" for r in rows))
                if rows:
                    self.wall0 = float(rows[-1].split(",")[-1])
            else:
                atomic_write(path, columns)
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            infos = self.model.ep_info_buffer  # Monitor(info_keywords=("rot",)) adds "rot" to each
            if not infos or self.model.num_timesteps - self.last_row < every:
                return
            self.last_row = self.model.num_timesteps
            rot = sum(i["rot"] for i in infos) / len(infos)
            ttf = sum(min(i["l"] / EPISODE_STEPS, 1.0) for i in infos) / len(infos)
            self.logger.record("rollout/rot_rad", rot)
            self.logger.record("rollout/ttf", ttf)
            wall = self.wall0 + time.perf_counter() - self.start
            atomic_write(path, path.read_text()
                         + f"{self.model.num_timesteps},{rot:.4f},{ttf:.4f},{len(infos)},{wall:.1f}\n")

    return RotationCurve()


def torch_threads_callback(updating: int):
    """A callback giving torch one thread while the workers step the envs (this process only infers,
    and must not take their cores) and ``updating`` threads for the gradient updates between rollouts,
    when the workers wait."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    class TorchThreads(BaseCallback):
        def _on_rollout_start(self) -> None:
            torch.set_num_threads(1)

        def _on_rollout_end(self) -> None:
            torch.set_num_threads(updating)

        def _on_step(self) -> bool:
            return True

        def _on_training_end(self) -> None:
            torch.set_num_threads(updating)

    return TorchThreads()


def penalty_curriculum_callback(steps: int):
    """A callback scaling the env's motion penalties (every ``*_penalty_weight`` but the fall penalty)
    by ``min(1, t / steps)`` at the start of each rollout, t the env steps so far: the policy first
    learns to turn the object, then to do it economically. The weights it scales to are the envs'
    own at the start of training (the config's, or the command line's)."""
    import inspect

    from stable_baselines3.common.callbacks import BaseCallback

    from dexndm_envs.envs.leap_rotate_v0 import LeapRotateEnv

    names = [n for n in inspect.signature(LeapRotateEnv).parameters
             if n.endswith("_penalty_weight") and n != "fall_penalty_weight"]

    class PenaltyCurriculum(BaseCallback):
        def _on_training_start(self) -> None:
            self.full = {n: self.training_env.get_attr(n, [0])[0] for n in names}

        def _on_rollout_start(self) -> None:
            factor = min(1.0, self.model.num_timesteps / steps)
            for name, weight in self.full.items():
                self.training_env.set_attr(name, weight * factor)
            self.logger.record("train/penalty_factor", factor)

        def _on_step(self) -> bool:
            return True

    return PenaltyCurriculum()


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


def model_settings(hp: dict) -> tuple[str, dict, dict | None]:
    """A zoo-format entry (:func:`load_hyperparams`) split into the policy name, the model's keyword
    arguments (the zoo-only keys removed) and VecNormalize's keyword arguments (None: no normalisation)."""
    normalize = hp.get("normalize", False)
    normalize = {} if normalize is True else (normalize or None)
    return hp.get("policy", "MlpPolicy"), {k: v for k, v in hp.items() if k not in _ZOO_ONLY}, normalize


def train(env_id: str, env_kwargs: dict, out: str | Path, *, algo: str = "ppo", config: str | Path | None = None,
          steps: int | None = None, n_envs: int | None = None, n_workers: int | None = None, resume: bool = False,
          seed: int = 0, warm_start: str | None = None, warm_start_episodes: int = 20,
          residual_over: str | None = None, residual_scale: float | None = None, asymmetric: bool = False,
          penalty_curriculum: int = 0, gait_search: dict | list[dict] | None = None, eval_every: int = 100_000,
          progress: bool = True) -> dict:
    """Train and save; returns the run summary written to ``train.json``.

    ``n_envs`` environments (default: the config's) run in ``n_workers`` processes (default: one per
    core, at most ``n_envs``). ``warm_start`` (anything ``--policy`` accepts) is cloned into a new PPO
    model first (:mod:`baselines.warm_start`); ``residual_over`` (a gait file) makes the model a
    residual over that gait, moving its wanted targets by up to ``residual_scale`` rad
    (:mod:`baselines.residual_gait`; the gait is copied into ``out``); resumed with another
    ``residual_scale``, the residual policy is rescaled to act as before with the new authority
    (:func:`~baselines.residual_gait.rescale_residual_policy`); ``residual_over="search"`` first
    searches the gait on the training env (:func:`baselines.gait_search.search_stages`, with ``gait_search``'s
    settings if given, or a list of them searched in turn, each stage's ``env_kwargs`` merged over the
    training env's for the search only; ~4 min per stage on 2 cores at the search's defaults) and writes
    it to ``out/gait.json``: the
    oracle recipe in one call. ``asymmetric`` trains PPO's actor on
    the proprioceptive part of the privileged observation only (:mod:`baselines.asymmetric`).
    ``penalty_curriculum`` (env steps) ramps the motion penalties from 0 to their weights over that many
    steps (:func:`penalty_curriculum_callback`)."""
    import torch
    from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
    from stable_baselines3.common.vec_env import VecNormalize

    model_cls = algo_class(algo)
    config = Path(config) if config else Path(__file__).parent / "configs" / f"{algo}.yml"
    hp = load_hyperparams(config, env_id)
    n_envs = n_envs or hp.get("n_envs", 1)
    n_workers = n_workers or min(n_envs, os.cpu_count() or 1)
    if not 1 <= n_workers <= n_envs:
        raise ValueError(f"n_workers must be between 1 and n_envs ({n_envs}); got {n_workers}")
    steps = steps or int(hp.get("n_timesteps", 1_000_000))
    policy, kwargs, normalize = model_settings(hp)
    env_kwargs = {**hp.get("env_kwargs", {}), **env_kwargs}  # the command line wins over the config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_path, stats_path, buffer_path = out / "model.zip", out / "vecnormalize.pkl", out / REPLAY_BUFFER
    if resume and not model_path.is_file():
        raise ValueError(f"--resume: no {model_path} to continue from")
    if resume and warm_start:
        raise ValueError("--warm-start starts a new model; it cannot be combined with --resume")
    if warm_start and algo not in ON_POLICY:
        raise ValueError(f"--warm-start clones into a PPO model; it is not available with --algo {algo}")
    if not resume and model_path.is_file():
        raise FileExistsError(f"{out} already holds a model; pass --resume to continue it or choose another --out")
    if residual_over and (resume or warm_start):
        raise ValueError("--residual-over starts a new model (a resumed run keeps its own gait); it cannot be "
                         "combined with --resume or --warm-start")
    if asymmetric and (algo not in ON_POLICY or env_kwargs.get("obs_mode") != "privileged" or residual_over):
        raise ValueError("--asymmetric trains PPO's critic on the privileged observation: it needs --algo ppo, "
                         "obs_mode 'privileged' in the env kwargs, and no --residual-over")
    if penalty_curriculum < 0:
        raise ValueError(f"--penalty-curriculum is a number of env steps >= 0; got {penalty_curriculum}")
    record = read_run_record(out) if resume else None
    if record and record.info.get("algo", "ppo") != algo:
        raise ValueError(f"--resume: {out} was trained with --algo {record.info.get('algo', 'ppo')}, not {algo}")
    residual = record.residual if record else None  # a resumed run keeps its gait
    if residual_scale is not None and not residual and not residual_over:
        raise ValueError("--residual-scale is the authority of a residual over a gait: it needs --residual-over, "
                         "or --resume of a run trained with it")
    rescale = None  # a resumed residual given a new scale: (old, new) rad
    if residual and residual_scale is not None and residual_scale != residual["scale"]:
        GaitResidual(residual["gait"], residual_scale)  # a bad scale fails here, before any env starts
        rescale = (residual["scale"], float(residual_scale))
        residual = {**residual, "scale": float(residual_scale)}
    if residual_over == GAIT_SEARCH:
        from baselines.gait_search import search_stages

        search_kwargs = {k: v for k, v in env_kwargs.items() if k != "obs_mode"}
        log.info("searching a gait on %s %s first", env_id, search_kwargs)
        residual_over = search_stages(search_kwargs, gait_search or {}, out, seed=seed, progress=progress)
    if residual_over:
        scale = DEFAULT_SCALE if residual_scale is None else residual_scale
        GaitResidual(residual_over, scale)  # a bad gait file or scale fails here, before any env starts
        atomic_write(out / "gait.json", Path(residual_over).read_bytes())
        residual = {"gait": str(out / "gait.json"), "scale": float(scale)}
        # say so at once: the checkpoints written during the run only make sense with their gait
        write_json(out / RUN_RECORD, {"env": env_id, "env_kwargs": env_kwargs, "algo": algo,
                                      "residual": {"gait": "gait.json", "scale": float(scale)}})

    start, cpu_start = time.perf_counter(), cpu_seconds()  # both include the warm start
    # Each worker creates its own PyBullet clients: gym.make runs in the worker process.
    factory = functools.partial(make_env, env_id, residual=residual)
    monitor = {"info_keywords": ("rot",)}  # the episode's rotation, for the learning curve
    env = make_training_env(factory, n_envs, n_workers, seed, env_kwargs, monitor)
    eval_env = make_training_env(factory, 1, 1, seed + 10_000, env_kwargs, monitor)
    if normalize is not None:
        env = VecNormalize.load(str(stats_path), env) if resume else VecNormalize(env, **normalize)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False, **{k: v for k, v in normalize.items()
                                                                                if k not in ("norm_reward",)})
    warm = None
    try:  # the envs hold worker processes: close them if the model cannot be built or warm-started
        if resume:
            model = model_cls.load(model_path, env=env, device="cpu", tensorboard_log=str(out / "tb"))
            if model.seed != seed:  # loading re-seeds torch and the envs with the checkpoint's seed: ours wins
                model.seed = seed
                model.set_random_seed(seed)
            if rescale:
                rescale_residual_policy(model, *rescale)
                log.info("--residual-scale: the residual's authority goes from %.3g to %.3g rad, the policy "
                         "rescaled to act as before", *rescale)
            if algo not in ON_POLICY and buffer_path.is_file():
                model.load_replay_buffer(buffer_path)
            elif algo not in ON_POLICY:
                log.warning("--resume: no %s in %s; the learner continues with an empty replay buffer",
                            REPLAY_BUFFER, out)
        else:
            if asymmetric:
                from baselines.asymmetric import AsymmetricActorCriticPolicy

                policy = AsymmetricActorCriticPolicy
            model = model_cls(policy, env, seed=seed, device="cpu", tensorboard_log=str(out / "tb"), verbose=0,
                              **kwargs)
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
        CheckpointCallback(save_freq=max(eval_every // n_envs, 1), save_path=str(out / "checkpoints"),
                           save_vecnormalize=normalize is not None, verbose=0),
        rotation_curve_callback(out / CURVE_FILE, resume, every=1 if algo in ON_POLICY else 2048),
        torch_threads_callback(updating=torch.get_num_threads()),  # benchmarks/training.py measures it
    ]
    if penalty_curriculum:
        callbacks.append(penalty_curriculum_callback(penalty_curriculum))
    # learn() runs whole rollouts (PPO: n_steps per env) or whole train_freq chunks (off-policy, per env):
    # say what will run, and let the progress bar count it
    per_env = model.n_steps if algo in ON_POLICY else model.train_freq.frequency
    chunk = per_env * model.n_envs
    if steps % chunk:
        rounded = -(-steps // chunk) * chunk
        what = "rollouts of n_steps" if algo in ON_POLICY else "chunks of train_freq"
        log.warning("%d steps rounded up to %d: %s collects whole %s x n_envs = %d x %d steps",
                    steps, rounded, algo.upper(), what, per_env, model.n_envs)
        steps = rounded
    before = model.num_timesteps
    learn_start = time.perf_counter()
    earlier = record.info if record else {}

    def save(final: bool) -> dict:
        """Write the model, its statistics, (at the end, off-policy) the replay buffer and the run record
        as they stand: at the end, and every ``eval_every`` steps, so a run killed from outside resumes
        from its last save."""
        atomic_write(model_path, model.save)
        if normalize is not None:
            atomic_write(stats_path, lambda f: pickle.dump(env, f))  # what VecNormalize.save writes
        if final and algo not in ON_POLICY:
            atomic_write(buffer_path, model.save_replay_buffer)
        wall, cpu_s = time.perf_counter() - start, cpu_seconds() - cpu_start
        summary = {"env": env_id, "env_kwargs": env_kwargs, "algo": algo, "config": str(config), "seed": seed,
                   "n_envs": n_envs, "n_workers": n_workers, "steps_this_run": int(model.num_timesteps - before),
                   "total_env_steps": int(model.num_timesteps), "wall_s": wall,
                   "learn_s": time.perf_counter() - learn_start, "cpu_hours_this_run": cpu_s / 3600,
                   "total_wall_s": earlier.get("total_wall_s", earlier.get("wall_s", 0.0)) + wall,
                   "total_cpu_hours": earlier.get("total_cpu_hours", 0.0) + cpu_s / 3600,
                   "resumed": resume, "warm_start": warm,
                   "asymmetric": asymmetric or earlier.get("asymmetric", False),
                   "penalty_curriculum": penalty_curriculum or earlier.get("penalty_curriculum", 0),
                   "residual": residual and {"gait": "gait.json", "scale": residual["scale"]}}
        write_json(out / RUN_RECORD, summary)
        return summary

    callbacks.append(every_steps_callback(eval_every, lambda: save(final=False)))
    try:
        model.learn(total_timesteps=steps, callback=callbacks, progress_bar=progress, reset_num_timesteps=not resume,
                    tb_log_name=algo)
    finally:  # an interrupted run keeps what it learned, so --resume can continue it
        try:
            summary = save(final=True)
        finally:
            env.close()
            eval_env.close()
    if (out / CURVE_FILE).read_text().count("\n") > 1:  # at least one rollout with finished episodes
        condition = " ".join(str(env_kwargs[k]) for k in ("object", "wrist", "axis") if k in env_kwargs)
        plot_learning_curve(out / CURVE_FILE, out / "curve.png", f"{env_id} {condition}")
    return summary


def run_steps(out: str | Path) -> int:
    """The env steps the run in ``out`` holds: its run record's total where it has a saved model, else 0."""
    out = Path(out)
    record = read_run_record(out) if (out / "model.zip").is_file() else None
    return record.info.get("total_env_steps", 0) if record else 0


def train_to(total_steps: int, env_id: str, env_kwargs: dict, out: str | Path, **kwargs) -> dict:
    """Train the run in ``out`` until it holds ``total_steps`` env steps: start it, or resume it where an
    earlier (interrupted) part left it, or do nothing when it is already there; returns its run record.
    ``kwargs`` go to :func:`train`; a gait searched by an earlier part (``residual_over="search"``) is
    reused, not searched again."""
    out = Path(out)
    record = read_run_record(out) if (out / "model.zip").is_file() else None
    done = run_steps(out)
    if done >= total_steps:
        return record.info
    if record:
        kwargs = {k: v for k, v in kwargs.items() if k not in ("residual_over", "residual_scale", "gait_search")}
        return train(env_id, env_kwargs, out, steps=total_steps - done, resume=True, **kwargs)
    if kwargs.get("residual_over") == GAIT_SEARCH and (out / "gait.json").is_file():
        kwargs["residual_over"] = str(out / "gait.json")
    return train(env_id, env_kwargs, out, steps=total_steps, **kwargs)
