"""Search an open-loop periodic gait that rotates an object (cross-entropy method), as a warm start.

PPO from scratch on a 2-core CPU (a few million env steps) learns to hold the object, not to gait
(docs/decisions.md). A periodic gait is 48 numbers (per joint: a cosine and a sine amplitude and an
offset, :class:`~baselines.gait.PeriodicGaitSource`; 32 more per extra harmonic) at a fixed period and
waveform (sinusoids, or triangles with ``--skew``), few enough for the cross-entropy method: sample a
population around a Gaussian (centred on zero or on an ``--init`` gait), score each on the same few
episodes (:data:`FITNESS` in ``steps`` steps, minus ``fall_penalty`` rad for a drop), refit the
Gaussian to the best, repeat. The result is a gait file that ``dexndm train --residual-over`` trains a
policy over (the oracle then improves on it closed loop), that ``--warm-start`` clones into a new PPO
policy, and that ``--policy`` accepts anywhere.

    python -m baselines.gait_search --env-kwargs '{"object": "cylinder", "wrist": "palm_up", "axis": "+z"}' \\
        --out baselines/gaits/palm_up_cylinder_z.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from baselines.cputime import cpu_seconds
from baselines.gait import PeriodicGaitSource
from dexndm_envs.fileio import atomic_write, write_json
from dexndm_envs.hand import FINGERS, NUM_JOINTS
from dexndm_envs.metrics import CONTROL_HZ, EPISODE_STEPS

_ENV = None  # one env per worker process
log = logging.getLogger(__name__)


FITNESS = ("rot", "rotr", "steady")
"""What a candidate is scored by: ``rot``, the rotation about the axis (rad, what Rot counts);
``rotr``, the clipped rotation rate sampled at the end of each step, summed and divided by 20 Hz
(rad-equivalent: equal to ``rot`` for a steady rotation below the env's reward clip, less for one that
comes in jerks within a step or runs faster than the clip); ``steady``, ``rotr`` less the part of each
sampled rate beyond the clip, either way, times ``overspeed_weight`` (the env's ``reward_overspeed``):
a flick forward and its spring back cost instead of cancelling, so only a turn below the clip scores
fully."""


def _score(job: tuple[dict, float, float | None, np.ndarray, int, int, float, str, float]) -> float:
    """The fitness (:data:`FITNESS`, rad) of one gait in one episode, minus the fall penalty if the
    object dropped."""
    import gymnasium as gym

    import dexndm_envs  # noqa: F401  (registers the ids in the worker)

    global _ENV
    env_kwargs, period, skew, params, seed, steps, fall_penalty, fitness, overspeed_weight = job
    if _ENV is None:
        _ENV = gym.make("DexNDM/LeapRotate-v0", **env_kwargs)
    gait = PeriodicGaitSource.from_params(period, params, skew)
    gait.reset(None)
    obs, _ = _ENV.reset(seed=seed)
    clip, overspeed = _ENV.unwrapped.rotate_reward_clip, 0.0
    for _ in range(steps):
        obs, _, terminated, truncated, info = _ENV.step(gait(obs))
        overspeed += max(abs(info["rate_step"]) - clip, 0.0)
        if terminated or truncated:
            break
    score = {"rot": float(info["rot"]), "rotr": float(info["rotr"]) / CONTROL_HZ,
             "steady": float(info["rotr"] - overspeed_weight * overspeed) / CONTROL_HZ}[fitness]
    return score - fall_penalty if terminated else score


def _initial_mean(path: str | Path, harmonics: int) -> np.ndarray:
    """The flat parameter vector (:meth:`~baselines.gait.PeriodicGaitSource.from_params`) of the gait file
    at ``path`` with its harmonics padded by zeros to ``harmonics``."""
    gait = PeriodicGaitSource(path)
    if gait.harmonics > harmonics:
        raise ValueError(f"{path}: the initial gait has {gait.harmonics} harmonics, more than the {harmonics} "
                         "searched; search at least as many")
    pad = np.zeros((harmonics - gait.harmonics, NUM_JOINTS))
    return np.concatenate([np.vstack([gait.a, pad]).ravel(), np.vstack([gait.b, pad]).ravel(), gait.offset])


def search(env_kwargs: dict, *, period: float = 16, harmonics: int = 1, skew: float | None = None,
           generations: int = 25,
           population: int = 24, elite: int = 6, episodes: int = 6, steps: int = 160, init_std: float = 0.25,
           bound: float = 0.5, fall_penalty: float = 2.0, fitness: str = "rot", seed: int = 0, workers: int = 2,
           overspeed_weight: float = 1.0, init: str | Path | None = None, fingers: list[str] | None = None,
           progress: bool = True) -> dict:
    """Cross-entropy search over the (cos, sin) amplitudes of ``harmonics`` harmonics and the offsets,
    all in [-bound, bound] rad, scoring by ``fitness`` (:data:`FITNESS`); returns the gait (the final
    mean, the distribution's best estimate) with the fitness history, the wall time (s) and
    ``search_cpu_s``: the CPU seconds of this search and its workers plus those of the search ``init``
    came from, so a gait carries what all its stages cost. ``skew`` makes the waves
    triangles that rise for that fraction of each cycle (:func:`baselines.gait.cos_like`).

    The search starts from zero amplitudes, or from the gait file ``init`` (its harmonics, the others
    zero): a fitness that charges flicks, searched from zero, finds that holding still is safest, where
    from a gait that turns it can trade speed for steadiness. ``fingers`` (names of
    :data:`dexndm_envs.hand.FINGERS`) searches only those fingers' joints and keeps every other joint's
    waves and offset as the start has them: a finger the start leaves idle can learn a stroke of its own
    without the search undoing the others'."""
    if fitness not in FITNESS:
        raise ValueError(f"unknown fitness {fitness!r}; allowed: {', '.join(FITNESS)}")
    unknown = sorted(set(fingers or []) - set(FINGERS))
    if unknown or fingers == []:
        raise ValueError(f"fingers to search must be some of {', '.join(FINGERS)}; got {fingers}")
    if (not 1 <= steps <= EPISODE_STEPS or not 1 <= elite <= population or episodes < 1 or generations < 1
            or harmonics < 1 or (skew is not None and not 0 < skew < 1) or not fall_penalty >= 0):
        raise ValueError(f"need 1 <= steps <= {EPISODE_STEPS}, 1 <= elite <= population, episodes >= 1, "
                         f"generations >= 1, harmonics >= 1, 0 < skew < 1 and fall_penalty >= 0; got steps={steps}, "
                         f"elite={elite}, population={population}, episodes={episodes}, generations={generations}, "
                         f"harmonics={harmonics}, skew={skew}, fall_penalty={fall_penalty}")
    settings = {"generations": generations, "population": population, "elite": elite, "episodes": episodes,
                "steps": steps, "init_std": init_std, "bound": bound, "fall_penalty": fall_penalty, "fitness": fitness,
                "overspeed_weight": overspeed_weight, "fingers": fingers, "seed": seed}
    rng = np.random.default_rng(seed)
    cpu_start, earlier_cpu = cpu_seconds(), 0.0
    dim = (2 * harmonics + 1) * NUM_JOINTS
    joints = [j for f in (fingers or FINGERS) for j in FINGERS[f]]
    searched = np.isin(np.arange(dim) % NUM_JOINTS, joints)  # every harmonic's cos and sin, and the offset
    mean, std = np.zeros(dim), np.where(searched, init_std, 0.0)
    if init is not None:
        mean = _initial_mean(init, harmonics)
        settings["init"] = str(init)
        earlier_cpu = float(json.loads(Path(init).read_text()).get("search_cpu_s", 0.0))
    history = []
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for gen in tqdm(range(generations), desc="gait search", unit="generation", disable=not progress):
            candidates = np.clip(mean + std * rng.normal(size=(population, dim)), -bound, bound)
            candidates[:, ~searched] = mean[~searched]  # the fingers not searched keep the start's waves
            seeds = rng.integers(2**31, size=episodes)  # the same episodes for every candidate
            jobs = [(env_kwargs, period, skew, c, int(s), steps, fall_penalty, fitness, overspeed_weight)
                    for c in candidates for s in seeds]
            scores = np.array(pool.map(_score, jobs)).reshape(population, episodes).mean(1)
            best = np.argsort(scores)[::-1][:elite]
            mean, std = candidates[best].mean(0), np.where(searched, np.maximum(candidates[best].std(0), 0.03), 0.0)
            history.append({"generation": gen, "mean_fitness": float(scores.mean()),
                            "elite_fitness": float(scores[best].mean())})
    gait = PeriodicGaitSource.from_params(period, mean, skew)
    return {"period_steps": period, "harmonics": harmonics, **({"skew": skew} if skew is not None else {}),
            "cos": gait.a.ravel().tolist(), "sin": gait.b.ravel().tolist(), "offset": gait.offset.tolist(),
            "env_kwargs": env_kwargs, "search": settings,
            "fitness": f"{fitness} (rad) in {steps} steps minus {fall_penalty} rad per fall, "
                       f"mean of {episodes} episodes",
            "history": history, "wall_s": time.perf_counter() - start,
            "search_cpu_s": earlier_cpu + cpu_seconds() - cpu_start}


def search_stages(env_kwargs: dict, stages: dict | list[dict], out: str | Path, *, seed: int = 0,
                  progress: bool = True) -> Path:
    """Search a gait in one or more stages and write it to ``out/gait.json``; returns that path.

    ``stages`` is :func:`search`'s keyword arguments, or a list of them run in turn, each stage after
    the first starting from the gait of the one before (its ``init``), e.g. a sinusoidal gait first,
    then skewed waves searched from it. A stage's ``env_kwargs`` are merged over ``env_kwargs`` for
    that stage only (a search clip, say). Each stage's gait is kept as ``out/gait_stage<i>.json`` and
    reused when the search runs again in the same ``out`` (a run stopped between stages loses none)."""
    stages = [stages] if isinstance(stages, dict) else list(stages)
    if not stages:
        raise ValueError("a gait search needs at least one stage of settings")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    previous = None
    for i, stage in enumerate(stages):
        path = out / f"gait_stage{i}.json" if len(stages) > 1 else out / "gait.json"
        if len(stages) > 1 and path.is_file():
            previous = path
            continue
        settings = {**stage, "env_kwargs": {**env_kwargs, **stage.get("env_kwargs", {})}}
        if previous is not None:
            settings.setdefault("init", previous)
        log.info("gait search stage %d of %d -> %s (from %s)", i + 1, len(stages), path, settings.get("init", "zero"))
        kwargs = settings.pop("env_kwargs")
        write_json(path, search(kwargs, seed=seed, progress=progress, **settings))
        previous = path
    if previous != out / "gait.json":
        atomic_write(out / "gait.json", previous.read_bytes())
    return out / "gait.json"


def main() -> None:
    from baselines.episodes import parse_env_kwargs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-kwargs", default='{"object": "cylinder", "wrist": "palm_up", "axis": "+z"}')
    parser.add_argument("--period", type=float, default=16, help="gait period, policy steps (16 = 0.8 s)")
    parser.add_argument("--harmonics", type=int, default=1,
                        help="harmonics of the period per joint (2 lets a finger push slowly and return quickly)")
    parser.add_argument("--skew", type=float, default=None,
                        help="triangle waves rising for this fraction of each cycle instead of sinusoids "
                             "(e.g. 0.3: a slow stroke one way, a quick return)")
    parser.add_argument("--generations", type=int, default=25)
    parser.add_argument("--population", type=int, default=24)
    parser.add_argument("--episodes", type=int, default=6, help="episodes per candidate")
    parser.add_argument("--steps", type=int, default=160, help="steps per scoring episode")
    parser.add_argument("--fitness", choices=FITNESS, default="rot",
                        help="rot: rotation about the axis; rotr: the clipped end-of-step rate; steady: rotr less "
                             "the rate beyond the clip (a turn without flicks)")
    parser.add_argument("--fall-penalty", type=float, default=2.0,
                        help="rad charged to a candidate's episode in which the object drops (larger: holding first)")
    parser.add_argument("--init", type=Path, help="start from this gait file instead of zero amplitudes")
    parser.add_argument("--init-std", type=float, default=0.25, help="initial sampling spread, rad")
    parser.add_argument("--overspeed-weight", type=float, default=1.0,
                        help="steady fitness: what a rad/s beyond the clip costs per step, against the clipped rate")
    parser.add_argument("--fingers", nargs="+", choices=list(FINGERS), default=None,
                        help="search only these fingers' joints; the others keep the --init gait's waves")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        gait = search(parse_env_kwargs(args.env_kwargs), period=args.period, harmonics=args.harmonics, skew=args.skew,
                      generations=args.generations,
                      population=args.population, episodes=args.episodes, steps=args.steps, fitness=args.fitness,
                      init_std=args.init_std, seed=args.seed, workers=args.workers, init=args.init,
                      overspeed_weight=args.overspeed_weight, fingers=args.fingers, fall_penalty=args.fall_penalty)
    except ValueError as e:
        raise SystemExit(f"gait_search: error: {e}") from None
    write_json(args.out, gait)
    last = gait["history"][-1]
    print(f"gait -> {args.out}: elite {last['elite_fitness']:.2f} rad, population {last['mean_fitness']:.2f} rad "
          f"per {args.steps} steps ({gait['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
