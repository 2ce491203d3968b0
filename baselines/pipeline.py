"""The DexNDM pipeline end to end (what ``dexndm demo`` runs): a sim-trained policy loses performance on
the "real" hand; Chaos Box data and the joint-wise dynamics model win it back.

Stages, each leaving its artefacts under ``workdir``:

a. ``eval/sim.json``: the base policy in the simulator; its episodes, with actions, go to
   ``data/sim_rollouts`` (the Chaos Box replays them, the residual learns from them).
b. ``eval/direct.json``: direct transfer to the hand.
c. ``data/sim_policy``: more base-policy episodes in the simulator (replay and residual data);
   ``data/sim_box``: the Chaos Box in the simulator replaying them (pretraining data);
   ``data/real_box``: the same replay on the hand in its Chaos Box (the real data).
d. ``models/{joint,whole}_sim.pt``: both dynamics models pretrained on ``sim_box``;
   ``models/{joint,whole}_real.pt``: fine-tuned from them on ``real_box`` (reports beside, ``.json``).
e. ``models/{joint,whole}_residual.pt``: a residual correction through each frozen real model,
   trained on the base policy's simulated episodes (``sim_rollouts`` + ``sim_policy``).
f. ``eval/whole_hand.json``, ``eval/joint_wise.json``: the policy on the hand under each correction.
g. ``rotation.png`` (rotation about the axis over time, per condition) and ``pipeline.json``.

The hand is the in-process gap env by default (``DexNDM/LeapRotate-v0`` and ``DexNDM/LeapChaosBox-v0``
with ``gap=PROFILE``), or a real or virtual hand on a serial port (``DexNDM/LeapRotateReal-v0``: holding
the object on ``port`` for evaluation, with the object tracker; in its Chaos Box on ``box_port`` for
collection). Either way the pipeline only ever sees what a real hand gives: joint readings and the
targets it commanded (and, for the metrics, the tracked or simulated object); the gap profile is
handed to the env that plays the hand and read nowhere else.

"The simulator" is the one the base policy was trained in (:func:`policy_simulator`): the default ideal
PD, or another actuator its training named (e.g. a torque clip at the hand's Goal Current).

All four evaluations use the same seed, so episode ``i`` starts from the same grasp in every
condition (a paired comparison); the collections use seeds of their own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from baselines import distill
from baselines.collect import collect, env_factory
from baselines.demo import METRIC_KEYS
from baselines.evaluate import evaluate, plot_rotation, rot_standard_error
from baselines.sources import ReplaySource, load_policy
from dexndm_envs.dynamics.fitting import fit
from dexndm_envs.dynamics.residual import fit_residual, residual_form
from dexndm_envs.interface import PRIVILEGED_DIM
from dexndm_envs.metrics import CONTROL_HZ

log = logging.getLogger(__name__)

ROTATE, BOX, REAL = "DexNDM/LeapRotate-v0", "DexNDM/LeapChaosBox-v0", "DexNDM/LeapRotateReal-v0"
CONDITIONS = ("sim", "direct", "whole_hand", "joint_wise")
LABELS = {"sim": "sim", "direct": "direct transfer", "whole_hand": "whole-hand NDM",
          "joint_wise": "joint-wise NDM (DexNDM)"}
MODEL_OF = {"whole_hand": "whole", "joint_wise": "joint"}
CHECKPOINTS = Path(__file__).parent / "checkpoints"
GAITS = Path(__file__).parent / "gaits"


@dataclass(frozen=True)
class Sizes:
    """How much of everything one run does (episodes are of ``steps`` control steps at 20 Hz)."""

    eval_episodes: int
    """per condition (sim, direct, whole-hand, joint-wise)"""
    box_episodes: int
    """Chaos Box episodes on the hand: the real data"""
    sim_box_episodes: int
    """Chaos Box episodes in the simulator: the pretraining data"""
    policy_episodes: int
    """extra base-policy episodes in the simulator, beside the sim evaluation's"""
    steps: int = 400
    fit_epochs: int = 100
    fit_patience: int = 10
    residual_epochs: int = 30

    def __post_init__(self) -> None:
        bad = [f"{k}={v!r}" for k, v in asdict(self).items()
               if not isinstance(v, int) or v < (2 if k.endswith("_episodes") else 1)]
        if bad:
            raise ValueError(f"bad pipeline sizes {', '.join(bad)}: episode counts must be >= 2 (a 9:1 split "
                             "needs two), steps and epochs >= 1")


