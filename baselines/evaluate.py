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
Chaos Box replay. With ``--ray`` the episodes run in Ray tasks (simulators only, no videos) and the
report is the serial one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
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
             progress: bool = True, before_episode: Callable[[int], None] | None = None,
             ray_address: str | None = None, num_cpus: int | None = None) -> dict:
    """Run ``episodes`` episodes and return the report (the JSON of ``dexndm eval``).

    ``before_episode`` is called with each episode's reset seed before its reset: on a hand, where a
    dropped object stays dropped, it puts the object back (a person asked by the pipeline, or the
    virtual hand's :meth:`~real.emulator.virtual_hand.VirtualHand.place_object`, which starts from the
    grasp the simulator's reset with that seed starts from).

    ``ray_address`` (``dexndm eval --ray``: ``local``, ``auto`` or host:port, :mod:`baselines.cluster`;
    ``num_cpus`` for ``local``) runs the episodes in Ray tasks, each worker with its own simulator, with
    the loaded policy and correction shipped to the workers; the report (and ``save_rollouts``, written
    here in episode order) is the serial one. A simulator only: no ``port``, ``video_dir`` or
    ``before_episode``."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1; got {episodes}")
    if ray_address is not None and (port is not None or before_episode is not None):
        raise ValueError("--ray shards the episodes over many simulators, but --port is one hand: drop --ray to "
                         "evaluate on a real or virtual hand")
    if ray_address is not None and video_dir is not None:
        raise ValueError("--video records in this process: drop --ray to record videos (or run them apart, with a "
                         "few episodes)")
    if ray_address is not None:
        from baselines.cluster import check_address

        check_address(ray_address)  # before a policy is loaded or a rollout directory made
    if port is not None and "tracker" not in env_kwargs:
        raise ValueError("metrics on a real hand need its object tracker: --env-kwargs '{\"tracker\": \"host:port\"}' "
                         "(`dexndm emulate` prints the virtual hand's)")
    source = load_policy(policy)
    env_kwargs = policy_env_kwargs(source, env_id, env_kwargs)
    kwargs = {**env_kwargs, **({"render_mode": "rgb_array"} if video_dir else {})}
    make_env, meta, _ = env_factory(env_id, kwargs, port)
    missing = missing_members(load_env_creator(gym.spec(env_id).entry_point), state=False)  # what evaluation uses
    if missing:
        raise ValueError(f"{env_id} has no rotation metrics to evaluate (it lacks {', '.join(missing)} of "
                         "dexndm_envs.interface.RotationEnv): use DexNDM/LeapRotate-v0 or DexNDM/LeapRotateReal-v0 "
                         "with a tracker")
    residual = None
    if correction is not None:
        from dexndm_envs.dynamics.residual import load_residual

        residual = load_residual(correction)
    make = functools.partial(_metrics_env, make_env, residual)
    if ray_address is None:
        stream = _serial_episodes(make, source, episodes, meta, seed=seed, steps=steps, video_dir=video_dir,
                                  video_episodes=video_episodes, before_episode=before_episode)
    else:
        from baselines.cluster import episode_task, map_in_order

        stream = map_in_order(ray_address, episode_task, range(episodes), uuid.uuid4().hex, make, run_episode,
                              source, seed, steps, meta, num_cpus=num_cpus)
    writer = EpisodeWriter(save_rollouts) if save_rollouts is not None else None
    results, curves = [], []
    with contextlib.closing(stream):
        for i, ep in enumerate(tqdm(stream, total=episodes, desc="eval", unit="episode", disable=not progress)):
            results.append(ep["result"])
            curves.append(ep["rotation"])
            if writer is not None:
                writer.write(ep["q"], ep["targets"], ep["timestamps"], actions=ep["actions"],
                             meta={**meta, "object": ep["result"]["object"], "policy": source.name, "seed": seed,
                                   "episode": i, "correction": None if correction is None else str(correction),
                                   "metrics": ep["result"]})
    report = {"policy": policy, "env": env_id, "env_kwargs": env_kwargs,
              "correction": None if correction is None else str(correction), "episodes": episodes, "seed": seed,
              **_mean(results), "returns": {k: float(np.mean([r["returns"][k] for r in results]))
                                            for k in results[0]["returns"]},
              "conditions": _conditions(results), "per_episode": results}
    report["_curves"] = curves
    return report


def _metrics_env(make_env: Callable[[], gym.Env], residual) -> _Frames:
    """The env an evaluation runs: ``make_env()``, under :class:`~dexndm_envs.wrappers.NDMCorrection` with
    ``residual`` (a loaded residual policy) unless it is None, and :class:`_Frames` outermost."""
    env = make_env()
    if residual is not None:
        from dexndm_envs.wrappers import NDMCorrection

        env = NDMCorrection(env, residual)
    return _Frames(env, keep_frames=False)


def run_episode(env: _Frames, source, index: int, meta: dict, *, seed: int, steps: int) -> dict:
    """Episode ``index`` of an evaluation with ``seed`` (the env and the source reset from
    :func:`~baselines.episodes.episode_seeds` ``(seed, index)``, at most ``steps`` steps): the arrays of
    :func:`~dexndm_envs.dynamics.recording.record_episode` (``q``, ``targets``, ``actions``,
    ``timestamps``), ``rotation`` (the rotation about the axis after each step, rad, from 0) and
    ``result``, the report's row: the condition (object, wrist), the metrics and the returns."""
    env_seed, rng = episode_seeds(seed, index)
    source.reset(rng)
    ep = record_episode(env, source, steps, seed=env_seed)
    metrics = env.unwrapped.episode_metrics()
    condition = {"object": ep["reset_info"].get("object", meta["object"]), "wrist": meta["wrist"]}
    result = {**condition, **{k: float(metrics[k]) for k in METRIC_KEYS}, "returns": dict(env.returns)}
    return {**{k: ep[k] for k in ("q", "targets", "actions", "timestamps")}, "rotation": np.array(env.rotation),
            "result": result}


def _serial_episodes(make: Callable[[], _Frames], source, episodes: int, meta: dict, *, seed: int, steps: int,
                     video_dir: Path | None, video_episodes: int,
                     before_episode: Callable[[int], None] | None) -> Iterator[dict]:
    """The episodes in this process, one env for all of them; the first ``video_episodes`` as GIFs into
    ``video_dir`` (unless None)."""
    env = make()
    try:
        for i in range(episodes):
            if before_episode is not None:
                before_episode(episode_seeds(seed, i)[0])
            env.keep_frames = video_dir is not None and i < video_episodes
            ep = run_episode(env, source, i, meta, seed=seed, steps=steps)
            if env.keep_frames:
                _write_gif(env.frames, video_dir / f"episode_{i:03d}.gif")
            yield ep
    finally:
        env.close()


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
