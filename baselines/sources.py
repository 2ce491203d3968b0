"""Action sources for data collection and evaluation: waves, a scripted gait, replayed rollouts, a
policy checkpoint, and the reference baselines (random actions, holding still); :func:`load_policy`
turns a ``--policy`` argument into one.

:class:`WaveSource` makes each joint's *target* follow a wave (sine, square or noisy square) around a
centre inside its range, and turns that into LeapRotate's relative actions
``a_t = clip(24 (w(t) - target_{t-1}), -1, 1)``; a square edge therefore becomes a ramp at the
fastest speed the action semantics allow (1/24 rad per step). Every random draw comes from the
generator it is given, so a seeded generator gives the same waves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baselines.residual_gait import PHASE_DIM, GaitResidual, residual_settings
from baselines.scripted import FingerGaitPolicy
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS
from dexndm_envs.interface import ACTION_SCALE, action_towards, latest_target, next_target
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


class PeriodicGaitSource:
    """An open-loop periodic gait found by :mod:`baselines.gait_search`, from its JSON file.

    Joint j's target follows ``target0_j + offset_j min(1, t / P) + a_j (cos(2 pi t / P) - 1)
    + b_j sin(2 pi t / P)`` (rad, motor order; t in policy steps, P = ``period_steps``) from the target
    the episode starts at, turned into relative actions like :class:`WaveSource` (so a jump becomes a
    ramp at 1/24 rad per step).
    """

    def __init__(self, path: str | Path) -> None:
        import json

        path = Path(path)
        try:
            gait = json.loads(path.read_text())
            self.period = float(gait["period_steps"])
            self.a, self.b, self.offset = (np.asarray(gait[k], dtype=np.float64) for k in ("cos", "sin", "offset"))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a gait file ({type(e).__name__}: {e}); gait files hold period_steps "
                             "and 16-long cos, sin and offset lists (python -m baselines.gait_search writes them)")
        if not all(v.shape == (NUM_JOINTS,) for v in (self.a, self.b, self.offset)) or not self.period > 1:
            raise ValueError(f"{path}: cos, sin and offset must hold {NUM_JOINTS} values and period_steps be > 1")
        if not (np.isfinite(self.period) and all(np.isfinite(v).all() for v in (self.a, self.b, self.offset))):
            raise ValueError(f"{path}: the gait holds NaN or infinite values")
        self.name = f"gait:{path.name}"

    @classmethod
    def from_params(cls, period: float, params: np.ndarray) -> PeriodicGaitSource:
        """A gait from a flat parameter vector (cos, sin, offset: 48 values), as the search samples them."""
        gait = cls.__new__(cls)
        gait.period, gait.name = float(period), "gait"
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


class PolicySource:
    """A Stable-Baselines3 policy checkpoint acting on the env's observations (deterministic).

    ``path`` is the model's ``.zip``; a ``vecnormalize.pkl`` beside it (as ``dexndm train`` saves it)
    normalises the observations the way the policy was trained. A model trained as a residual over a
    gait (``train.json`` beside it says so, ``gait.json`` is the gait) runs with its gait: it sees the
    observation plus the gait phase and its output bends the gait's targets
    (:mod:`baselines.residual_gait`), so it acts on the plain env like any other policy.
    """

    def __init__(self, path, algo: str = "ppo") -> None:
        import stable_baselines3 as sb3

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no policy checkpoint at {path}")
        algos = {"ppo": sb3.PPO, "sac": sb3.SAC, "td3": sb3.TD3, "a2c": sb3.A2C}
        if algo not in algos:
            raise ValueError(f"unknown algorithm {algo!r}; allowed: {', '.join(algos)}")
        self.model = algos[algo].load(path, device="cpu")
        self.obs_rms = None
        stats = path.with_name("vecnormalize.pkl")
        if stats.is_file():
            import pickle

            with open(stats, "rb") as f:
                vec = pickle.load(f)
            self.obs_rms, self.clip, self.eps = vec.obs_rms, vec.clip_obs, vec.epsilon
        settings = residual_settings(path.parent)
        self.residual = GaitResidual(**settings) if settings else None
        self.name = f"policy:{path.name}"
        self.t = 0  # steps into the episode (a residual model's gait starts at 0); reset() rewinds it

    @property
    def observation_dim(self) -> int:
        """Floats of env observation the policy reads (a residual model's own input adds the gait phase)."""
        dim = self.model.observation_space.shape[0]
        return dim - PHASE_DIM if self.residual is not None else dim

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to draw (the policy is deterministic); a residual policy restarts its gait."""
        self.t = 0

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        obs = observation
        if self.residual is not None:
            if self.t == 0:
                self.residual.reset(observation)
            obs = self.residual.augment(observation)
        self.t += 1
        if self.obs_rms is not None:
            obs = np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.eps), -self.clip, self.clip)
        action, _ = self.model.predict(obs.astype(np.float32), deterministic=True)
        action = np.asarray(action, dtype=np.float32)
        return action if self.residual is None else self.residual.action(action)


POLICY_NAMES = ("scripted", "random", "hold")


def load_policy(spec: str | Path):
    """A ``--policy`` argument as an action source: ``scripted`` (the finger gait), ``random``,
    ``hold``, a searched periodic gait (``.json``, :mod:`baselines.gait_search`), a distilled
    generalist (``.pt``, :mod:`baselines.distill`) or an SB3 checkpoint (``.zip``, with its
    ``vecnormalize.pkl`` beside it)."""
    if str(spec) == "scripted":
        return GaitSource(amplitude=(0.6, 0.6), period=(20, 21))
    if str(spec) == "random":
        return RandomSource()
    if str(spec) == "hold":
        return HoldSource()
    path = Path(spec)
    if path.suffix == ".json":
        return PeriodicGaitSource(path)
    if path.suffix == ".pt":
        from baselines.distill import GeneralistSource

        return GeneralistSource(path)
    if path.suffix != ".zip":
        raise ValueError(f"unknown policy {str(spec)!r}; allowed: {', '.join(POLICY_NAMES)}, a gait (.json), a "
                         "generalist (.pt) or an SB3 checkpoint (.zip)")
    return PolicySource(path)