SIZES = {
    # <= 10 min on 2 cores: 20k real transitions (17 min of hand time), 40k sim. One episode's Rot varies
    # by ~3 rad, so 50 episodes per condition leave a standard error of ~0.45 rad on each mean.
    "quick": Sizes(eval_episodes=50, box_episodes=50, sim_box_episodes=100, policy_episodes=20),
    # the benchmark: 100k real transitions (1.4 h of hand time), 200k sim; ~0.22 rad standard error
    "full": Sizes(eval_episodes=200, box_episodes=250, sim_box_episodes=500, policy_episodes=50, fit_epochs=300),
}


def default_policy(wrist: str, object: str, axis: str = "+z", deployable: bool = False) -> str:
    """The shipped base policy for (wrist, object category, axis): the PPO oracle
    (``checkpoints/oracle_<wrist>_<object>_<axis>/``) if one ships and privileged observations are
    available (``deployable=False``: the in-process hand), else the distilled generalist if it was
    distilled for this wrist and object, else the searched gait (baselines/gaits/, :mod:`baselines.gait_search`),
    else ``scripted`` with a warning."""
    tag = axis.lstrip("+").replace("-", "neg")
    oracle = CHECKPOINTS / f"oracle_{wrist}_{object}_{tag}" / "model.zip"
    generalist = CHECKPOINTS / "generalist" / "generalist.pt"
    gait = GAITS / f"{wrist}_{object}_{tag}.json"
    if not deployable and oracle.is_file():
        return str(oracle)
    if generalist.is_file() and (wrist, object) in distill.generalist_tasks(generalist):
        return str(generalist)
    if gait.is_file():
        return str(gait)
    log.warning("no shipped base policy at %s, %s or %s; using the scripted finger gait, which rotates little, so "
                "the table shows the pipeline working, not the gap closing", oracle, generalist, gait)
    return "scripted"


def policy_label(policy: str) -> str:
    """A short name for tables and plots: a checkpoint's run directory (``.../oracle_x/model.zip``),
    a gait's or generalist's file name, or the baseline's name."""
    path = Path(policy)
    return path.parent.name if path.suffix == ".zip" else path.name


def policy_obs_mode(policy: str) -> str:
    """``privileged`` for a policy whose input is LeapRotate's privileged observation (an oracle),
    else ``proprio`` (the deployable observation; the scripted gait reads none)."""
    return "privileged" if getattr(load_policy(policy), "observation_dim", None) == PRIVILEGED_DIM else "proprio"


def policy_simulator(policy: str) -> dict:
    """The simulator a base policy was trained in, as env kwargs: ``{"actuator": spec}`` where its
    training used another actuator than the default ideal PD (e.g. one whose torque clip is the hand's
    Goal Current), else ``{}``. Read from a checkpoint's ``train.json``, a gait file's ``env_kwargs`` or a
    generalist's teachers; the pipeline's "sim" condition and simulated data use it."""
    path = Path(policy)
    if path.suffix == ".zip":
        run = path.with_name("train.json")
        kwargs = [json.loads(run.read_text())["env_kwargs"]] if run.is_file() else [{}]
    elif path.suffix == ".json":
        kwargs = [json.loads(path.read_text()).get("env_kwargs", {})]
    elif path.suffix == ".pt":
        kwargs = [teacher["env_kwargs"] for teacher in distill.load_generalist(path)[1]["info"]["teachers"]]
    else:
        return {}
    actuators = {json.dumps(k.get("actuator", "ideal_pd"), sort_keys=True) for k in kwargs}
    if len(actuators) > 1:
        raise ValueError(f"{policy}: its teachers were trained with different actuators ({', '.join(sorted(actuators))}); "
                         "the pipeline compares against one simulator")
    actuator = json.loads(actuators.pop())
    return {} if actuator == "ideal_pd" else {"actuator": actuator}


