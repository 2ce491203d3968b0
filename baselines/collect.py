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
import logging
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gymnasium as gym
from tqdm.auto import tqdm

from baselines.episodes import episode_seeds
from baselines.sources import ActionSource
from dexndm_envs.dynamics.dataset import EpisodeWriter
from dexndm_envs.dynamics.recording import record_episode
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)


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
        raise ValueError(f"steps must be >= 1, episodes >= 0 and max_faults >= 1; got {steps}, {episodes}, "
                         f"{max_faults}")
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
