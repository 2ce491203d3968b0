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
* With ``--ray`` (simulators only) the episodes are recorded in Ray tasks, each worker with its own
  simulator, and this process writes them in index order (results that arrive early wait for the ones
  before them), so the directory holds episodes 0..k-1 at every moment and ``--resume`` works as
  above; a task whose worker or node dies is run again. An interrupt keeps every episode already
  written; those that had arrived ahead of a missing one are recorded again by ``--resume``, the same.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
import uuid
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
            faults: tuple[type[BaseException], ...] = (), max_faults: int = 3, progress: bool = True,
            ray_address: str | None = None, num_cpus: int | None = None) -> dict:
    """Record episodes until ``out`` holds ``episodes`` of them; returns a summary.

    ``meta`` is the dataset metadata common to all episodes (source, wrist, object, gap,
    control_period_s); the source's name, the seed and the episode index are added. ``faults``: the
    exception types that mark an episode faulty instead of stopping (bus errors on a real hand); after
    ``max_faults`` faulty episodes (or failed attempts to reopen the hand) in a row, CollectionStopped.

    ``ray_address`` (``dexndm collect --ray``: ``local``, ``auto`` or host:port,
    :mod:`baselines.cluster`; ``num_cpus`` for ``local``) records the episodes in Ray tasks instead, each
    worker with its own simulator built by ``make_env``, which is shipped to the workers with ``source``
    (both must pickle). This process alone writes, in index order, so the directory holds the same
    files as a serial collection at every moment of it; a simulator only (``faults`` must be empty).
    """
    if steps < 1 or episodes < 0 or max_faults < 1:
        raise ValueError(f"steps must be >= 1, episodes >= 0 and max_faults >= 1; got {steps}, {episodes}, "
                         f"{max_faults}")
    if ray_address is not None and faults:
        raise ValueError("--ray shards the episodes over many simulators, but --port is one hand (real or "
                         "virtual): drop --ray to collect from it")
    if ray_address is not None:
        from baselines.cluster import check_address

        check_address(ray_address)  # before the dataset directory is made
    writer = EpisodeWriter(out, resume=resume)
    first, started, transitions = len(writer), time.perf_counter(), 0
    if ray_address is None:
        stream = _serial_episodes(make_env, source, first, episodes, out, meta, seed=seed, steps=steps,
                                  faults=faults, max_faults=max_faults)
    else:
        from baselines.cluster import episode_task, map_in_order

        stream = map_in_order(ray_address, episode_task, range(first, episodes), uuid.uuid4().hex, make_env,
                              record, source, seed, steps, meta, num_cpus=num_cpus)
    bar = tqdm(total=episodes * steps, initial=first * steps, desc=f"collect {source.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    with bar, contextlib.closing(stream):
        for ep in stream:
            if len(ep["targets"]):  # a fault before the first step leaves nothing to keep
                writer.write(ep["q"], ep["targets"], ep["timestamps"], ep["meta"], actions=ep["actions"])
                bar.update(steps)
            transitions += len(ep["targets"])
            bar.set_postfix(transitions_per_s=f"{transitions / (time.perf_counter() - started):.0f}")
    return summary(writer, transitions, time.perf_counter() - started)


def record(env: gym.Env, source: ActionSource, index: int, meta: dict, *, seed: int, steps: int,
           faults: tuple[type[BaseException], ...] = ()) -> dict:
    """Episode ``index`` of a collection with ``seed``: the env and the source reset from
    :func:`~baselines.episodes.episode_seeds` ``(seed, index)``, at most ``steps`` steps. Returns the
    arrays of :func:`~dexndm_envs.dynamics.recording.record_episode` (``q``, ``targets``, ``actions``,
    ``timestamps``), its ``fault`` (None, or the message of an exception of a type in ``faults``) and
    the episode's ``meta``: ``meta`` plus the source's name and episode metadata, the seed, the index,
    the bus retries and, after a fault, ``faulty`` and ``fault``."""
    env_seed, rng = episode_seeds(seed, index)
    source.reset(rng)
    ep = record_episode(env, source, steps, seed=env_seed, options=getattr(source, "reset_options", None),
                        catch=faults)
    episode_meta = {**meta, **getattr(source, "episode_meta", {}), "policy": source.name, "seed": seed,
                    "episode": index, "bus_retries": ep["last_info"].get("bus_retries", 0)
                    - ep["reset_info"].get("bus_retries", 0)}
    if ep["fault"] is not None:
        episode_meta.update(faulty=True, fault=ep["fault"])
    return {**{k: ep[k] for k in ("q", "targets", "actions", "timestamps", "fault")}, "meta": episode_meta}


def _serial_episodes(make_env: Callable[[], gym.Env], source: ActionSource, first: int, episodes: int,
                     out: str | Path, meta: dict, *, seed: int, steps: int, faults: tuple[type[BaseException], ...],
                     max_faults: int) -> Iterator[dict]:
    """Episodes ``first``, ``first + 1``, ... in this process, one env for all of them, until ``episodes``
    are kept: an episode with no step (a fault at reset) is tried again with the same index. After a
    fault the env is closed and made again (a hand reopened); :class:`CollectionStopped` after
    ``max_faults`` faults in a row."""
    i, faulty_in_row, env = first, 0, None
    try:
        while i < episodes:
            fault = None
            try:
                env = env or make_env()
            except faults as e:
                fault = f"{type(e).__name__}: {e}"
                log.warning("opening the env failed: %s", fault)
            if fault is None:
                ep = record(env, source, i, meta, seed=seed, steps=steps, faults=faults)
                fault = ep["fault"]
                if fault is not None:
                    log.warning("episode %d: %s after %d steps; kept and marked faulty, reopening the hand",
                                i, fault, len(ep["targets"]))
                if len(ep["targets"]):  # else the index is tried again: the consumer keeps no empty episode
                    i += 1
                yield ep
            if fault is None:
                faulty_in_row = 0
                continue
            faulty_in_row += 1
            if env is not None:
                env.close()
                env = None
            if faulty_in_row >= max_faults:
                raise CollectionStopped(f"{faulty_in_row} episodes in a row ended with a fault (last: {fault}); "
                                        f"stopping. {i} episodes are on disk in {out}")
    finally:
        if env is not None:
            env.close()


def summary(writer: EpisodeWriter, new_transitions: int, seconds: float) -> dict:
    """Episodes, transitions, faulty episodes and disk use of a dataset after a collection."""
    files = [writer.path / e["file"] for e in writer.entries]
    size = sum(f.stat().st_size for f in files)
    return {"episodes": len(files), "transitions": sum(e["steps"] for e in writer.entries),
            "faulty_episodes": sum(e["faulty"] for e in writer.entries), "new_transitions": new_transitions,
            "seconds": seconds, "transitions_per_s": new_transitions / seconds if seconds > 0 else 0.0,
            "bytes": size, "bytes_per_episode": size / len(files) if files else 0.0}