@dataclass(frozen=True)
class Hand:
    """The "real" hand: the in-process gap env (``gap``), or a hand on serial ports (``port`` holding
    the object, seen by ``tracker``; ``box_port`` in its Chaos Box)."""

    gap: str | None
    port: str | None
    box_port: str | None
    tracker: str | None

    @classmethod
    def make(cls, gap: str | None, port: str | None, box_port: str | None, tracker: str | None,
             obs_mode: str) -> Hand:
        if port is None:
            if box_port is not None or tracker is not None:
                raise ValueError("box_port and tracker are for a hand on a serial port: give port too")
            if gap is None:
                raise ValueError("give a gap profile (the in-process pseudo-real hand) or the port of a hand")
            return cls(gap, None, None, None)
        if tracker is None:
            raise ValueError("evaluating on a hand needs its object tracker (host:port; `dexndm emulate` prints "
                             "the virtual hand's)")
        if obs_mode != "proprio":
            raise ValueError("this policy needs the privileged observation (an oracle), which a real hand cannot "
                             "give; use a proprioceptive policy (the distilled generalist)")
        return cls(None, port, box_port or port, tracker)

    def rotate(self, task: dict) -> tuple[str, dict, str | None]:
        """(env id, kwargs, port) of the hand holding the object."""
        if self.port is None:
            return ROTATE, {**task, "gap": self.gap}, None
        return REAL, {"wrist": task["wrist"], "axis": task["axis"], "tracker": self.tracker}, self.port

    def box(self, wrist: str) -> tuple[Callable, dict, tuple]:
        """The hand in its Chaos Box, as :func:`baselines.collect.env_factory` gives it (factory,
        dataset metadata, fault types)."""
        if self.port is None:
            return env_factory(BOX, {"wrist": wrist, "gap": self.gap}, None)
        make_env, meta, faults = env_factory(REAL, {"wrist": wrist}, self.box_port)
        return make_env, {**meta, "object": "chaos_box"}, faults

    def check(self, task: dict) -> None:
        """Open the hand holding the object once and close it: a bad gap profile, port or tracker is an
        error before any work is done."""
        make_env, _, _ = env_factory(*self.rotate(task))
        make_env().close()

    def describe(self) -> str:
        return (f"in-process gap env, profile {self.gap}" if self.port is None
                else f"hand on {self.port} (tracker {self.tracker}), Chaos Box on {self.box_port}")


@contextlib.contextmanager
def _stage(timings: dict[str, float], name: str, what: str) -> Iterator[None]:
    """Log the stage and record its wall time (s) in ``timings[name]``."""
    log.info("stage %s: %s", name, what)
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    log.info("stage %s done in %.1f s", name, timings[name])


def _write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def prepare_workdir(workdir: str | Path) -> Path:
    """Create ``workdir``; an existing non-empty directory is refused (FileExistsError), never reused."""
    workdir = Path(workdir)
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise FileExistsError(f"{workdir} exists and is not an empty directory; give a new --workdir "
                              "(a run never writes over earlier data)")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def gap_closed(rows: dict[str, dict]) -> dict[str, float | None]:
    """(corrected Rot - direct Rot) / (sim Rot - direct Rot) per correction; None where the policy did
    not rotate less on the hand than in simulation (no gap to close)."""
    gap = rows["sim"]["rot_rad"] - rows["direct"]["rot_rad"]
    return {c: ((rows[c]["rot_rad"] - rows["direct"]["rot_rad"]) / gap if gap > 0 else None) for c in MODEL_OF}


