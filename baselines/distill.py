"""``dexndm distill``: privileged oracles -> one proprioceptive generalist, by behaviour cloning and DAgger.

Read top to bottom:

1. Each teacher is a ``dexndm train`` output (``model.zip``, ``vecnormalize.pkl`` and ``train.json``,
   which names its env and env kwargs: object, wrist, axis, privileged observations).
2. Every teacher rolls out ``episodes`` episodes in its own env (deterministic actions). Episodes that
   kept the object (no fall) and turned it at least ``min_rot`` rad about the axis are the successful
   rollouts; their proprioceptive observations and the teacher's actions are the first training set.
3. The student, a residual MLP (the paper's generalist, sized for a CPU: see
   :class:`~baselines.generalist.ResidualMLP`), is
   fitted to the teacher's actions (mean squared error, early stopping on a held-out tenth).
4. ``dagger_rounds`` times: the student drives each teacher's env, the teacher labels every state the
   student visits (it sees the privileged observation of the same state), the labels join the data and
   the student is fitted again. This corrects the drift of pure cloning (states the teacher never
   visits), which is what makes a cloned rotation policy keep rotating for 20 s.
5. After every fit the student drives the same probe episodes (a quarter of ``episodes`` per
   teacher); the student of the round that rotated most is the one saved (``selected_round``).

The student sees only what a real hand gives (:mod:`baselines.generalist`: the network, its checkpoint
and its action source) and acts in LeapRotate's relative action space ([-1, 1], motor order); the
checkpoint keeps the observation normalisation and the teachers it came from.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the env ids)
from baselines.episodes import episode_seeds
from baselines.gait import PeriodicGaitSource
from baselines.generalist import GENERALIST_FORMAT, ResidualMLP, act, input_dim, student_input
from baselines.policy import RUN_RECORD, PolicySource, read_run_record
from dexndm_envs.dynamics.checkpoint import save_checkpoint
from dexndm_envs.dynamics.dataset import split_episodes
from dexndm_envs.dynamics.training import early_stopping_loop, torch_threads
from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)


def read_teacher(path: str | Path) -> dict:
    """A teacher's env and env kwargs, from the run record (``train.json``) that ``dexndm train`` wrote
    beside it (:func:`baselines.policy.read_run_record`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no teacher checkpoint at {path}")
    record = read_run_record(path.parent)
    if record is None:
        raise ValueError(f"{path}: no {RUN_RECORD} beside it to say which env and kwargs it was trained on "
                         "(teachers are `dexndm train` outputs)")
    if record.obs_mode != "privileged":
        log.warning("%s was not trained on privileged observations; distilling it anyway", path)
    period = PeriodicGaitSource(record.residual["gait"]).period if record.residual else None
    return {"path": str(path), "env": record.env, "env_kwargs": record.env_kwargs, "gait_period": period}


def off_clock_teachers(specs: list[dict], clock_period: float | None) -> list[str]:
    """The teachers (:func:`read_teacher` dicts) whose gait period (policy steps) is not ``clock_period``:
    a student clocked at another period reads a phase that drifts against theirs. None without a clock."""
    return [s["path"] for s in specs if clock_period and s["gait_period"] not in (None, clock_period)]


def rollouts(teacher: dict, student: ResidualMLP | None, episodes: int, seed: int, steps: int = EPISODE_STEPS,
             progress: bool = True, clock_period: float | None = None, action_noise: float = 0.0) -> list[dict]:
    """``episodes`` episodes in the teacher's env, driven by the teacher (``student=None``) or by the
    student; every step is labelled with the teacher's action. ``teacher`` is :func:`read_teacher`'s
    dict, optionally with its loaded ``"source"``. ``action_noise`` (the standard deviation of Gaussian
    noise in LeapRotate's relative action units, [-1, 1]) perturbs the action the teacher drives with, not
    its label, so the data holds states off the teacher's path and how it returns from them (DART,
    Laskey et al. 2017); the noise is drawn from a generator seeded by the episode. Returns per episode
    the student's inputs [T, input_dim(clock_period)] (:func:`~baselines.generalist.student_input`),
    labels [T, 16] and metrics (rot_rad, ttf, fell)."""
    oracle = teacher.get("source") or PolicySource(teacher["path"])
    env = gym.make(teacher["env"], **teacher["env_kwargs"])
    out = []
    try:
        for i in tqdm(range(episodes), desc=f"rollouts ({'student' if student else 'teacher'})", unit="episode",
                      disable=not progress):
            env_seed, rng = episode_seeds(seed, i)
            oracle.reset(rng)  # a residual teacher restarts its gait
            noise = np.random.default_rng([env_seed, 1])
            obs, _ = env.reset(seed=env_seed)
            observations, labels = [], []
            fell = False
            for t in range(steps):
                label = oracle(obs)
                x = student_input(obs, t, clock_period)
                observations.append(x)
                labels.append(label)
                action = label if student is None else act(student, x)
                if action_noise:
                    action = np.clip(action + action_noise * noise.normal(size=NUM_JOINTS), -1.0, 1.0)
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    fell = terminated
                    break
            metrics = env.unwrapped.episode_metrics()
            out.append({"obs": np.asarray(observations, np.float32), "labels": np.asarray(labels, np.float32),
                        "rot_rad": float(metrics["rot_rad"]), "ttf": float(metrics["ttf"]), "fell": fell})
    finally:
        env.close()
    return out


def rollout_seed(seed: int, teacher: int, stage: int) -> int:
    """The episode seed base of one teacher's rollouts in one stage (0: teacher, r > 0: DAgger round r,
    negative: the probes), distinct for every combination."""
    return int(np.random.SeedSequence([seed, teacher, stage + 1_000_000]).generate_state(1)[0])


def fit_student(student: ResidualMLP, episodes: list[dict], *, epochs: int, batch_size: int, lr: float,
                patience: int, seed: int, progress: bool) -> dict:
    """Fit the student to the labels (MSE), early stopping on a tenth of the episodes held out."""
    if len(episodes) >= 2:
        train_ep, eval_ep = split_episodes(len(episodes), seed)
    else:  # one episode cannot be split: score on the training data
        train_ep = eval_ep = np.arange(len(episodes))

    def stack(idx: np.ndarray, key: str) -> torch.Tensor:
        return torch.as_tensor(np.concatenate([episodes[i][key] for i in idx]))

    x, y = stack(train_ep, "obs"), stack(train_ep, "labels")
    xe, ye = stack(eval_ep, "obs"), stack(eval_ep, "labels")
    student.set_normalisation(x)

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        return ((student(x[batch]) - y[batch]) ** 2).mean()

    def eval_loss() -> float:
        with torch.no_grad():
            return float(((student(xe) - ye) ** 2).mean())

    result = early_stopping_loop(student, torch.arange(len(x)), batch_loss, eval_loss, epochs=epochs,
                                 batch_size=batch_size, lr=lr, patience=patience, seed=seed,
                                 desc="fit generalist", progress=progress)
    return {"train_samples": len(x), "eval_samples": len(xe), "best_eval_mse": result["best_eval_loss"],
            "epochs_run": result["epochs_run"]}


def distill(teachers: list[str | Path], out: str | Path, *, episodes: int = 20, dagger_rounds: int = 2,
            dagger_episodes: int | None = None, min_rot: float = np.pi, hidden: int = 256, blocks: int = 2,
            epochs: int = 100, batch_size: int = 256, lr: float = 1e-3, patience: int = 10, seed: int = 0,
            steps: int = EPISODE_STEPS, clock_period: float | None = None, action_noise: float = 0.0,
            threads: int | None = 1, progress: bool = True) -> dict:
    """Distill ``teachers`` (SB3 ``model.zip`` paths) into one generalist saved at ``out``; returns the
    report (also stored in the checkpoint's ``info``): data per round, fit scores, student rollouts.
    ``clock_period`` (policy steps) gives the student the phase clock
    (:func:`~baselines.generalist.student_input`); it should be the period of the residual-gait teachers'
    gaits (each teacher's is in the report's ``gait_period``; a warning names those that differ).
    ``action_noise`` perturbs the teachers' own rollouts (:func:`rollouts`), not the DAgger rounds'."""
    if episodes < 1 or dagger_rounds < 0 or not action_noise >= 0:
        raise ValueError(f"episodes must be >= 1, dagger_rounds >= 0 and action_noise >= 0; got {episodes}, "
                         f"{dagger_rounds}, {action_noise}")
    if clock_period is not None and not clock_period > 0:
        raise ValueError(f"the clock period is a positive number of policy steps; got {clock_period}")
    specs = [read_teacher(t) for t in teachers]
    off_clock = off_clock_teachers(specs, clock_period)
    if off_clock:
        log.warning("the clock's period (%s steps) is not the gait period of %s: the student's phase will not be "
                    "its teachers'", clock_period, ", ".join(off_clock))
    sources = [PolicySource(spec["path"]) for spec in specs]  # loaded once, used by every rollout
    dagger_episodes = dagger_episodes or episodes
    start = time.perf_counter()
    torch.manual_seed(seed)
    student = ResidualMLP(in_dim=input_dim(clock_period), hidden=hidden, blocks=blocks)
    report: dict = {"teachers": specs, "rounds": [], "clock_period": clock_period, "action_noise": action_noise}
    with torch_threads(threads):
        data = []
        teacher_scores = []
        for k, spec in enumerate(specs):
            eps = rollouts({**spec, "source": sources[k]}, None, episodes, rollout_seed(seed, k, 0), steps, progress,
                           clock_period, action_noise)
            good = [e for e in eps if not e["fell"] and e["rot_rad"] >= min_rot]
            teacher_scores.append({"teacher": spec["path"], "episodes": len(eps), "successful": len(good),
                                   "rot_rad": float(np.mean([e["rot_rad"] for e in eps]))})
            data += good
        if not data:
            raise ValueError(f"no successful teacher rollouts (rotation >= {min_rot:.2f} rad without a fall) to "
                             f"clone: {teacher_scores}; lower --min-rot or train the oracles longer")
        report["teacher_rollouts"] = teacher_scores
        fit_kw = dict(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, progress=progress)
        best = None  # (probe rotation, round, weights)
        for rnd in range(dagger_rounds + 1):
            if rnd > 0:  # DAgger: the student drives, the teachers label
                for k, spec in enumerate(specs):
                    data += rollouts({**spec, "source": sources[k]}, student, dagger_episodes,
                                     rollout_seed(seed, k, rnd), steps, progress, clock_period)
            scores = fit_student(student, data, seed=seed + rnd, **fit_kw)
            probe = [e for k, spec in enumerate(specs)  # the same probe episodes every round
                     for e in rollouts({**spec, "source": sources[k]}, student, max(1, episodes // 4),
                                       rollout_seed(seed, k, -1), steps, progress, clock_period)]
            scores.update(round=rnd, student_rot_rad=float(np.mean([e["rot_rad"] for e in probe])),
                          student_ttf=float(np.mean([e["ttf"] for e in probe])))
            log.info("round %d: %s", rnd, scores)
            report["rounds"].append(scores)
            if best is None or scores["student_rot_rad"] > best[0]:
                best = (scores["student_rot_rad"], rnd, copy.deepcopy(student.state_dict()))
        # DAgger's rounds do not improve monotonically: keep the student that rotated most on the probes
        student.load_state_dict(best[2])
        report["selected_round"] = best[1]
    report["wall_s"] = time.perf_counter() - start
    config = {"in_dim": input_dim(clock_period), "out_dim": NUM_JOINTS, "hidden": hidden, "blocks": blocks}
    save_checkpoint(out, GENERALIST_FORMAT, student, "residual_mlp", config, info=report)
    return report
