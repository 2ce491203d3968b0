"""Open-loop action sources for data collection and evaluation: waves, the scripted finger gait,
replayed rollouts and the reference baselines (random actions, holding still). Learned policies and
the searched gait are in :mod:`baselines.policy` and :mod:`baselines.gait`;
:func:`baselines.policy.load_policy` turns any ``--policy`` argument into a source.

:class:`WaveSource` makes each joint's *target* follow a wave (sine, square or noisy square) around a
centre inside its range, and turns that into LeapRotate's relative actions
``a_t = clip(24 (w(t) - target_{t-1}), -1, 1)``; a square edge therefore becomes a ramp at the
fastest speed the action semantics allow (1/24 rad per step). Every random draw comes from the
generator it is given, so a seeded generator gives the same waves.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from baselines.scripted import FingerGaitPolicy
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS
from dexndm_envs.interface import ACTION_SCALE, action_towards, latest_target
from dexndm_envs.metrics import CONTROL_HZ

WAVE_KINDS = ("sine", "square", "noisy_square")
"""The kinds of :class:`WaveSource` (``mixed`` draws one per joint and episode)."""
WAVE_CHOICES = (*WAVE_KINDS, "mixed")


class ActionSource(Protocol):
    """Anything that acts for a collection or an evaluation: drawn anew per episode from ``rng``, then
    called per step with the observation, returning the action (float32, [-1, 1], motor order).

    A source may set, in ``reset``, ``episode_meta`` (a dict stored with the episode) and
    ``reset_options`` (passed to the env's reset, e.g. ``{"target": q}`` to start from a pose).
    """

    name: str

    def reset(self, rng: np.random.Generator) -> None: ...

    def __call__(self, observation: np.ndarray) -> np.ndarray: ...


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
        if kind not in WAVE_CHOICES:
            raise ValueError(f"unknown wave kind {kind!r}; allowed: {', '.join(WAVE_CHOICES)}")
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
        action = action_towards(self.wave(self.t), self.target)
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


class RandomSource:
    """The random-policy baseline: actions uniform in [-1, 1] per joint and step, from the episode's
    generator."""

    name = "random"

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, NUM_JOINTS).astype(np.float32)


class HoldSource:
    """The hold-still baseline: zero relative actions, so the targets stay at the grasp's."""

    name = "hold"

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to draw."""

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        return np.zeros(NUM_JOINTS, dtype=np.float32)


class ReplaySource:
    """Open-loop replay of action sequences from saved base-policy rollouts (the paper's Chaos Box).

    Each episode replays one segment of ``steps`` actions: a rollout drawn uniformly among those of
    ``wrist``, and a start step drawn uniformly among those that leave ``steps`` actions. The episode
    starts at the joint target the rollout had there (``reset_options``, passed to the env's reset), so
    the relative actions move the hand through the targets the policy visited rather than drifting from
    wherever the hand happens to be. Rollouts shorter than ``steps`` (the object dropped) are replayed
    whole and followed by further whole rollouts, drawn the same way, until ``steps`` actions are
    queued. With probability
    ``noise_prob`` *per episode* every action of that episode gets Gaussian noise of ``noise_std``
    (the paper: probability 0.5, sigma 0.01); per episode, so that half the data is the policy's exact
    action distribution and half its neighbourhood.

    Args:
        rollouts: dataset directories of rollouts recorded with actions (``dexndm eval --save-rollouts``,
            or any :class:`~dexndm_envs.dynamics.dataset.EpisodeWriter` output with ``actions``).
        wrist: only rollouts whose metadata has this wrist are replayed.
    """

    name = "replay"

    def __init__(self, rollouts, wrist: str, steps: int = 400, noise_prob: float = 0.5,
                 noise_std: float = 0.01) -> None:
        from dexndm_envs.dynamics.dataset import load_episodes

        episodes = load_episodes(rollouts)
        with_actions = [ep for ep in episodes if "actions" in ep]
        if not with_actions:
            raise ValueError(f"no rollout in {rollouts} was recorded with actions; replay needs them")
        mine = [ep for ep in with_actions if ep["meta"]["wrist"] == wrist]
        self.sequences = [ep["actions"] for ep in mine]
        # the target in effect before each action: target_t minus its action's change (clipped at the limits)
        self.before = [np.clip(ep["targets"] - ep["actions"] * ACTION_SCALE, LOWER_LIMITS, UPPER_LIMITS) for ep in mine]
        if not self.sequences:
            wrists = sorted({ep["meta"]["wrist"] for ep in with_actions})
            raise ValueError(f"no rollouts for wrist {wrist!r} in {rollouts}; the rollouts there are for {wrists}")
        self.steps, self.noise_prob, self.noise_std = steps, noise_prob, noise_std

    def reset(self, rng: np.random.Generator) -> None:
        parts, queued = [], 0
        while queued < self.steps:
            k = int(rng.integers(len(self.sequences)))
            seq = self.sequences[k]
            start = int(rng.integers(len(seq) - self.steps + 1)) if len(seq) >= self.steps and not parts else 0
            if not parts:
                self.reset_options = {"target": self.before[k][start].astype(np.float64)}
            parts.append(seq[start:start + self.steps - queued])
            queued += len(parts[-1])
        actions = np.concatenate(parts).astype(np.float64)
        self.noisy = bool(rng.random() < self.noise_prob)
        self.episode_meta = {"action_noise_std": self.noise_std if self.noisy else 0.0}
        if self.noisy:
            actions += rng.normal(0.0, self.noise_std, actions.shape)
        self.actions = np.clip(actions, -1.0, 1.0).astype(np.float32)
        self.t = 0

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        action = self.actions[min(self.t, len(self.actions) - 1)]
        self.t += 1
        return action