def gap_closed_interval(rot: dict[str, np.ndarray], resamples: int = 2000, seed: int = 0,
                        level: float = 0.95) -> dict[str, list[float] | None]:
    """A bootstrap interval of :func:`gap_closed` per correction from per-episode Rot (rad) per condition.

    Episode i of every condition starts from the same grasp, so the same episode indices are resampled
    for all conditions. One episode's Rot varies by about 3 rad under the same policy: 50 episodes per
    condition leave ~0.45 rad of standard error on each mean, comparable to the gaps themselves, and
    the interval says how well the gap closed was measured. None where :func:`gap_closed` is
    undefined, or where more than ``1 - level`` of the resamples show no gap (no interval then).
    """
    counts = sorted({len(v) for v in rot.values()})
    if len(counts) != 1:
        raise ValueError(f"every condition needs the same episodes for a paired bootstrap; got counts {counts}")
    point = gap_closed({c: {"rot_rad": float(np.mean(v))} for c, v in rot.items()})
    idx = np.random.default_rng(seed).integers(0, counts[0], size=(resamples, counts[0]))
    means = {c: np.asarray(v, dtype=np.float64)[idx].mean(axis=1) for c, v in rot.items()}
    gap = means["sim"] - means["direct"]
    tail = 100 * (1 - level) / 2
    out: dict[str, list[float] | None] = {}
    measured = np.mean(gap > 0) >= level
    for c in MODEL_OF:
        closed = np.where(gap > 0, (means[c] - means["direct"]) / np.where(gap > 0, gap, 1.0), np.nan)
        out[c] = ([float(x) for x in np.nanpercentile(closed, [tail, 100 - tail])]
                  if point[c] is not None and measured else None)
    return out


