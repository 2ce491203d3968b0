"""What a ``--policy`` argument is, and what a policy needs from the env it runs in.

A policy is one of (:func:`policy_kind` decides, the one place that does):

* a reference baseline: ``scripted`` (the finger gait), ``random`` or ``hold`` (:mod:`baselines.sources`);
* a searched gait, ``.json`` (:mod:`baselines.gait`, found by :mod:`baselines.gait_search`);
* a distilled generalist, ``.pt`` (:mod:`baselines.generalist`, made by :mod:`baselines.distill`);
* a Stable-Baselines3 checkpoint, ``.zip`` (:class:`PolicySource`), with what ``dexndm train`` wrote
  beside it: ``vecnormalize.pkl`` (the observation statistics) and the run record ``train.json``
  (:func:`read_run_record`, its one reader: the env and env kwargs it was trained on, and the gait of a
  residual policy).

:func:`load_policy` turns any of them into an action source. An SB3 policy reads one of LeapRotate's two
observations (proprioceptive or privileged, :data:`OBS_DIMS`); :func:`policy_env_kwargs` adds the one it
needs to the env kwargs, so ``dexndm eval --policy oracle/model.zip`` runs an oracle without being told
``obs_mode``. :func:`trained_env_kwargs` says what any policy was made on, :func:`policy_simulator` the
simulator (actuator) it was trained in.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from baselines.episodes import env_defaults
from baselines.gait import PeriodicGaitSource
from baselines.residual_gait import PHASE_DIM, GaitResidual
from baselines.sources import GaitSource, HoldSource, RandomSource
from dexndm_envs.interface import PRIVILEGED_DIM, PROPRIO_DIM

BASELINE_POLICIES = ("scripted", "random", "hold")
"""The ``--policy`` names that need no file."""
POLICY_KINDS = (*BASELINE_POLICIES, "gait", "generalist", "sb3")
SUFFIX_KINDS = {".json": "gait", ".pt": "generalist", ".zip": "sb3"}
OBS_DIMS = {"proprio": PROPRIO_DIM, "privileged": PRIVILEGED_DIM}
"""Floats per observation of LeapRotate's ``obs_mode``s."""
RUN_RECORD = "train.json"
"""The run record ``dexndm train`` writes beside ``model.zip``."""
ALGOS = ("ppo", "sac", "tqc", "crossq")
"""The learners ``dexndm train`` offers and an SB3 checkpoint may hold: SB3's PPO and SAC, sb3-contrib's
TQC and CrossQ."""


