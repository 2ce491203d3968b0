"""``dexndm collect``: episodes of any env into the dynamics dataset format, crash-safe and resumable.

* Every finished episode is one atomic file (:class:`~dexndm_envs.dynamics.dataset.EpisodeWriter`):
  SIGINT, SIGTERM or a kill -9 loses at most the episode in progress, and ``--resume`` continues the
  count.
* Episode ``i`` of a collection with seed ``s`` resets the env and the action source from seeds derived
  from ``(s, i)`` alone, so an interrupted and resumed collection holds exactly the episodes an
  uninterrupted one would (in simulation; a real hand is never the same twice).
* On the real (or virtual) hand, an episode that a bus error ends after its retries is kept up to the
  error and marked ``faulty`` in its metadata (with the message); the hand is then opened again and
  collection goes on, until ``max_faults`` episodes in a row have failed. Retried exchanges are counted
  per episode (``bus_retries``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from tqdm.auto import tqdm

from dexndm_envs.dynamics.dataset import EpisodeWriter
from dexndm_envs.dynamics.recording import record_episode
from dexndm_envs.metrics import CONTROL_HZ, EPISODE_STEPS

log = logging.getLogger(__name__)


class ActionSource(Protocol):
    """Anything that acts for a collection: drawn anew per episode from ``rng``, then called per step.

    A source may set, in ``reset``, ``episode_meta`` (a dict stored with the episode) and
    ``reset_options`` (passed to the env's reset, e.g. ``{"target": q}`` to start from a pose).
    """

    name: str

    def reset(self, rng: np.random.Generator) -> None: ...

    def __call__(self, observation: np.ndarray) -> np.ndarray: ...


def episode_seeds(seed: int, index: int) -> tuple[int, np.random.Generator]:
    """The env reset seed and the source's generator of episode ``index`` of a collection."""
    env_seed, source_seed = np.random.SeedSequence([seed, index]).generate_state(2)
    return int(env_seed), np.random.default_rng(int(source_seed))


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the block, so both stop a collection the same way."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class CollectionStopped(RuntimeError):
    """Too many faults in a row: the hand needs a person."""


def collect(make_env: Callable[[], gym.Env], source: ActionSource, episodes: int, out: str | Path, meta: dict, *,
            seed: int = 0, steps: int = EPISODE_STEPS, resume: bool = False,
            faults: tuple[type[BaseException], ...] = (), max_faults: int = 3, progress: bool = True) -> dict:
    """Record episodes until ``out`` holds ``episodes`` of them; returns a summary.

    ``meta`` is the dataset metadata common to all episodes (source, wrist, object, gap,
    control_period_s); the source's name, the seed and the episode index are added. ``faults``: the
    exception types that mark an episode faulty instead of stopping (bus errors on a real hand); after
    ``max_faults`` faulty episodes (or failed attempts to reopen the hand) in a row, CollectionStopped.
    """
    if steps < 1 or episodes < 0 or max_faults < 1:
        raise ValueError(f"steps must be >= 1, episodes >= 0 and max_faults >= 1; got {steps}, {episodes}, {max_faults}")
    writer = EpisodeWriter(out, resume=resume)
    first, started, transitions = len(writer), time.perf_counter(), 0
    faulty_in_row, env = 0, None
    bar = tqdm(total=episodes * steps, initial=first * steps, desc=f"collect {source.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    try:
        while len(writer) < episodes:
            i = len(writer)
            fault = None
            try:
                env = env or make_env()
            except faults as e:
                fault = f"{type(e).__name__}: {e}"
                log.warning("opening the env failed: %s", fault)
            if fault is None:
                env_seed, rng = episode_seeds(seed, i)
                source.reset(rng)
                ep = record_episode(env, source, steps, seed=env_seed, options=getattr(source, "reset_options", None),
                                    catch=faults)
                fault = ep["fault"]
                episode_meta = {**meta, **getattr(source, "episode_meta", {}), "policy": source.name, "seed": seed,
                                "episode": i, "bus_retries": ep["last_info"].get("bus_retries", 0)
                                - ep["reset_info"].get("bus_retries", 0)}
                if fault is not None:
                    log.warning("episode %d: %s after %d steps; kept and marked faulty, reopening the hand",
                                i, fault, len(ep["targets"]))
                    episode_meta.update(faulty=True, fault=fault)
                if len(ep["targets"]):  # a fault before the first step leaves nothing to keep
                    writer.write(ep["q"], ep["targets"], ep["timestamps"], episode_meta, actions=ep["actions"])
                    bar.update(steps)
                transitions += len(ep["targets"])
                bar.set_postfix(transitions_per_s=f"{transitions / (time.perf_counter() - started):.0f}")
            if fault is None:
                faulty_in_row = 0
                continue
            faulty_in_row += 1
            if env is not None:
                env.close()
                env = None
            if faulty_in_row >= max_faults:
                raise CollectionStopped(f"{faulty_in_row} episodes in a row ended with a fault (last: {fault}); "
                                        f"stopping. {len(writer)} episodes are on disk in {out}")
    finally:
        bar.close()
        if env is not None:
            env.close()
    return summary(writer, transitions, time.perf_counter() - started)


def summary(writer: EpisodeWriter, new_transitions: int, seconds: float) -> dict:
    """Episodes, transitions, faulty episodes and disk use of a dataset after a collection."""
    files = [writer.path / e["file"] for e in writer.entries]
    size = sum(f.stat().st_size for f in files)
    return {"episodes": len(files), "transitions": sum(e["steps"] for e in writer.entries),
            "faulty_episodes": sum(e["faulty"] for e in writer.entries), "new_transitions": new_transitions,
            "seconds": seconds, "transitions_per_s": new_transitions / seconds if seconds > 0 else 0.0,
            "bytes": size, "bytes_per_episode": size / len(files) if files else 0.0}


def parse_env_kwargs(text: str | None) -> dict:
    """``--env-kwargs``: a JSON object of env arguments (None: none), else a clear ValueError."""
    try:
        kwargs = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise ValueError(f"--env-kwargs is not valid JSON ({e}): {text!r}") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object; got {text!r}")
    return kwargs


def env_factory(env_id: str, env_kwargs: dict, port: str | None) -> tuple[Callable[[], gym.Env], dict, tuple]:
    """How ``dexndm collect`` makes its env: the factory, the dataset metadata and the fault types."""
    kwargs = dict(env_kwargs)
    if port is not None:
        if not env_id.startswith("DexNDM/LeapRotateReal"):
            raise ValueError(f"--port is for DexNDM/LeapRotateReal-v0 (a real or virtual hand), not {env_id}")
        kwargs["port"] = port
    spec = gym.spec(env_id)  # raises with the registered ids for an unknown one
    defaults = inspect.signature(load_env_creator(spec.entry_point)).parameters
    wrist = kwargs.get("wrist", defaults["wrist"].default if "wrist" in defaults else None)
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


def main(args) -> None:
    """The ``dexndm collect`` command (arguments parsed in :mod:`baselines.cli`)."""
    from baselines.sources import ReplaySource, WaveSource, load_policy

    kwargs = parse_env_kwargs(args.env_kwargs)
    make_env, meta, faults = env_factory(args.env, kwargs, args.port)
    if args.source_label:
        meta["source"] = args.source_label
    if args.object_label:
        meta["object"] = args.object_label
    if args.rollouts:
        source = ReplaySource(args.rollouts, meta["wrist"], steps=args.steps)
    elif args.policy:
        source = load_policy(args.policy)
    else:
        source = WaveSource(args.waves)
    with sigterm_as_interrupt():
        try:
            result = collect(make_env, source, args.episodes, args.out, meta, seed=args.seed, steps=args.steps,
                             resume=args.resume, faults=faults)
        except KeyboardInterrupt:
            done = EpisodeWriter(args.out, resume=True)
            raise SystemExit(f"dexndm collect: interrupted; {len(done)} finished episodes are on disk in "
                             f"{args.out} (the one in progress was dropped); --resume continues") from None
        except (CollectionStopped, *faults) as e:
            raise SystemExit(f"dexndm collect: stopped: {e}") from None
    print(f"{result['episodes']} episodes ({result['transitions']} transitions, {result['faulty_episodes']} faulty) "
          f"in {args.out}; this run: {result['new_transitions']} transitions at {result['transitions_per_s']:.0f}/s; "
          f"disk {result['bytes'] / 1e6:.1f} MB, {result['bytes_per_episode'] / 1e3:.0f} kB per episode")