def run_pipeline(policy: str, *, workdir: str | Path, size: str | Sizes = "quick", gap: str | None = "leap_xc330",
                 port: str | None = None, box_port: str | None = None, tracker: str | None = None,
                 wrist: str = "palm_up", object: str = "cylinder", axis: str = "+z", residual: str = "gains",
                 seed: int = 0, progress: bool = True, ready: Callable[[str], None] | None = None,
                 place_object: Callable[[int], None] | None = None) -> dict:
    """Run stages a-g (module docstring) and return the result that ``workdir/pipeline.json`` holds.

    Args:
        policy: ``scripted``, or a base policy checkpoint (anything :func:`baselines.sources.load_policy`
            takes); its observation mode (privileged or proprio) is read from the checkpoint.
        workdir: a new or empty directory for every artefact.
        size: ``quick``, ``full`` or a :class:`Sizes`.
        gap: the gap profile of the in-process hand (a built-in name or a JSON file); unused with ``port``.
        port, box_port, tracker: a real or virtual hand (``box_port`` defaults to ``port``: one hand,
            moved into its box by a person when ``ready`` says so).
        wrist, object, axis: the task (LeapRotate's arguments; ``object`` may be a category).
        residual: the residual's form, a name in :data:`~dexndm_envs.dynamics.residual.RESIDUALS`
            (``gains``: three gains shared by the joints; ``mlp``: the paper's MLP).
        ready: called with an instruction whenever the hand on ``port`` needs a person: into its
            Chaos Box before the collection, and the object back in the hand before every evaluation
            episode (unless ``place_object`` does that); default: log it.
        place_object: with ``port``, puts the object back in the hand before each evaluation episode,
            given the episode's reset seed (e.g. ``VirtualHand.place_object``); default: ask via ``ready``.
    Returns:
        ``{"rows": [{"condition", rot_rad, ttf, ttf_s, rotr, rotp, "rot_rad_se", "episodes", "report"}, ...],
        "gap_closed", "gap_closed_ci95", "data", "models", "timings", "plot", ...}`` (Rot and its standard
        error in rad, the gap closed's 95 % bootstrap interval, TTF as a fraction of the
        20 s episode and in s, RotP in rad/s, timings in s).
    """
    sizes = _sizes(size)
    residual_form(residual)  # a bad name fails here, before any work
    obs_mode = policy_obs_mode(policy)
    hand = Hand.make(gap if port is None else None, port, box_port, tracker, obs_mode)
    task = {"object": object, "wrist": wrist, "axis": axis, "obs_mode": obs_mode}
    simulator = policy_simulator(policy)
    hand.check(task)
    workdir = prepare_workdir(workdir)
    data_dir, model_dir = workdir / "data", workdir / "models"
    rollouts = [data_dir / "sim_rollouts", data_dir / "sim_policy"]
    common = {"policy": policy, "seed": seed, "steps": sizes.steps, "progress": progress}
    rows, curves, episode_rot, data, models, timings = {}, {}, {}, {}, {}, {}
    started = time.perf_counter()

    def setup(instruction: str) -> None:
        """A hand on a port needs a person between some stages; the in-process one does not."""
        if hand.port is not None:
            (ready or (lambda m: log.warning("set-up: %s", m)))(instruction)

    log.info("DexNDM pipeline: policy %s (%s observation), %s, simulator %s, %s; artefacts in %s", policy, obs_mode,
             task, simulator or "default", hand.describe(), workdir)

    with _stage(timings, "sim_eval", "the base policy in the simulator"):
        rows["sim"], curves["sim"], episode_rot["sim"] = _evaluate(
            "sim", (ROTATE, {**task, **simulator}, None), sizes.eval_episodes, workdir, save_rollouts=rollouts[0], **common)

    def place(condition: str) -> Callable[[int], None] | None:
        """On a hand a dropped object stays dropped: before each evaluation episode it goes back in."""
        if hand.port is None:
            return None
        return place_object or (lambda _seed: setup(f"{condition}: put the object in the hand, where the tracker "
                                                    "sees it, for the next episode"))

    with _stage(timings, "direct_eval", f"direct transfer to the {hand.describe()}"):
        rows["direct"], curves["direct"], episode_rot["direct"] = _evaluate(
            "direct", hand.rotate(task), sizes.eval_episodes, workdir, before_episode=place("direct"), **common)

    with _stage(timings, "sim_policy", "more base-policy episodes in the simulator"):
        data["sim_policy"] = _collect(env_factory(ROTATE, {**task, **simulator}, None), load_policy(policy), sizes.policy_episodes,
                                      rollouts[1], sizes.steps, _seed(seed, 1), progress)
    replay = ReplaySource(rollouts, wrist, steps=sizes.steps)
    with _stage(timings, "sim_box", "Chaos Box in the simulator, replaying the base policy"):
        data["sim_box"] = _collect(env_factory(BOX, {"wrist": wrist, **simulator}, None), replay, sizes.sim_box_episodes,
                                   data_dir / "sim_box", sizes.steps, _seed(seed, 2), progress)
    setup(f"put the hand in its Chaos Box ({hand.box_port})")
    with _stage(timings, "real_box", "Chaos Box on the hand, replaying the base policy (same seed as in sim)"):
        data["real_box"] = _collect(hand.box(wrist), replay, sizes.box_episodes, data_dir / "real_box",
                                    sizes.steps, _seed(seed, 2), progress)
    data["real_transitions"] = data["real_box"]["transitions"]

    with _stage(timings, "fit", "dynamics models: pretrain on sim Chaos Box data, fine-tune on the hand's"):
        settings = {"epochs": sizes.fit_epochs, "patience": sizes.fit_patience, "seed": seed, "progress": progress}
        for kind in MODEL_OF.values():
            sim = fit(data_dir / "sim_box", kind, model_dir / f"{kind}_sim.pt", **settings)
            real = fit(data_dir / "real_box", kind, model_dir / f"{kind}_real.pt", init=sim["checkpoint"], **settings)
            _write_json(model_dir / f"{kind}_sim.json", sim)
            _write_json(model_dir / f"{kind}_real.json", real)
            models[kind] = {"sim_checkpoint": sim["checkpoint"], "real_checkpoint": real["checkpoint"],
                            "real_eval_rmse_1step": real["eval"]["rmse_1step"],
                            "real_eval_rmse_10step": real["eval"]["rmse_10step"]}
    with _stage(timings, "residual", "residual corrections through the frozen real-hand models"):
        for kind in MODEL_OF.values():
            res = fit_residual(models[kind]["real_checkpoint"], rollouts, model_dir / f"{kind}_residual.pt",
                               form=residual, epochs=sizes.residual_epochs, seed=seed, progress=progress)
            _write_json(model_dir / f"{kind}_residual.json", res)
            models[kind].update(residual_checkpoint=res["checkpoint"],
                                **{k: res[k] for k in ("eval_loss_uncorrected", "eval_loss_corrected",
                                                       "mean_abs_correction_rad", "gains") if k in res})

    with _stage(timings, "corrected_eval", "the base policy on the hand under each correction"):
        for condition, kind in MODEL_OF.items():
            rows[condition], curves[condition], episode_rot[condition] = _evaluate(
                condition, hand.rotate(task), sizes.eval_episodes, workdir,
                correction=models[kind]["residual_checkpoint"], before_episode=place(condition), **common)
    timings["total"] = time.perf_counter() - started

    plot = plot_conditions(curves, workdir / "rotation.png",
                           f"{policy_label(policy)}, {wrist}, {object}, axis {axis}")
    result = {"policy": policy, "obs_mode": obs_mode, "gap": hand.gap, "hand": asdict(hand), "task": task,
              "simulator": simulator, "residual": residual,
              "size": size if isinstance(size, str) else "custom", "sizes": asdict(sizes), "seed": seed,
              "rows": [{"condition": c, **rows[c]} for c in CONDITIONS], "gap_closed": gap_closed(rows),
              "gap_closed_ci95": gap_closed_interval(episode_rot, seed=seed),
              "data": data, "models": models, "timings": timings, "plot": str(plot), "workdir": str(workdir)}
    _write_json(workdir / "pipeline.json", result)
    return result


