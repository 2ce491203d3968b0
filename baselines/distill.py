"""``dexndm distill``: privileged oracles -> one proprioceptive generalist, by behaviour cloning and DAgger.

Read top to bottom:

1. Each teacher is a ``dexndm train`` output (``model.zip``, ``vecnormalize.pkl`` and ``train.json``,
   which names its env and env kwargs: object, wrist, axis, privileged observations).
2. Every teacher rolls out ``episodes`` episodes in its own env (deterministic actions). Episodes that
   kept the object (no fall) and turned it at least ``min_rot`` rad about the axis are the successful
   rollouts; their proprioceptive observations and the teacher's actions are the first training set.
3. The student, a residual MLP (the paper's generalist, sized for a CPU: see :class:`ResidualMLP`), is
   fitted to the teacher's actions (mean squared error, early stopping on a held-out tenth).
4. ``dagger_rounds`` times: the student drives each teacher's env, the teacher labels every state the
   student visits (it sees the privileged observation of the same state), the labels join the data and
   the student is fitted again. This corrects the drift of pure cloning (states the teacher never
   visits), which is what makes a cloned rotation policy keep rotating for 20 s.
5. After every fit the student drives the same probe episodes (a quarter of ``episodes`` per
   teacher); the student of the round that rotated most is the one saved (``selected_round``).

The student sees only what a real hand gives: the first ``PROPRIO_DIM`` floats of the observation
(the last 10 (q, target) pairs, the wrist quaternion and the target axis, :mod:`dexndm_envs.interface`),
so one network is conditioned on wrist and axis through its input. It acts in LeapRotate's relative
action space ([-1, 1], motor order). The checkpoint (``dexndm-generalist`` format, see
:mod:`dexndm_envs.dynamics.checkpoint`) keeps the observation normalisation and the teachers it came from.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the env ids)
from baselines.collect import episode_seeds
from baselines.sources import PolicySource
from dexndm_envs.dynamics.checkpoint import read_checkpoint, save_checkpoint
from dexndm_envs.dynamics.dataset import split_episodes
from dexndm_envs.dynamics.training import early_stopping_loop, torch_threads
from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import PROPRIO_DIM
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)
GENERALIST_FORMAT = "dexndm-generalist"


class ResidualMLP(nn.Module):
    """Normalised proprioception -> tanh action: an input layer, ``blocks`` pre-norm residual blocks
    (LayerNorm, Linear, ELU, Linear, added to the stream), a LayerNorm and the output layer.

    The observation's mean and standard deviation are buffers, so they travel with the weights.
    """

    def __init__(self, in_dim: int = PROPRIO_DIM, out_dim: int = NUM_JOINTS, hidden: int = 256,
                 blocks: int = 2) -> None:
        super().__init__()
        self.register_buffer("obs_mean", torch.zeros(in_dim))
        self.register_buffer("obs_std", torch.ones(in_dim))
        self.inp = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, hidden))
            for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, out_dim))

    def set_normalisation(self, obs: torch.Tensor, min_std: float = 0.05) -> None:
        """Observation statistics from the training data. The scale is floored at ``min_std`` (rad for
        joint readings and targets): an input that barely moved in the data (a joint the teacher held,
        the wrist of a one-wrist teacher) must not turn a small change at run time into a huge input."""
        self.obs_mean.copy_(obs.mean(0))
        self.obs_std.copy_(obs.std(0).clamp_min(min_std))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.inp((obs - self.obs_mean) / self.obs_std)
        for block in self.blocks:
            h = h + block(h)
        return torch.tanh(self.out(h))


def load_generalist(path: str | Path) -> tuple[ResidualMLP, dict]:
    """The distilled policy in ``path`` and its checkpoint dict (``info`` says how it was made)."""
    return read_checkpoint(path, GENERALIST_FORMAT, {"residual_mlp": ResidualMLP})


def generalist_tasks(path: str | Path) -> set[tuple[str, str]]:
    """The (wrist, object) pairs a generalist's teachers were trained on (from its checkpoint's
    ``info``; LeapRotate's defaults where a teacher's env_kwargs leave one out)."""
    _, checkpoint = load_generalist(path)
    return {(t["env_kwargs"].get("wrist", "palm_up"), t["env_kwargs"].get("object", "cylinder"))
            for t in checkpoint["info"]["teachers"]}


class GeneralistSource:
    """A distilled generalist as an action source (deterministic; reads only the proprioceptive part of
    the observation, so it runs on ``obs_mode="proprio"`` and ``"privileged"`` envs and the real hand)."""

    def __init__(self, path: str | Path) -> None:
        self.model, _ = load_generalist(path)
        self.name = f"generalist:{Path(path).name}"

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to draw: the policy is deterministic."""

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        return act(self.model, observation)


def act(model: ResidualMLP, observation: np.ndarray) -> np.ndarray:
    """The generalist's action (float32, [-1, 1], motor order) from the proprioceptive part of an
    observation (a proprio or privileged one)."""
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(observation, dtype=np.float32)[:PROPRIO_DIM])).numpy()


