"""How the baselines make an env and seed its episodes, shared by collection, evaluation, distillation
and the warm start: :func:`env_factory` (an env id and ``--env-kwargs`` -> a factory and the dataset
metadata), :func:`parse_env_kwargs` and :func:`episode_seeds` (episode ``i`` of a run with seed ``s``
depends on ``(s, i)`` alone, so a resumed or repeated run gives the same episodes)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

import dexndm_envs  # noqa: F401  (registers the env ids)
from dexndm_envs.metrics import CONTROL_HZ

REAL_ENV_PREFIX = "DexNDM/LeapRotateReal"


def episode_seeds(seed: int, index: int) -> tuple[int, np.random.Generator]:
    """The env reset seed and the action source's generator of episode ``index`` of a run with ``seed``."""
    env_seed, source_seed = np.random.SeedSequence([seed, index]).generate_state(2)
    return int(env_seed), np.random.default_rng(int(source_seed))


def parse_env_kwargs(text: str | None) -> dict:
    """``--env-kwargs``: a JSON object of env arguments (None: none), else a clear ValueError."""
    try:
        kwargs = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise ValueError(f"--env-kwargs is not valid JSON ({e}): {text!r}") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object; got {text!r}")
    return kwargs


def env_defaults(env_id: str) -> dict:
    """The keyword arguments ``env_id``'s constructor takes, with their defaults (``inspect.Parameter.empty``
    where there is none); a gymnasium error names the registered ids for an unknown one."""
    spec = gym.spec(env_id)
    return {name: p.default for name, p in inspect.signature(load_env_creator(spec.entry_point)).parameters.items()}


def env_factory(env_id: str, env_kwargs: dict, port: str | None) -> tuple[Callable[[], gym.Env], dict, tuple]:
    """How the baselines make an env: the factory, the dataset metadata (source, wrist, object, gap,
    control period, env id and kwargs) and the exception types that mark a hand's episode faulty."""
    kwargs = dict(env_kwargs)
    if port is not None:
        if not env_id.startswith(REAL_ENV_PREFIX):
            raise ValueError(f"--port is for DexNDM/LeapRotateReal-v0 (a real or virtual hand), not {env_id}")
        kwargs["port"] = port
    spec = gym.spec(env_id)  # raises with the registered ids for an unknown one
    defaults = env_defaults(env_id)
    wrist = kwargs.get("wrist", defaults.get("wrist"))
    real = "port" in kwargs
    faults: tuple = ()
    if real:
        from real.bus import BusError

        faults = (BusError,)
    gap = kwargs.get("gap")
    meta = {"source": "real" if real else ("gap" if gap else "sim"), "wrist": wrist,
            "object": kwargs.get("object", "chaos_box" if "ChaosBox" in env_id else "none"),
            "gap": None if gap is None else str(gap), "control_period_s": 1.0 / CONTROL_HZ, "env": spec.id,
            "env_kwargs": {k: v for k, v in kwargs.items() if k != "port"}}
    return (lambda: gym.make(env_id, **kwargs)), meta, faults