def _sizes(size: str | Sizes) -> Sizes:
    if isinstance(size, Sizes):
        return size
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; allowed: {', '.join(SIZES)}")
    return SIZES[size]


def _seed(seed: int, stage: int) -> int:
    """A collection's seed, derived from the run's: its episodes differ from the evaluations'."""
    return int(np.random.SeedSequence([seed, stage]).generate_state(1)[0])


def _evaluate(condition: str, env: tuple[str, dict, str | None], episodes: int, workdir: Path, *, policy: str,
              seed: int, steps: int, progress: bool, correction: str | None = None,
              save_rollouts: Path | None = None,
              before_episode: Callable[[int], None] | None = None) -> tuple[dict, list[np.ndarray], np.ndarray]:
    """One evaluation: ``eval/<condition>.json`` and its rotation plot; returns the table row (with the
    standard error of the mean Rot), the per-episode rotation curves and the per-episode Rot (rad)."""
    env_id, kwargs, port = env
    report = evaluate(env_id, kwargs, policy, episodes, port=port, correction=correction, seed=seed, steps=steps,
                      save_rollouts=save_rollouts, progress=progress, before_episode=before_episode)
    curves = report.pop("_curves")
    path = _write_json(workdir / "eval" / f"{condition}.json", report)
    plot_rotation(curves, path.with_suffix(".png"), f"{condition}: {policy} on {env_id}")
    log.info("%s: Rot %.2f rad, TTF %.2f over %d episodes", condition, report["rot_rad"], report["ttf"], episodes)
    rot = np.array([e["rot_rad"] for e in report["per_episode"]])
    row = {**{k: report[k] for k in METRIC_KEYS}, "rot_rad_se": rot_standard_error(report),
           "episodes": episodes, "report": str(path)}  # Sizes asks for >= 2 episodes
    return row, curves, rot


