"""The searched open-loop periodic gait (:mod:`baselines.gait_search` finds it, ``--policy GAIT.json``
runs it, :mod:`baselines.residual_gait` bends it): its file format and its action source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import action_towards, latest_target, next_target


def cos_like(angle: np.ndarray | float, skew: float | None) -> np.ndarray:
    """cos(angle) for ``skew`` None; else a triangle wave with cos's period (2 pi), peak (1 at angle 0)
    and trough (-1) that falls for a fraction 1 - ``skew`` of the cycle and rises for ``skew``."""
    if skew is None:
        return np.cos(angle)
    u = np.mod(np.asarray(angle) / (2 * np.pi), 1.0)  # 0 at the peak
    fall = 1.0 - skew
    return np.where(u < fall, 1.0 - 2.0 * u / fall, -1.0 + 2.0 * (u - fall) / skew)


class PeriodicGaitSource:
    """An open-loop periodic gait found by :mod:`baselines.gait_search`, from its JSON file.

    Joint j's target follows ``target0_j + offset_j min(1, t / P) + sum_h [a_hj (cos(2 pi h t / P) - 1)
    + b_hj sin(2 pi h t / P)]`` over the harmonics h = 1..H (rad, motor order; t in policy steps,
    P = ``period_steps``, H = ``harmonics``, default 1) from the target the episode starts at, turned
    into relative actions like :class:`~baselines.sources.WaveSource` (so a jump becomes a ramp at 1/24
    rad per step). The file's ``cos`` and ``sin`` lists hold H x 16 values, harmonic by harmonic. One
    harmonic moves every joint as fast out as back; a second lets a finger push slowly and return
    quickly, which is what a steady turn asks of it. With ``skew`` s in (0, 1) in the file, cos and sin
    are replaced by triangle waves of the same period and phase (:func:`cos_like`) that take a fraction
    1 - s of each cycle to fall and s to rise: every joint then moves at one speed one way and another
    speed back, a slow stroke and a quick return (s = 0.5: a symmetric triangle).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            gait = json.loads(path.read_text())
            self.period = float(gait["period_steps"])
            self.harmonics = int(gait.get("harmonics", 1))
            self.skew = None if gait.get("skew") is None else float(gait["skew"])
            self.a, self.b, self.offset = (np.asarray(gait[k], dtype=np.float64) for k in ("cos", "sin", "offset"))
            self.env_kwargs = dict(gait.get("env_kwargs", {}))  # what it was searched on
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}: not a gait file ({type(e).__name__}: {e}); gait files hold period_steps "
                             "and cos, sin (16 per harmonic) and offset (16) lists (python -m baselines.gait_search "
                             "writes them)") from None
        wave = (self.harmonics * NUM_JOINTS,)
        if (self.harmonics < 1 or self.a.shape != wave or self.b.shape != wave or self.offset.shape != (NUM_JOINTS,)
                or not self.period > 1):
            raise ValueError(f"{path}: need harmonics >= 1, cos and sin of {NUM_JOINTS} x harmonics values, "
                             f"offset of {NUM_JOINTS} and period_steps > 1; got harmonics {self.harmonics}, "
                             f"cos {self.a.size}, sin {self.b.size}, offset {self.offset.size}, "
                             f"period_steps {self.period}")
        if not (np.isfinite(self.period) and all(np.isfinite(v).all() for v in (self.a, self.b, self.offset))):
            raise ValueError(f"{path}: the gait holds NaN or infinite values")
        if self.skew is not None and not 0 < self.skew < 1:
            raise ValueError(f"{path}: skew is the rising fraction of each cycle, in (0, 1); got {self.skew}")
        self.a, self.b = self.a.reshape(self.harmonics, NUM_JOINTS), self.b.reshape(self.harmonics, NUM_JOINTS)
        self.name = f"gait:{path.name}"

    @classmethod
    def from_params(cls, period: float, params: np.ndarray, skew: float | None = None) -> PeriodicGaitSource:
        """A gait from a flat parameter vector, as the search samples them: H x 16 cosine amplitudes,
        H x 16 sine amplitudes, 16 offsets (rad), so (2 H + 1) x 16 values for H harmonics; ``skew`` as
        in the file (None: sinusoids)."""
        params = np.asarray(params, dtype=np.float64)
        harmonics, rest = divmod(params.size // NUM_JOINTS - 1, 2)
        if params.size % NUM_JOINTS or rest or harmonics < 1:
            raise ValueError(f"a gait has (2 H + 1) x {NUM_JOINTS} parameters for H >= 1 harmonics; got {params.size}")
        gait = cls.__new__(cls)
        gait.period, gait.name, gait.env_kwargs, gait.harmonics = float(period), "gait", {}, harmonics
        gait.skew = skew
        a, b, gait.offset = np.split(params, [harmonics * NUM_JOINTS, 2 * harmonics * NUM_JOINTS])
        gait.a, gait.b = a.reshape(harmonics, NUM_JOINTS), b.reshape(harmonics, NUM_JOINTS)
        return gait

    def reset(self, rng: np.random.Generator) -> None:
        self.t = 0

    def wave(self, t: int) -> np.ndarray:
        """The gait's wanted target at step ``t`` (rad, motor order; not clipped to the limits), from the
        episode's start target ``self.start``."""
        w = 2 * np.pi * t / self.period * np.arange(1, self.harmonics + 1)[:, None]
        quarter = np.pi / 2
        c = cos_like(w, self.skew) - 1
        s = cos_like(w - quarter, self.skew) - cos_like(-quarter, self.skew)  # sin(w) for sinusoids
        return self.start + self.offset * min(1.0, t / self.period) + (self.a * c + self.b * s).sum(0)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        if self.t == 0:
            self.start = self.target = latest_target(observation)
        self.t += 1
        action = action_towards(self.wave(self.t), self.target)
        self.target = next_target(self.target, action)
        return action.astype(np.float32)
