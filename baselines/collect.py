"""Collecting episodes into the dynamics dataset format, one atomic file per episode.

Episode ``i`` of a collection with seed ``s`` resets the env and the action source from seeds derived
from ``(s, i)`` alone, so a collection that is interrupted and resumed holds exactly the episodes an
uninterrupted one would.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from dexndm_envs.dynamics.dataset import EpisodeWriter
from dexndm_envs.dynamics.recording import record_episode
from dexndm_envs.metrics import EPISODE_STEPS

log = logging.getLogger(__name__)


class ActionSource(Protocol):
    """Anything that acts for a collection: drawn anew per episode from ``rng``, then called per step."""

    name: str

    def reset(self, rng: np.random.Generator) -> None: ...

    def __call__(self, observation: np.ndarray) -> np.ndarray: ...


def episode_seeds(seed: int, index: int) -> tuple[int, np.random.Generator]:
    """The env reset seed and the source's generator of episode ``index`` of a collection."""
    env_seed, source_seed = np.random.SeedSequence([seed, index]).generate_state(2)
    return int(env_seed), np.random.default_rng(int(source_seed))


def collect(env: gym.Env, source: ActionSource, episodes: int, out: str | Path, meta: dict, *, seed: int = 0,
            steps: int = EPISODE_STEPS, resume: bool = False, progress: bool = True) -> EpisodeWriter:
    """Record episodes until ``out`` holds ``episodes`` of them (``resume`` continues a collection).

    ``meta`` is the dataset metadata common to all episodes (source, wrist, object, gap,
    control_period_s); the source's name, the seed and the episode index are added.
    """
    writer = EpisodeWriter(out, resume=resume)
    start, started = len(writer), time.perf_counter()
    transitions = 0
    bar = tqdm(range(start, episodes), desc=f"collect {source.name}", unit="episode", disable=not progress)
    for i in bar:
        env_seed, rng = episode_seeds(seed, i)
        source.reset(rng)
        ep = record_episode(env, source, steps, seed=env_seed)
        writer.write(ep["q"], ep["targets"], ep["timestamps"], actions=ep["actions"],
                     meta={**meta, "policy": source.name, "seed": seed, "episode": i})
        transitions += len(ep["targets"])
        bar.set_postfix(transitions_per_s=f"{transitions / (time.perf_counter() - started):.0f}")
    return writer
