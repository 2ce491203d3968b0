"""The DexNDM pipeline end to end (what ``dexndm demo`` runs): a sim-trained policy loses performance on
the "real" hand; Chaos Box data and the joint-wise dynamics model win it back.

Stages (:data:`STAGES`: named :class:`Stage` functions run in order over one :class:`Run` context,
each logged and timed by name), each leaving its artefacts under ``workdir``. Everything in the
simulator comes first, so nobody is needed at a real hand until stage d:

a. ``eval/sim.json``: the base policy in the simulator; its episodes, with actions, go to
   ``data/sim_rollouts`` (the Chaos Box replays them, the residual learns from them).
b. ``data/sim_policy``: more base-policy episodes in the simulator (replay and residual data);
   ``data/sim_box``: the Chaos Box in the simulator replaying them (pretraining data).
c. ``models/{joint,whole}_sim.pt``: both dynamics models pretrained on ``sim_box`` (reports beside, ``.json``).
d. ``eval/direct.json``: direct transfer to the hand.
e. ``data/real_box``: the same replay on the hand in its Chaos Box (the real data);
   ``models/{joint,whole}_real.pt``: fine-tuned from the sim models on ``real_box``.
f. ``models/{joint,whole}_residual.pt``: a residual correction through each frozen real model,
   trained on the base policy's simulated episodes (``sim_rollouts`` + ``sim_policy``);
   ``eval/whole_hand.json``, ``eval/joint_wise.json``: the policy on the hand under each correction.
g. ``rotation.png`` (rotation about the axis over time, per condition) and ``pipeline.json``.

The hand is the in-process gap env by default (``DexNDM/LeapRotate-v0`` and ``DexNDM/LeapChaosBox-v0``
with ``gap=PROFILE``), or a real or virtual hand on a serial port (``DexNDM/LeapRotateReal-v0``: holding
the object on ``port`` for evaluation, with the object tracker; in its Chaos Box on ``box_port`` for
collection). Either way the pipeline only ever sees what a real hand gives: joint readings and the
targets it commanded (and, for the metrics, the tracked or simulated object); the gap profile is
handed to the env that plays the hand and read nowhere else.

"The simulator" is the one the base policy was trained in (:func:`baselines.policy.policy_simulator`): the default ideal
PD, or another actuator its training named (e.g. a torque clip at the hand's Goal Current).

All four evaluations use the same seed, so episode ``i`` starts from the same grasp in every
condition (a paired comparison); the collections use seeds of their own.

A run records its progress after every stage (``pipeline_state.pkl``: the stages done and what they
produced). ``run_pipeline(..., resume=True)`` (``dexndm demo --resume --workdir DIR``) continues an
interrupted run with the same arguments: finished stages are kept, an interrupted collection goes on
from the episodes on disk, an interrupted model fit keeps the models it finished, and any other
interrupted stage is redone from its start.

``run_pipeline(..., share=[DIR, ...])`` takes over what earlier runs already computed: the longest run
of leading stages that one of them finished with the same arguments as far as those stages read them
(the simulator stages a-c do not read the hand or the residual's form, d-e do not read the residual's
form). Their files are hard-linked (copied where links cannot be made) and their results taken over, so
a grid over hands and residual forms (``benchmarks/sim2real.py``) collects and fits each thing once.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from baselines.collect import collect
from baselines.episodes import env_factory
from baselines.evaluate import evaluate, plot_rotation, rot_standard_error
from baselines.generalist import generalist_tasks
from baselines.policy import load_policy, policy_label, policy_obs_mode, policy_simulator
from baselines.sources import ReplaySource
from baselines.transfer_stats import CORRECTIONS, format_figure, transfer_figures
from dexndm_envs.dynamics.fitting import fit
from dexndm_envs.dynamics.residual import fit_residual, residual_form
from dexndm_envs.fileio import atomic_write, write_json
from dexndm_envs.gap import DEFAULT_HAND
from dexndm_envs.metrics import CONTROL_HZ, METRIC_KEYS
from dexndm_envs.objects import resolve_objects
from dexndm_envs.poses import WRISTS, parse_axis

log = logging.getLogger(__name__)

ROTATE, BOX, REAL = "DexNDM/LeapRotate-v0", "DexNDM/LeapChaosBox-v0", "DexNDM/LeapRotateReal-v0"
CONDITIONS = ("sim", "direct", *CORRECTIONS)
LABELS = {"sim": "sim", "direct": "direct transfer", "whole_hand": "whole-hand NDM",
          "joint_wise": "joint-wise NDM (DexNDM)"}
MODEL_OF = dict(zip(CORRECTIONS, ("whole", "joint")))
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
    """The shipped base policy for (wrist, object category, axis): the PPO oracle trained within the
    servos' torque (``checkpoints/oracle_<wrist>_<object>_<axis>_cap/``) if one ships and privileged observations are
    available (``deployable=False``: the in-process hand), else the distilled generalist if it was
    distilled for this wrist and object, else the searched gait (baselines/gaits/, :mod:`baselines.gait_search`),
    else ``scripted`` with a warning."""
    tag = axis.lstrip("+").replace("-", "neg")
    oracle = CHECKPOINTS / f"oracle_{wrist}_{object}_{tag}_cap" / "model.zip"
    generalist = CHECKPOINTS / "generalist" / "generalist.pt"
    gait = GAITS / f"{wrist}_{object}_{tag}.json"
    if not deployable and oracle.is_file():
        return str(oracle)
    if generalist.is_file() and (wrist, object) in generalist_tasks(generalist):
        return str(generalist)
    if gait.is_file():
        return str(gait)
    log.warning("no shipped base policy at %s, %s or %s; using the scripted finger gait, which rotates little, so "
                "the table shows the pipeline working, not the gap closing", oracle, generalist, gait)
    return "scripted"


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
        """The hand in its Chaos Box, as :func:`baselines.episodes.env_factory` gives it (factory,
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


STATE_FILE = "pipeline_state.pkl"
"""A run's progress: the stages done and what they produced (:meth:`Run.save_state`)."""


def prepare_workdir(workdir: str | Path, resume: bool = False) -> Path:
    """Create ``workdir``; an existing non-empty directory is refused (FileExistsError), never reused,
    unless ``resume`` and it holds a run's progress (:data:`STATE_FILE`) or a run cut short in its first
    stage."""
    workdir = Path(workdir)
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        if not resume:
            raise FileExistsError(f"{workdir} exists and is not an empty directory; give a new --workdir, or "
                                  "--resume to continue the run in it (a run never writes over earlier data)")
        started = {entry.name for entry in workdir.iterdir()} <= {"eval", "data", "models"}  # cut short in stage a
        if not ((workdir / STATE_FILE).is_file() or started):
            raise FileExistsError(f"--resume: {workdir} holds no pipeline run to continue (no {STATE_FILE}, which a "
                                  "run records after each stage)")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def run_pipeline(policy: str, *, workdir: str | Path, size: str | Sizes = "quick", gap: str | None = DEFAULT_HAND,
                 port: str | None = None, box_port: str | None = None, tracker: str | None = None,
                 wrist: str = "palm_up", object: str = "cylinder", axis: str = "+z", residual: str = "gains",
                 seed: int = 0, progress: bool = True, ready: Callable[[str], None] | None = None,
                 place_object: Callable[[int], None] | None = None, resume: bool = False,
                 share: Sequence[str | Path] = ()) -> dict:
    """Run stages a-g (module docstring) and return the result that ``workdir/pipeline.json`` holds.

    Args:
        policy: ``scripted``, or a base policy checkpoint (anything :func:`baselines.policy.load_policy`
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
        resume: continue the interrupted run in ``workdir`` (same arguments; a ValueError names any
            that differ) instead of refusing a non-empty directory.
        share: workdirs of earlier runs; a run that has finished no stage yet takes over the longest
            run of leading stages one of them finished with the same arguments as those stages read
            (module docstring).
    Returns:
        ``{"rows": [{"condition", rot_rad, ttf, ttf_s, rotr, rotp, "rot_rad_se", "episodes", "report"}, ...],
        "gap_closed", "gap_closed_ci95", "improvement", "improvement_ci95", "data", "models", "timings",
        "plot", ...}`` (Rot and its standard
        error in rad, the gap closed's 95 % bootstrap interval, TTF as a fraction of the
        20 s episode and in s, RotP in rad/s, timings in s).
    """
    sizes = check_run(size, wrist, object, axis, residual)
    obs_mode = policy_obs_mode(policy)
    hand = Hand.make(gap if port is None else None, port, box_port, tracker, obs_mode)
    task = {"object": object, "wrist": wrist, "axis": axis, "obs_mode": obs_mode}
    simulator = policy_simulator(policy)
    hand.check(task)
    run = Run(policy=policy, task=task, simulator=simulator, hand=hand, sizes=sizes, residual=residual, seed=seed,
              progress=progress, workdir=prepare_workdir(workdir, resume), ready=ready, place_object=place_object)
    if resume:
        run.load_state()
    if not run.done:
        run.take_over(share)
    log.info("DexNDM pipeline: policy %s (%s observation), %s, simulator %s, %s; artefacts in %s", policy, obs_mode,
             task, simulator or "default", hand.describe(), run.workdir)
    for stage in STAGES:
        if stage.name in run.done:
            log.info("stage %s: done by an earlier part of this run", stage.name)
            continue
        stage.run_in(run)
        run.done.append(stage.name)
        run.after[stage.name] = run.snapshot()
        run.save_state()
    run.timings["total"] = sum(run.timings[stage.name] for stage in STAGES)

    plot = plot_conditions(run.curves, run.workdir / "rotation.png",
                           f"{policy_label(policy)}, {wrist}, {object}, axis {axis}")
    result = {"policy": policy, "obs_mode": obs_mode, "gap": hand.gap, "hand": asdict(hand), "task": task,
              "simulator": simulator, "residual": residual,
              "size": size if isinstance(size, str) else "custom", "sizes": asdict(sizes), "seed": seed,
              "rows": [{"condition": c, **run.rows[c]} for c in CONDITIONS],
              **transfer_figures(run.rows, run.episode_rot, seed=seed),
              "data": run.data, "models": run.models, "timings": run.timings, "taken_over": run.taken_over,
              "plot": str(plot),
              "workdir": str(run.workdir)}
    write_json(run.workdir / "pipeline.json", result)
    return result


@dataclass
class Run:
    """One pipeline run: what it was given, where it writes (``workdir``), and what the stages have
    produced so far (table rows, rotation curves and per-episode Rot per condition; data, models and
    stage wall times, as ``pipeline.json`` holds them)."""

    policy: str
    task: dict
    """LeapRotate's object, wrist, axis and obs_mode"""
    simulator: dict
    """env kwargs of the simulator the policy was trained in (:func:`baselines.policy.policy_simulator`)"""
    hand: Hand
    sizes: Sizes
    residual: str
    seed: int
    progress: bool
    workdir: Path
    ready: Callable[[str], None] | None = None
    place_object: Callable[[int], None] | None = None
    rows: dict[str, dict] = field(default_factory=dict)
    curves: dict[str, list[np.ndarray]] = field(default_factory=dict)
    episode_rot: dict[str, np.ndarray] = field(default_factory=dict)
    data: dict[str, dict | int] = field(default_factory=dict)
    models: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    """the names of the stages finished so far"""
    after: dict[str, dict] = field(default_factory=dict)
    """what the results were right after each finished stage (:meth:`snapshot`), for runs that share"""
    taken_over: dict = field(default_factory=dict)
    """``{"from": workdir, "stages": [...]}`` where stages were taken over from another run (their
    timings are that run's)"""
    _replay: ReplaySource | None = None

    @property
    def replay(self) -> ReplaySource:
        """The Chaos Box's action source, replaying the base policy's simulated episodes (made on first use)."""
        if self._replay is None:
            self._replay = ReplaySource(self.rollouts, self.task["wrist"], steps=self.sizes.steps)
        return self._replay

    def identity(self) -> dict:
        """The arguments that decide what the run computes (a resumed run must be given the same)."""
        return {"policy": self.policy, "task": self.task, "simulator": self.simulator, "hand": asdict(self.hand),
                "sizes": asdict(self.sizes), "residual": self.residual, "seed": self.seed}

    def snapshot(self) -> dict:
        """The results so far, as copies of their dicts (the arrays and strings in them are never changed
        in place, so they are shared, and pickled once however many snapshots hold them)."""
        return {key: {k: dict(v) if isinstance(v, dict) else v for k, v in getattr(self, key).items()}
                for key in RESULTS}

    def save_state(self) -> None:
        """Record the stages done and what they produced (atomically: a kill leaves the previous record)."""
        state = {"identity": self.identity(), "done": self.done, "after": self.after, "taken_over": self.taken_over,
                 **self.snapshot()}
        atomic_write(self.workdir / STATE_FILE, lambda f: pickle.dump(state, f))

    def load_state(self) -> None:
        """Take over an interrupted run's progress (nothing where it finished no stage yet); a ValueError
        where it was started with other arguments."""
        state = read_state(self.workdir)
        if state is None:
            return
        before = state["identity"]
        changed = {k: (v, before.get(k)) for k, v in self.identity().items() if before.get(k) != v}
        if changed:
            raise ValueError(f"--resume: the run in {self.workdir} was started with other arguments: "
                             + "; ".join(f"{k} {old!r}, now {new!r}" for k, (new, old) in changed.items()))
        for key in ("done", *RESULTS):
            setattr(self, key, state[key])
        self.after = state.get("after", {})  # runs recorded before runs could share have neither
        self.taken_over = state.get("taken_over", {})

    def shareable(self, state: dict) -> int:
        """How many leading :data:`STAGES` this run can take over from a run recorded as ``state``: each
        finished there with the same arguments as far as it reads them, the last with its snapshot."""
        mine, theirs = self.identity(), state["identity"]
        count = 0
        for stage in STAGES:
            if stage.name not in state["done"] or any(theirs.get(k) != mine[k] for k in (*SHARED, *stage.reads)):
                break
            count += 1
        while count and STAGES[count - 1].name not in state.get("after", {}):
            count -= 1
        return count

    def take_over(self, share: Sequence[str | Path]) -> None:
        """Take over the longest run of leading stages that a run in ``share`` finished (:meth:`shareable`):
        hard-link its files for those stages and take its results as they were after the last one, with
        its workdir's paths in them made this run's."""
        offers = [(self.shareable(state), Path(source), state) for source in share
                  if (state := read_state(Path(source))) is not None]
        count, source, state = max(offers, key=lambda offer: offer[0], default=(0, None, None))
        if not count:
            return
        stages = STAGES[:count]
        for stage in stages:
            for name in stage.files:
                link_tree(source / name, self.workdir / name)
        results = moved(state["after"][stages[-1].name], str(source), str(self.workdir))
        for key in RESULTS:
            setattr(self, key, results[key])
        self.done = [stage.name for stage in stages]
        self.after = {stage.name: moved(state["after"][stage.name], str(source), str(self.workdir))
                      for stage in stages if stage.name in state["after"]}
        self.taken_over = {"from": str(source), "stages": list(self.done)}
        self.save_state()
        log.info("took over stages %s from the run in %s", ", ".join(self.done), source)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def model_dir(self) -> Path:
        return self.workdir / "models"

    @property
    def rollouts(self) -> list[Path]:
        """The base policy's simulated episodes with actions: the sim evaluation's and the extra ones."""
        return [self.data_dir / "sim_rollouts", self.data_dir / "sim_policy"]

    def setup(self, instruction: str) -> None:
        """A hand on a port needs a person between some stages; the in-process one does not."""
        if self.hand.port is not None:
            (self.ready or (lambda m: log.warning("set-up: %s", m)))(instruction)

    def place(self, condition: str) -> Callable[[int], None] | None:
        """On a hand a dropped object stays dropped: before each evaluation episode it goes back in."""
        if self.hand.port is None:
            return None
        return self.place_object or (lambda _seed: self.setup(f"{condition}: put the object in the hand, where the "
                                                              "tracker sees it, for the next episode"))

    def evaluate(self, condition: str, env: tuple[str, dict, str | None], **kwargs) -> None:
        """Evaluate the base policy for ``condition`` (:func:`_evaluate`) and keep its row, curves and Rot."""
        self.rows[condition], self.curves[condition], self.episode_rot[condition] = _evaluate(
            condition, env, self.sizes.eval_episodes, self.workdir, policy=self.policy, seed=self.seed,
            steps=self.sizes.steps, progress=self.progress, **kwargs)

    def collect(self, name: str, env: tuple, source, episodes: int, seed_stage: int) -> None:
        """Collect ``episodes`` into ``data/<name>`` (:func:`_collect`; an interrupted collection goes on
        from the episodes on disk) and keep its summary."""
        self.data[name] = _collect(env, source, episodes, self.data_dir / name, self.sizes.steps,
                                   _seed(self.seed, seed_stage), self.progress)


RESULTS = ("rows", "curves", "episode_rot", "data", "models", "timings")
"""The :class:`Run` fields that hold what the stages produced."""
SHARED = ("policy", "task", "simulator", "sizes", "seed")
"""The arguments every stage reads; a :class:`Stage` names any others in ``reads``."""


def read_state(workdir: Path) -> dict | None:
    """The progress recorded in ``workdir`` (:data:`STATE_FILE`), or None where there is none."""
    path = workdir / STATE_FILE
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        return pickle.load(f)


def moved(value, old: str, new: str):
    """``value`` (dicts, lists, tuples, strings, anything else kept as is) with every string that starts
    with the directory ``old`` starting with ``new`` instead."""
    if isinstance(value, str):
        return new + value[len(old):] if value == old or value.startswith(old + os.sep) else value
    if isinstance(value, dict):
        return {k: moved(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(moved(v, old, new) for v in value)
    return value


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link the file or directory tree ``src`` to ``dst`` (copying where a link cannot be made, e.g.
    across file systems), replacing what an interrupted attempt left at ``dst``. The project never writes
    into a file in place (atomic writes replace it), so linked files stay independent."""
    if not src.exists():
        return
    if dst.is_dir():
        shutil.rmtree(dst)
    elif dst.exists():
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_or_copy)
    else:
        _link_or_copy(src, dst)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _sim_eval(run: Run) -> None:
    shutil.rmtree(run.rollouts[0], ignore_errors=True)  # simulated episodes of an interrupted attempt: redone
    run.evaluate("sim", (ROTATE, {**run.task, **run.simulator}, None), save_rollouts=run.rollouts[0])


def _direct_eval(run: Run) -> None:
    run.evaluate("direct", run.hand.rotate(run.task), before_episode=run.place("direct"))


def _sim_policy(run: Run) -> None:
    run.collect("sim_policy", env_factory(ROTATE, {**run.task, **run.simulator}, None), load_policy(run.policy),
                run.sizes.policy_episodes, seed_stage=1)


def _sim_box(run: Run) -> None:
    run.collect("sim_box", env_factory(BOX, {"wrist": run.task["wrist"], **run.simulator}, None), run.replay,
                run.sizes.sim_box_episodes, seed_stage=2)


def _real_box(run: Run) -> None:
    run.collect("real_box", run.hand.box(run.task["wrist"]), run.replay, run.sizes.box_episodes, seed_stage=2)
    run.data["real_transitions"] = run.data["real_box"]["transitions"]


def _fit(run: Run, data: str) -> dict[str, dict]:
    """Fit both models on ``data/<data>_box`` into ``models/<kind>_<data>.pt`` (the sim ones from scratch,
    the real ones from the sim ones) and return their reports; a model whose report an interrupted
    attempt at this stage wrote is kept (the report is written after its checkpoint)."""
    settings = {"epochs": run.sizes.fit_epochs, "patience": run.sizes.fit_patience, "seed": run.seed,
                "progress": run.progress}
    reports = {}
    for kind in MODEL_OF.values():
        path = run.model_dir / f"{kind}_{data}.json"
        if path.is_file():
            log.info("%s: fitted by an earlier part of this run", path.name)
            reports[kind] = json.loads(path.read_text())
            continue
        init = run.models[kind]["sim_checkpoint"] if data == "real" else None
        reports[kind] = fit(run.data_dir / f"{data}_box", kind, path.with_suffix(".pt"), init=init, **settings)
        write_json(path, reports[kind])
    return reports


def _fit_sim(run: Run) -> None:
    for kind, sim in _fit(run, "sim").items():
        run.models[kind] = {"sim_checkpoint": sim["checkpoint"]}


def _fit_real(run: Run) -> None:
    for kind, real in _fit(run, "real").items():
        run.models[kind].update(real_checkpoint=real["checkpoint"], real_eval_rmse_1step=real["eval"]["rmse_1step"],
                                real_eval_rmse_10step=real["eval"]["rmse_10step"])


def _residual(run: Run) -> None:
    for kind in MODEL_OF.values():
        res = fit_residual(run.models[kind]["real_checkpoint"], run.rollouts, run.model_dir / f"{kind}_residual.pt",
                           form=run.residual, epochs=run.sizes.residual_epochs, seed=run.seed, progress=run.progress)
        write_json(run.model_dir / f"{kind}_residual.json", res)
        run.models[kind].update(residual_checkpoint=res["checkpoint"],
                                **{k: res[k] for k in ("eval_loss_uncorrected", "eval_loss_corrected",
                                                       "mean_abs_correction_rad", "gains") if k in res})


def _corrected_eval(run: Run) -> None:
    for condition, kind in MODEL_OF.items():
        run.evaluate(condition, run.hand.rotate(run.task), correction=run.models[kind]["residual_checkpoint"],
                     before_episode=run.place(condition))


def _box_setup(run: Run) -> None:
    run.setup(f"put the hand in its Chaos Box ({run.hand.box_port})")


@dataclass(frozen=True)
class Stage:
    """One named step of the pipeline: ``run(run)`` does the work, timed as ``timings[name]`` and logged
    with ``what``; ``before(run)``, if given, prepares it untimed (e.g. waits for a person at the hand).
    ``reads``: the run's arguments it reads beyond :data:`SHARED` (``hand``, ``residual``); ``files``: what
    it writes, relative to the workdir (what a run that shares it links)."""

    name: str
    what: str | Callable[[Run], str]
    run: Callable[[Run], None]
    files: tuple[str, ...]
    reads: tuple[str, ...] = ()
    before: Callable[[Run], None] | None = None

    def run_in(self, run: Run) -> None:
        """Prepare, then do the stage, logging its name and description and recording its wall time (s)."""
        if self.before is not None:
            self.before(run)
        log.info("stage %s: %s", self.name, self.what(run) if callable(self.what) else self.what)
        start = time.perf_counter()
        self.run(run)
        run.timings[self.name] = time.perf_counter() - start
        log.info("stage %s done in %.1f s", self.name, run.timings[self.name])


def _evaluation(*conditions: str) -> tuple[str, ...]:
    return tuple(f"eval/{c}.{ext}" for c in conditions for ext in ("json", "png"))


def _models(stage: str) -> tuple[str, ...]:
    return tuple(f"models/{kind}_{stage}.{ext}" for kind in MODEL_OF.values() for ext in ("pt", "json"))


STAGES = (
    Stage("sim_eval", "the base policy in the simulator", _sim_eval, (*_evaluation("sim"), "data/sim_rollouts")),
    Stage("sim_policy", "more base-policy episodes in the simulator", _sim_policy, ("data/sim_policy",)),
    Stage("sim_box", "Chaos Box in the simulator, replaying the base policy", _sim_box, ("data/sim_box",)),
    Stage("fit_sim", "dynamics models pretrained on the sim Chaos Box data", _fit_sim, _models("sim")),
    Stage("direct_eval", lambda run: f"direct transfer to the {run.hand.describe()}", _direct_eval,
          _evaluation("direct"), reads=("hand",)),
    Stage("real_box", "Chaos Box on the hand, replaying the base policy (same seed as in sim)", _real_box,
          ("data/real_box",), reads=("hand",), before=_box_setup),
    Stage("fit_real", "dynamics models fine-tuned on the hand's Chaos Box data", _fit_real, _models("real"),
          reads=("hand",)),
    Stage("residual", "residual corrections through the frozen real-hand models", _residual, _models("residual"),
          reads=("hand", "residual")),
    Stage("corrected_eval", "the base policy on the hand under each correction", _corrected_eval,
          _evaluation(*CORRECTIONS), reads=("hand", "residual")),
)
"""Stages a-f of the module docstring, in order (g, the plot and ``pipeline.json``, follows them)."""


def check_run(size: str | Sizes, wrist: str, object: str, axis: str, residual: str) -> Sizes:
    """A clear ValueError for a size, wrist, object (a name or category), axis or residual form that does
    not exist, before any work is done; returns the sizes."""
    if wrist not in WRISTS:
        raise ValueError(f"unknown wrist {wrist!r}; allowed: {', '.join(WRISTS)}")
    resolve_objects(object)
    parse_axis(axis)
    residual_form(residual)
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
    path = write_json(workdir / "eval" / f"{condition}.json", report)
    plot_rotation(curves, path.with_suffix(".png"), f"{condition}: {policy} on {env_id}")
    log.info("%s: Rot %.2f rad, TTF %.2f over %d episodes", condition, report["rot_rad"], report["ttf"], episodes)
    rot = np.array([e["rot_rad"] for e in report["per_episode"]])
    row = {**{k: report[k] for k in METRIC_KEYS}, "rot_rad_se": rot_standard_error(report),
           "episodes": episodes, "report": str(path)}  # Sizes asks for >= 2 episodes
    return row, curves, rot


def _collect(env: tuple, source, episodes: int, out: Path, steps: int, seed: int, progress: bool) -> dict:
    """One crash-safe collection into ``out`` (see :func:`baselines.collect.collect`); returns its summary."""
    make_env, meta, faults = env
    summary = collect(make_env, source, episodes, out, meta, seed=seed, steps=steps, faults=faults, progress=progress,
                      resume=True)
    log.info("%s: %d episodes, %d transitions (%.0f/s)", out.name, summary["episodes"], summary["transitions"],
             summary["transitions_per_s"])
    return {"path": str(out), **{k: summary[k] for k in ("episodes", "transitions", "faulty_episodes", "seconds",
                                                        "bytes")}}


def plot_conditions(curves: dict[str, list[np.ndarray]], path: Path, title: str) -> Path:
    """Rotation about the axis (rad) over time (s) per condition: thin lines per episode, the mean bold
    (an episode that ended early holds its last value)."""
    from baselines import plots

    fig, ax = plots.figure(size=(7, 4))
    for (condition, runs), color in zip(curves.items(), plots.colors()):
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
    return plots.save(fig, path, dpi=90)


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
    for figure, title, undefined in (
            ("improvement", "improvement (corrected Rot / direct Rot - 1", "the policy does not rotate on the hand"),
            ("gap_closed", "gap closed (share of the lost Rot won back", "it rotates no less on the hand than in sim")):
        if result[figure]["joint_wise"] is None:
            lines.append(f"{title.split(' (')[0]}: undefined ({undefined})")
            continue
        lines.append(f"{title}; 95 % paired bootstrap interval over episodes): " + ", ".join(
            f"{label} {format_figure(result, figure, c)}" for c, label in (("joint_wise", "joint-wise"),
                                                                           ("whole_hand", "whole-hand"))))
    real = data["real_box"]
    lines.append(f"data: {real['transitions']} real Chaos Box transitions "
                 f"({real['transitions'] / CONTROL_HZ / 60:.1f} min of hand time), "
                 f"{data['sim_box']['transitions']} sim Chaos Box, "
                 f"{data['sim_policy']['transitions']} base-policy sim transitions (+ the sim evaluation's)")
    t = result["timings"]
    lines.append("wall time {:.0f} s ({})".format(
        t["total"], ", ".join(f"{k} {v:.0f} s" for k, v in t.items() if k != "total")))
    lines.append(f"artefacts: {result['workdir']} (plot {result['plot']})")
    return "\n".join(lines)