def read_teacher(path: str | Path) -> dict:
    """A teacher's env and env kwargs, from the ``train.json`` that ``dexndm train`` wrote beside it."""
    path = Path(path)
    run = path.with_name("train.json")
    if not path.is_file():
        raise ValueError(f"no teacher checkpoint at {path}")
    if not run.is_file():
        raise ValueError(f"{path}: no train.json beside it to say which env and kwargs it was trained on "
                         "(teachers are `dexndm train` outputs)")
    try:
        info = json.loads(run.read_text())
        env_id, env_kwargs = info["env"], info["env_kwargs"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{run}: not a `dexndm train` run record ({type(e).__name__}: {e}); it must hold "
                         "'env' and 'env_kwargs'") from None
    if env_kwargs.get("obs_mode") != "privileged":
        log.warning("%s was not trained on privileged observations; distilling it anyway", path)
    return {"path": str(path), "env": env_id, "env_kwargs": env_kwargs}


def rollouts(teacher: dict, student: ResidualMLP | None, episodes: int, seed: int, steps: int = EPISODE_STEPS,
             progress: bool = True) -> list[dict]:
    """``episodes`` episodes in the teacher's env, driven by the teacher (``student=None``) or by the
    student; every step is labelled with the teacher's action. ``teacher`` is :func:`read_teacher`'s
    dict, optionally with its loaded ``"source"``. Returns per episode the proprioceptive observations
    [T, PROPRIO_DIM], labels [T, 16] and metrics (rot_rad, ttf, fell)."""
    oracle = teacher.get("source") or PolicySource(teacher["path"])
    env = gym.make(teacher["env"], **teacher["env_kwargs"])
    out = []
    try:
        for i in tqdm(range(episodes), desc=f"rollouts ({'student' if student else 'teacher'})", unit="episode",
                      disable=not progress):
            env_seed, rng = episode_seeds(seed, i)
            oracle.reset(rng)  # a residual teacher restarts its gait
            obs, _ = env.reset(seed=env_seed)
            observations, labels = [], []
            fell = False
            for _ in range(steps):
                label = oracle(obs)
                observations.append(obs[:PROPRIO_DIM])
                labels.append(label)
                action = label if student is None else act(student, obs)
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
            steps: int = EPISODE_STEPS, threads: int | None = 1, progress: bool = True) -> dict:
    """Distill ``teachers`` (SB3 ``model.zip`` paths) into one generalist saved at ``out``; returns the
    report (also stored in the checkpoint's ``info``): data per round, fit scores, student rollouts."""
    if episodes < 1 or dagger_rounds < 0:
        raise ValueError(f"episodes must be >= 1 and dagger_rounds >= 0; got {episodes}, {dagger_rounds}")
    specs = [read_teacher(t) for t in teachers]
    sources = [PolicySource(spec["path"]) for spec in specs]  # loaded once, used by every rollout
    dagger_episodes = dagger_episodes or episodes
    start = time.perf_counter()
    torch.manual_seed(seed)
    student = ResidualMLP(hidden=hidden, blocks=blocks)
    report: dict = {"teachers": specs, "rounds": []}
    with torch_threads(threads):
        data = []
        teacher_scores = []
        for k, spec in enumerate(specs):
            eps = rollouts({**spec, "source": sources[k]}, None, episodes, rollout_seed(seed, k, 0), steps, progress)
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
                    data += rollouts({**spec, "source": sources[k]}, student, dagger_episodes, rollout_seed(seed, k, rnd),
                                     steps, progress)
            scores = fit_student(student, data, seed=seed + rnd, **fit_kw)
            probe = [e for k, spec in enumerate(specs)  # the same probe episodes every round
                     for e in rollouts({**spec, "source": sources[k]}, student, max(1, episodes // 4),
                                       rollout_seed(seed, k, -1), steps, progress)]
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
    config = {"in_dim": PROPRIO_DIM, "out_dim": NUM_JOINTS, "hidden": hidden, "blocks": blocks}
    save_checkpoint(out, GENERALIST_FORMAT, student, "residual_mlp", config, info=report)
    return report


def main(args) -> None:
    """The ``dexndm distill`` command (arguments parsed in :mod:`baselines.cli`)."""
    report = distill(args.teachers, args.out, episodes=args.episodes, dagger_rounds=args.dagger_rounds,
                     min_rot=args.min_rot, hidden=args.hidden, blocks=args.blocks, epochs=args.epochs,
                     seed=args.seed)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    for t in report["teacher_rollouts"]:
        print(f"teacher {t['teacher']}: {t['successful']}/{t['episodes']} successful, Rot {t['rot_rad']:.2f} rad")
    for r in report["rounds"]:
        print(f"round {r['round']}: {r['train_samples']} samples, eval MSE {r['best_eval_mse']:.4f}, "
              f"student Rot {r['student_rot_rad']:.2f} rad, TTF {r['student_ttf']:.2f}")
    print(f"generalist (round {report['selected_round']}) -> {args.out} ({report['wall_s']:.0f} s)")
