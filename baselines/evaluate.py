"""``dexndm eval``: a policy's rotation metrics on any env with LeapRotate's interface.

The policy is an SB3 checkpoint (``.zip``, with ``vecnormalize.pkl`` beside it if it was trained with
one), a distilled generalist (``.pt``), or a baseline: ``scripted`` (the finger gait), ``random``,
``hold`` (:func:`baselines.policy.load_policy`); an SB3 policy runs on the observation its run record
(``train.json``) names, or the one its input size matches (:func:`baselines.policy.policy_env_kwargs`).
The env is a sim env (with or without a gap profile), or the real / virtual hand with ``--port``
(metrics need its tracker: ``--env-kwargs '{"tracker": ...}'``); ``--correction`` wraps it in
:class:`~dexndm_envs.wrappers.NDMCorrection`. Per episode it records the paper's metrics (Rot, TTF,
RotR, RotP) and the rotation angle over time; it prints a table per condition (object, wrist), writes
the JSON, a plot of the rotation angle over time beside it,
optionally GIF videos, and optionally the rollouts in the dynamics dataset format (with actions) for
Chaos Box replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the env ids)
from baselines.episodes import env_factory, episode_seeds
from baselines.policy import load_policy, policy_env_kwargs
from dexndm_envs.dynamics.dataset import EpisodeWriter
from dexndm_envs.dynamics.recording import record_episode
from dexndm_envs.fileio import atomic_write
from dexndm_envs.interface import missing_members
from dexndm_envs.metrics import CONTROL_HZ, EPISODE_STEPS, METRIC_KEYS

log = logging.getLogger(__name__)


class _Frames(gym.Wrapper):
    """Keeps the rgb_array frame of every step (for a video), the cumulative rotation (for a plot) and the
    episode's sum of the return and of each signed reward term the env reports (``info["reward_*"]``)."""

    def __init__(self, env: gym.Env, keep_frames: bool) -> None:
        super().__init__(env)
        self.keep_frames, self.frames, self.rotation, self.returns = keep_frames, [], [], {}

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self.frames, self.rotation = ([self.env.render()] if self.keep_frames else []), [0.0]
        self.returns = {"return": 0.0}
        return out

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.rotation.append(float(info.get("rot", self.rotation[-1])))
        self.returns["return"] += float(reward)
        for key in (k for k in info if k.startswith("reward_")):
            self.returns[key] = self.returns.get(key, 0.0) + float(info[key])
        if self.keep_frames:
            self.frames.append(self.env.render())
        return obs, reward, terminated, truncated, info


def evaluate(env_id: str, env_kwargs: dict, policy: str, episodes: int, *, port: str | None = None,
             correction: str | Path | None = None, seed: int = 0, steps: int = EPISODE_STEPS,
             video_dir: Path | None = None, video_episodes: int = 2, save_rollouts: Path | None = None,
             progress: bool = True, before_episode: Callable[[int], None] | None = None) -> dict:
    """Run ``episodes`` episodes and return the report (the JSON of ``dexndm eval``).

    ``before_episode`` is called with each episode's reset seed before its reset: on a hand, where a
    dropped object stays dropped, it puts the object back (a person asked by the pipeline, or the
    virtual hand's :meth:`~real.emulator.virtual_hand.VirtualHand.place_object`, which starts from the
    grasp the simulator's reset with that seed starts from)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1; got {episodes}")
    if port is not None and "tracker" not in env_kwargs:
        raise ValueError("metrics on a real hand need its object tracker: --env-kwargs '{\"tracker\": \"host:port\"}' "
                         "(`dexndm emulate` prints the virtual hand's)")
    source = load_policy(policy)
    env_kwargs = policy_env_kwargs(source, env_id, env_kwargs)
    kwargs = {**env_kwargs, **({"render_mode": "rgb_array"} if video_dir else {})}
    make_env, meta, _ = env_factory(env_id, kwargs, port)
    env = make_env()
    missing = missing_members(env.unwrapped, state=False)  # the sim/real contract evaluation relies on
    if missing:
        env.close()
        raise ValueError(f"{env_id} has no rotation metrics to evaluate (it lacks {', '.join(missing)} of "
                         "dexndm_envs.interface.RotationEnv): use DexNDM/LeapRotate-v0 or DexNDM/LeapRotateReal-v0 "
                         "with a tracker")
    if correction is not None:
        from dexndm_envs.wrappers import NDMCorrection

        env = NDMCorrection(env, correction)
    env = _Frames(env, keep_frames=video_dir is not None)
    writer = EpisodeWriter(save_rollouts) if save_rollouts is not None else None
    results, curves = [], []
    try:
        for i in tqdm(range(episodes), desc="eval", unit="episode", disable=not progress):
            env_seed, rng = episode_seeds(seed, i)
            if before_episode is not None:
                before_episode(env_seed)
            source.reset(rng)
            env.keep_frames = video_dir is not None and i < video_episodes
            ep = record_episode(env, source, steps, seed=env_seed)
            metrics = env.unwrapped.episode_metrics()
            condition = {"object": ep["reset_info"].get("object", meta["object"]), "wrist": meta["wrist"]}
            results.append({**condition, **{k: float(metrics[k]) for k in METRIC_KEYS}, "returns": dict(env.returns)})
            curves.append(np.array(env.rotation))
            if writer is not None:
                writer.write(ep["q"], ep["targets"], ep["timestamps"], actions=ep["actions"],
                             meta={**meta, "object": condition["object"], "policy": source.name, "seed": seed,
                                   "episode": i, "correction": None if correction is None else str(correction),
                                   "metrics": results[-1]})
            if env.keep_frames:
                _write_gif(env.frames, video_dir / f"episode_{i:03d}.gif")
    finally:
        env.close()
    report = {"policy": policy, "env": env_id, "env_kwargs": env_kwargs,
              "correction": None if correction is None else str(correction), "episodes": episodes, "seed": seed,
              **_mean(results), "returns": {k: float(np.mean([r["returns"][k] for r in results]))
                                            for k in results[0]["returns"]},
              "conditions": _conditions(results), "per_episode": results}
    report["_curves"] = curves
    return report


def rot_standard_error(report: dict) -> float:
    """The standard error (rad) of a report's mean Rot over its episodes (needs >= 2 episodes)."""
    rot = np.array([e["rot_rad"] for e in report["per_episode"]])
    return float(rot.std(ddof=1) / np.sqrt(len(rot)))


def _mean(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS}


def _conditions(rows: list[dict]) -> list[dict]:
    keys = sorted({(r["object"], r["wrist"]) for r in rows})
    return [{"object": o, "wrist": w, "episodes": len(sel), **_mean(sel)}
            for o, w in keys for sel in [[r for r in rows if (r["object"], r["wrist"]) == (o, w)]]]


def _write_gif(frames: list[np.ndarray], path: Path) -> None:
    from PIL import Image

    images = [Image.fromarray(np.asarray(f)[..., :3].astype(np.uint8)) for f in frames]
    atomic_write(path, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                duration=50, loop=0))


def plot_rotation(curves: list[np.ndarray], path: Path, title: str) -> Path:
    """Rotation angle (rad) about the target axis over time, one line per episode."""
    from baselines import plots

    fig, ax = plots.figure(size=(6, 3.5))
    for curve in curves:
        ax.plot(np.arange(len(curve)) / CONTROL_HZ, curve, lw=1, alpha=0.7)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rotation about the axis (rad)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return plots.save(fig, path, dpi=90)