def _collect(env: tuple, source, episodes: int, out: Path, steps: int, seed: int, progress: bool) -> dict:
    """One crash-safe collection into ``out`` (see :func:`baselines.collect.collect`); returns its summary."""
    make_env, meta, faults = env
    summary = collect(make_env, source, episodes, out, meta, seed=seed, steps=steps, faults=faults, progress=progress)
    log.info("%s: %d episodes, %d transitions (%.0f/s)", out.name, summary["episodes"], summary["transitions"],
             summary["transitions_per_s"])
    return {"path": str(out), **{k: summary[k] for k in ("episodes", "transitions", "faulty_episodes", "seconds",
                                                        "bytes")}}


def plot_conditions(curves: dict[str, list[np.ndarray]], path: Path, title: str) -> Path:
    """Rotation about the axis (rad) over time (s) per condition: thin lines per episode, the mean bold
    (an episode that ended early holds its last value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (condition, runs), color in zip(curves.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        length = max(len(c) for c in runs)
        padded = np.array([np.pad(c, (0, length - len(c)), mode="edge") for c in runs])
        t = np.arange(length) / CONTROL_HZ
        for run in padded:
            ax.plot(t, run, color=color, lw=0.6, alpha=0.3)
        ax.plot(t, padded.mean(0), color=color, lw=2, label=LABELS[condition])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rotation about the axis (rad)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def format_gap_closed(result: dict, condition: str) -> str:
    """A result's gap closed for ``condition`` with its interval: ``0.31 [-0.20, 0.85]``; ``-`` where
    undefined; ``[gap not measured]`` where too many resamples showed no gap for an interval."""
    point, ci = result["gap_closed"][condition], result["gap_closed_ci95"][condition]
    if point is None:
        return "-"
    return f"{point:.2f} " + ("[gap not measured]" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]")


def format_table(result: dict) -> str:
    """The paper-style table of a run (Tables 4-6: Rot, TTF, RotR, RotP per condition) with the gap
    closed, the data amounts and the wall time."""
    sizes, data = result["sizes"], result["data"]
    task = result["task"]
    simulator = result.get("simulator") or {}
    lines = [(f"DexNDM pipeline: policy {result['policy']}, {task['object']}, wrist {task['wrist']}, axis "
              f"{task['axis']}; simulator {simulator.get('actuator', 'ideal_pd (default)')}; "
              f"residual {result['residual']}; "
              f"{Hand(**result['hand']).describe()}"),
             (f"{sizes['eval_episodes']} episodes x {sizes['steps']} steps per condition "
              "(TTF as a fraction of the 20 s episode)"),
             f"{'condition':<26}{'Rot (rad)':>10}{'+- se':>7}{'TTF':>7}{'TTF (s)':>9}{'RotR':>9}{'RotP':>8}"]
    for r in result["rows"]:
        lines.append(f"{LABELS[r['condition']]:<26}{r['rot_rad']:>10.2f}{r['rot_rad_se']:>7.2f}{r['ttf']:>7.2f}{r['ttf_s']:>9.1f}"
                     f"{r['rotr']:>9.2f}{r['rotp']:>8.3f}")
    closed = result["gap_closed"]
    if closed["joint_wise"] is None:
        lines.append("gap closed: undefined (the policy rotates no less on the hand than in simulation)")
    else:
        lines.append("gap closed (Rot; 95 % bootstrap interval over episodes): " + ", ".join(
            f"{label} {format_gap_closed(result, c)}" for c, label in (("joint_wise", "joint-wise"),
                                                                        ("whole_hand", "whole-hand"))))
    real = data["real_box"]
    lines.append(f"data: {real['transitions']} real Chaos Box transitions ({real['transitions'] / CONTROL_HZ / 60:.1f} min "
                 f"of hand time), {data['sim_box']['transitions']} sim Chaos Box, "
                 f"{data['sim_policy']['transitions']} base-policy sim transitions (+ the sim evaluation's)")
    t = result["timings"]
    lines.append("wall time {:.0f} s ({})".format(
        t["total"], ", ".join(f"{k} {v:.0f} s" for k, v in t.items() if k != "total")))
    lines.append(f"artefacts: {result['workdir']} (plot {result['plot']})")
    return "\n".join(lines)
