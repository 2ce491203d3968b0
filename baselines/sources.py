"""Action sources for data collection that need no trained policy.

:class:`WaveSource` makes each joint's *target* follow a wave (sine, square or noisy square) around a
centre inside its range, and turns that into LeapRotate's relative actions
``a_t = clip(24 (w(t) - target_{t-1}), -1, 1)``; a square edge therefore becomes a ramp at the
fastest speed the action semantics allow (1/24 rad per step). Every random draw comes from the
generator it is given, so a seeded generator gives the same waves.
"""

from __future__ import annotations

import numpy as np

from baselines.scripted import FingerGaitPolicy
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS
from dexndm_envs.interface import ACTION_SCALE, latest_target
from dexndm_envs.metrics import CONTROL_HZ

WAVE_KINDS = ("sine", "square", "noisy_square")


class WaveSource:
    """Per-episode random waves on every joint target (radians, motor order).

    Args:
        kind: one of ``sine``, ``square``, ``noisy_square`` or ``mixed`` (a kind drawn per joint and
            episode).
        amplitude: range of the wave amplitude as a fraction of each joint's half range.
        period_s: range of the wave period, seconds.
        noise_rad: standard deviation of the per-step noise of ``noisy_square``, radians.
    """

    def __init__(self, kind: str = "mixed", amplitude: tuple[float, float] = (0.1, 0.5),
                 period_s: tuple[float, float] = (0.5, 4.0), noise_rad: float = 0.05) -> None:
        if kind not in (*WAVE_KINDS, "mixed"):
            raise ValueError(f"unknown wave kind {kind!r}; allowed: {', '.join(WAVE_KINDS)}, mixed")
        self.kind, self.amplitude, self.period_s, self.noise_rad = kind, amplitude, period_s, noise_rad
        self.name = f"waves_{kind}"

    def reset(self, rng: np.random.Generator) -> None:
        """Draw the next episode's waves from ``rng``."""
        half = (UPPER_LIMITS - LOWER_LIMITS) / 2
        mid = (UPPER_LIMITS + LOWER_LIMITS) / 2
        self.rng = rng
        self.amp = rng.uniform(*self.amplitude, NUM_JOINTS) * half
        self.centre = mid + rng.uniform(-1, 1, NUM_JOINTS) * (half - self.amp)
        self.omega = 2 * np.pi / rng.uniform(*self.period_s, NUM_JOINTS)
        self.phase = rng.uniform(0, 2 * np.pi, NUM_JOINTS)
        kinds = (rng.integers(len(WAVE_KINDS), size=NUM_JOINTS) if self.kind == "mixed"
                 else np.full(NUM_JOINTS, WAVE_KINDS.index(self.kind)))
        self.square = kinds != WAVE_KINDS.index("sine")
        self.noisy = kinds == WAVE_KINDS.index("noisy_square")
        self.t = 0

    def wave(self, t: int) -> np.ndarray:
        """The wave targets at step ``t`` (rad, motor order)."""
        s = np.sin(self.omega * t / CONTROL_HZ + self.phase)
        shape = np.where(self.square, np.sign(s), s)
        noise = np.where(self.noisy, self.rng.normal(0.0, self.noise_rad, NUM_JOINTS), 0.0)
        return np.clip(self.centre + self.amp * shape + noise, LOWER_LIMITS, UPPER_LIMITS)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """The next action (float32, [-1, 1]), open loop: the observation only gives the target the
        episode starts from."""
        if self.t == 0:
            self.target = latest_target(observation)
        self.t += 1
        action = np.clip((self.wave(self.t) - self.target) / ACTION_SCALE, -1.0, 1.0)
        self.target = np.clip(self.target + action * ACTION_SCALE, LOWER_LIMITS, UPPER_LIMITS)
        return action.astype(np.float32)


class GaitSource:
    """:class:`~baselines.scripted.FingerGaitPolicy` with amplitude and period (steps) drawn per episode."""

    name = "finger_gait"

    def __init__(self, amplitude: tuple[float, float] = (0.4, 0.8), period: tuple[int, int] = (16, 30)) -> None:
        self.amplitude, self.period = amplitude, period

    def reset(self, rng: np.random.Generator) -> None:
        self.policy = FingerGaitPolicy(float(rng.uniform(*self.amplitude)), int(rng.integers(*self.period)))

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        return self.policy(observation)