def algo_class(algo: str):
    """The SB3 / sb3-contrib class for an :data:`ALGOS` name (a ValueError lists the allowed ones)."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; allowed: {', '.join(ALGOS)}")
    if algo in ("ppo", "sac"):
        import stable_baselines3

        return getattr(stable_baselines3, algo.upper())
    import sb3_contrib

    return {"tqc": sb3_contrib.TQC, "crossq": sb3_contrib.CrossQ}[algo]


def policy_kind(spec: str | Path) -> str:
    """Which of :data:`POLICY_KINDS` a ``--policy`` argument is: a baseline's name, else by the file's
    suffix (``.json`` gait, ``.pt`` generalist, ``.zip`` SB3 checkpoint); ValueError for anything else."""
    if str(spec) in BASELINE_POLICIES:
        return str(spec)
    kind = SUFFIX_KINDS.get(Path(spec).suffix)
    if kind is None:
        raise ValueError(f"unknown policy {str(spec)!r}; allowed: {', '.join(BASELINE_POLICIES)}, a gait (.json), a "
                         "generalist (.pt) or an SB3 checkpoint (.zip)")
    return kind


@dataclass(frozen=True)
class RunRecord:
    """A ``dexndm train`` run record (``train.json`` beside ``model.zip``)."""

    path: Path
    """the ``train.json`` file"""
    env: str
    """the env id trained on"""
    env_kwargs: dict
    """its kwargs (the config's merged with the command line's)"""
    residual: dict | None
    """for a residual policy over a gait: ``{"gait": absolute path of the gait file, "scale": rad}``"""
    info: dict = field(repr=False)
    """everything the file holds (steps, wall time, warm start, ...)"""

    @property
    def obs_mode(self) -> str | None:
        """The ``obs_mode`` the policy was trained on, if its kwargs name one."""
        return self.env_kwargs.get("obs_mode")


def read_run_record(run_dir: str | Path) -> RunRecord | None:
    """The run record in ``run_dir`` (a ``dexndm train`` output directory); None where there is no
    ``train.json``, a ValueError where it is not a run record."""
    path = Path(run_dir) / RUN_RECORD
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
        env, env_kwargs, residual = info["env"], info["env_kwargs"], info.get("residual")
        if not isinstance(env, str) or not isinstance(env_kwargs, dict):
            raise TypeError("'env' must be an env id and 'env_kwargs' an object")
        if residual:
            residual = {"gait": str(Path(run_dir) / residual["gait"]), "scale": float(residual["scale"])}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not a `dexndm train` run record ({type(e).__name__}: {e}); it must hold "
                         "'env' and 'env_kwargs'") from None
    return RunRecord(path, env, env_kwargs, residual or None, info)


class PolicySource:
    """A Stable-Baselines3 policy checkpoint acting on the env's observations (deterministic).

    ``path`` is the model's ``.zip``; a ``vecnormalize.pkl`` beside it (as ``dexndm train`` saves it)
    normalises the observations the way the policy was trained. A model trained as a residual over a
    gait (its run record says so, ``gait.json`` is the gait) runs with its gait: it sees the
    observation plus the gait phase and its output bends the gait's targets
    (:mod:`baselines.residual_gait`), so it acts on the plain env like any other policy.
    """

    def __init__(self, path: str | Path, algo: str | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no policy checkpoint at {path}")
        self.record = read_run_record(path.parent)
        algo = algo or (self.record.info.get("algo", "ppo") if self.record else "ppo")
        model_cls = algo_class(algo)
        try:
            self.model = model_cls.load(path, device="cpu")
        except Exception as e:  # SB3 raises anything from ValueError to pickle errors for a bad file
            cause = "not a zip file" if not zipfile.is_zipfile(path) else f"{type(e).__name__}: {e}"
            raise ValueError(f"{path} is not a readable policy checkpoint ({cause}); an SB3 policy is the "
                             "model.zip that `dexndm train` writes") from None
        self.obs_rms = None
        stats = path.with_name("vecnormalize.pkl")
        if stats.is_file():
            try:
                with open(stats, "rb") as f:
                    vec = pickle.load(f)
                self.obs_rms, self.clip, self.eps = vec.obs_rms, vec.clip_obs, vec.epsilon
            except Exception as e:
                raise ValueError(f"{stats} is not readable VecNormalize statistics ({type(e).__name__}: {e}); "
                                 "`dexndm train` writes it beside model.zip") from None
        residual = self.record.residual if self.record else None
        self.residual = GaitResidual(**residual) if residual else None
        self.name = f"policy:{path.name}"
        self.obs_mode = self._obs_mode(path)
        self.t = 0  # steps into the episode (a residual model's gait starts at 0); reset() rewinds it

    @property
    def observation_dim(self) -> int:
        """Floats of env observation the policy reads (a residual model's own input adds the gait phase;
        an asymmetric actor-critic's actor reads only the proprioceptive prefix, :mod:`baselines.asymmetric`)."""
        actor = getattr(self.model.policy, "actor_obs_dim", None)
        if actor is not None:
            return actor
        dim = self.model.observation_space.shape[0]
        return dim - PHASE_DIM if self.residual is not None else dim

    def _obs_mode(self, path: Path) -> str | None:
        """LeapRotate's ``obs_mode`` this policy reads: its run record's (checked against its input
        size), else the one whose size its input matches; None where it matches neither (a policy for
        another env)."""
        dim = self.observation_dim
        recorded = self.record.obs_mode if self.record else None
        if getattr(self.model.policy, "actor_obs_dim", None) is not None:
            recorded = None  # trained on the privileged observation, but its actor reads only the proprio part
        if recorded is not None:
            if OBS_DIMS.get(recorded) != dim:
                raise ValueError(f"{path} reads {dim} floats per observation, but {self.record.path} says it was "
                                 f"trained on obs_mode {recorded!r}, which gives {OBS_DIMS.get(recorded)}; the "
                                 "checkpoint and its run record disagree")
            return recorded
        return next((mode for mode, size in OBS_DIMS.items() if size == dim), None)

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to draw (the policy is deterministic); a residual policy restarts its gait."""
        self.t = 0

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        if self.t == 0 and np.shape(observation) != (self.observation_dim,):
            modes = ", ".join(f"{size} (obs_mode {mode})" for mode, size in OBS_DIMS.items())
            raise ValueError(f"{self.name} reads {self.observation_dim} floats per observation but the env gives "
                             f"{np.shape(observation)[0]}; LeapRotate gives {modes}. Run it on the env and "
                             f"obs_mode it was trained on" + (f" ({self.record.path})" if self.record else ""))
        obs = observation
        if self.residual is not None:
            if self.t == 0:
                self.residual.reset(observation)
            obs = self.residual.augment(observation)
        self.t += 1
        full = self.model.observation_space.shape[0]
        if len(obs) < full:  # an asymmetric actor-critic: the critic's part, which the actor never reads
            obs = np.concatenate([obs, np.zeros(full - len(obs), obs.dtype)])
        if self.obs_rms is not None:
            obs = np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.eps), -self.clip, self.clip)
        action, _ = self.model.predict(obs.astype(np.float32), deterministic=True)
        action = np.asarray(action, dtype=np.float32)
        return action if self.residual is None else self.residual.action(action)


def load_policy(spec: str | Path):
    """A ``--policy`` argument as an action source: ``scripted`` (the finger gait), ``random``,
    ``hold``, a searched periodic gait (``.json``), a distilled generalist (``.pt``) or an SB3
    checkpoint (``.zip``, with its ``vecnormalize.pkl`` and ``train.json`` beside it)."""
    kind = policy_kind(spec)
    if kind == "scripted":
        return GaitSource(amplitude=(0.6, 0.6), period=(20, 21))
    if kind == "random":
        return RandomSource()
    if kind == "hold":
        return HoldSource()
    if kind == "gait":
        return PeriodicGaitSource(spec)
    if kind == "generalist":
        from baselines.generalist import GeneralistSource

        return GeneralistSource(spec)
    return PolicySource(spec)


def policy_obs_mode(policy: str) -> str:
    """``privileged`` for a policy whose input is LeapRotate's privileged observation (an oracle),
    else ``proprio`` (the deployable observation; open-loop sources and the generalist read only that)."""
    return getattr(load_policy(policy), "obs_mode", None) or "proprio"


def policy_env_kwargs(source, env_id: str, env_kwargs: dict) -> dict:
    """``env_kwargs`` with the ``obs_mode`` a loaded ``source`` reads (an SB3 policy's, from its run record
    or its input size; other sources read any), so a policy runs on the observation it was trained on.

    A ValueError says what the policy needs where ``env_kwargs`` ask for another mode, or where the env
    (a real hand) cannot give the privileged observation.
    """
    mode = getattr(source, "obs_mode", None)
    if mode is None:
        return dict(env_kwargs)
    if "obs_mode" not in env_defaults(env_id):
        if mode != "proprio":
            raise ValueError(f"{source.name} reads LeapRotate's {mode} observation ({OBS_DIMS[mode]} floats), which "
                             f"{env_id} cannot give; use a proprioceptive policy there (the distilled generalist)")
        return dict(env_kwargs)
    asked = env_kwargs.get("obs_mode")
    if asked is not None and asked != mode:
        raise ValueError(f"{source.name} reads the {mode} observation ({OBS_DIMS[mode]} floats), but the env kwargs "
                         f"ask for obs_mode {asked!r}; leave obs_mode out (the policy's run record sets it) or give "
                         f"{mode!r}")
    return {**env_kwargs, "obs_mode": mode}


def trained_env_kwargs(policy: str | Path) -> list[dict]:
    """The env kwargs a policy was made on: an SB3 checkpoint's run record's, a gait file's own, each of
    a generalist's teachers'; ``[{}]`` for the baselines and a checkpoint without a run record."""
    kind = policy_kind(policy)
    if kind == "sb3":
        record = read_run_record(Path(policy).parent)
        return [record.env_kwargs if record else {}]
    if kind == "gait":
        return [PeriodicGaitSource(policy).env_kwargs]
    if kind == "generalist":
        from baselines.generalist import load_generalist

        return [teacher["env_kwargs"] for teacher in load_generalist(policy)[1]["info"]["teachers"]]
    return [{}]


def policy_simulator(policy: str) -> dict:
    """The simulator a base policy was trained in, as env kwargs: ``{"actuator": spec}`` where its
    training used another actuator than the default ideal PD (e.g. one whose torque clip is the hand's
    Goal Current), else ``{}`` (:func:`trained_env_kwargs`; a generalist's teachers must agree)."""
    actuators = {json.dumps(k.get("actuator", "ideal_pd"), sort_keys=True) for k in trained_env_kwargs(policy)}
    if len(actuators) > 1:
        raise ValueError(f"{policy}: its teachers were trained with different actuators "
                         f"({', '.join(sorted(actuators))}); the pipeline compares against one simulator")
    actuator = json.loads(actuators.pop())
    return {} if actuator == "ideal_pd" else {"actuator": actuator}


def policy_label(policy: str) -> str:
    """A short name for tables and plots: an SB3 checkpoint's run directory (``.../oracle_x/model.zip``),
    a gait's or generalist's file name, or the baseline's name."""
    path = Path(policy)
    return path.parent.name if policy_kind(policy) == "sb3" else path.name
