"""The searched open-loop periodic gait (:mod:`baselines.gait_search` finds it, ``--policy GAIT.json``
runs it, :mod:`baselines.residual_gait` bends it): its file format and its action source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import action_towards, latest_target, next_target


class PeriodicGaitSource:
    """An open-loop periodic gait found by :mod:`baselines.gait_search`, from its JSON file.

    Joint j's target follows ``target0_j + offset_j min(1, t / P) + a_j (cos(2 pi t / P) - 1)
    + b_j sin(2 pi t / P)`` (rad, motor order; t in policy steps, P = ``period_steps``) from the target
    the episode starts at, turned into relative actions like :class:`~baselines.sources.WaveSource` (so a jump becomes a
    ramp at 1/24 rad per step).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            gait = json.loads(path.read_text())
            self.period = float(gait["period_steps"])
            self.a, self.b, self.offset = (np.asarray(gait[k], dtype=np.float64) for k in ("cos", "sin", "offset"))
            self.env_kwargs = dict(gait.get("env_kwargs", {}))  # what it was searched on
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}: not a gait file ({type(e).__name__}: {e}); gait files hold period_steps "
                             "and 16-long cos, sin and offset lists (python -m baselines.gait_search writes them)"
                             ) from None
        if not all(v.shape == (NUM_JOINTS,) for v in (self.a, self.b, self.offset)) or not self.period > 1:
            raise ValueError(f"{path}: cos, sin and offset must hold {NUM_JOINTS} values and period_steps be > 1")
        if not (np.isfinite(self.period) and all(np.isfinite(v).all() for v in (self.a, self.b, self.offset))):
            raise ValueError(f"{path}: the gait holds NaN or infinite values")
        self.name = f"gait:{path.name}"

    @classmethod
    def from_params(cls, period: float, params: np.ndarray) -> PeriodicGaitSource:
        """A gait from a flat parameter vector (cos, sin, offset: 48 values), as the search samples them."""
        gait = cls.__new__(cls)
        gait.period, gait.name, gait.env_kwargs = float(period), "gait", {}
        gait.a, gait.b, gait.offset = np.split(np.asarray(params, dtype=np.float64), 3)
        return gait

    def reset(self, rng: np.random.Generator) -> None:
        self.t = 0

    def wave(self, t: int) -> np.ndarray:
        """The gait's wanted target at step ``t`` (rad, motor order; not clipped to the limits), from the
        episode's start target ``self.start``."""
        w = 2 * np.pi * t / self.period
        return self.start + self.offset * min(1.0, t / self.period) + self.a * (np.cos(w) - 1) + self.b * np.sin(w)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        if self.t == 0:
            self.start = self.target = latest_target(observation)
        self.t += 1
        action = action_towards(self.wave(self.t), self.target)
        self.target = next_target(self.target, action)
        return action.astype(np.float32)
