"""Joint-wise vs whole-hand neural dynamics on the pseudo-real hand, under a change of interaction.

Training data, on the gap env (``--gap``, default leap_xc330):
  * ``chaos_box``: DexNDM/LeapChaosBox-v0 at ``--wrist`` (palm up: a soft ball strapped to three tips)
    with wave actions (baselines.sources.WaveSource);
  * ``chaos_replay``: the same box replaying the base policy's simulated rollouts with noise, the paper's
    recipe (the base policy here is the scripted finger gait: 20 rollouts in the nominal simulator);
  * ``free``: the same env with no balls (the free hand), wave actions;
  * ``rotation`` (reference, not a collection method): more in-hand rotation episodes like the test
    ones (other seeds), i.e. the test distribution itself: what each model reaches in-distribution.
Held-out test data (another interaction distribution, the paper's point): in-hand rotation of
cylinders in DexNDM/LeapRotate-v0 under the same gap at the same wrist, driven by the scripted finger
gait with a random amplitude and period per episode (episodes end when the object falls).

For each source and each size in ``--sizes`` (transitions, split 9:1 by episode for early stopping),
both models are fitted (defaults of dexndm fit) and scored on the test episodes: one-step RMSE and
10-step open-loop RMSE (rad), beside the naive predictors next q = q and next q = target.
Then the speed targets: fitting the largest size for exactly 20 epochs, and one control step of
model + residual inference.

    python benchmarks/ndm.py [--sizes 1000 10000 100000] [--test-episodes 20] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from report import header

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from baselines.collect import collect
from baselines.sources import GaitSource, ReplaySource, WaveSource
from dexndm_envs.dynamics.dataset import load_episodes, split_episodes
from dexndm_envs.dynamics.evaluation import evaluate, hold_predictor, target_predictor
from dexndm_envs.dynamics.fitting import train
from dexndm_envs.dynamics.models import MODELS, parameter_count
from dexndm_envs.dynamics.residual import MLPResidual
from dexndm_envs.dynamics.training import torch_threads
from dexndm_envs.dynamics.transitions import Transitions

STEPS = 400
LABELS = {"joint": "joint-wise", "whole": "whole-hand"}
SOURCES = ("chaos_box", "chaos_replay", "free", "rotation")


def gather(data_dir: Path, name: str, env_id: str, env_kwargs: dict, source, episodes: int, gap: str | None,
           wrist: str, obj: str, seed: int = 0) -> tuple[list[dict], float]:
    """Collect (or reuse) ``episodes`` episodes; returns them and the transitions per second."""
    result = collect(lambda: gym.make(env_id, **env_kwargs), source, episodes, data_dir / name, resume=True,
                     progress=False, seed=seed, meta={"source": "gap" if gap else "sim", "wrist": wrist, "object": obj,
                                                      "gap": gap, "control_period_s": 0.05})
    return load_episodes(data_dir / name), result["transitions_per_s"]


def fit_and_score(kind: str, episodes: list[dict], test: Transitions, seed: int) -> dict:
    train_idx, eval_idx = split_episodes(len(episodes), seed)
    torch.manual_seed(seed)
    model = MODELS[kind]()
    tr = Transitions.from_episodes([episodes[i] for i in train_idx], model.history)
    ev = Transitions.from_episodes([episodes[i] for i in eval_idx], model.history)
    result = train(model, tr, ev, epochs=300, patience=10, seed=seed, progress=False)
    with torch_threads(1):
        scores = evaluate(model.predict, test)
    return {**scores, "epochs": result["epochs_run"], "seconds": result["seconds"]}


def timing(episodes: list[dict]) -> None:
    data = Transitions.from_episodes(episodes, 10)
    ev = Transitions.from_episodes(episodes[:2], 10)
    print(f"\nfit speed: {len(data)} transitions x 20 epochs (batch 512, one torch thread)")
    models = {}
    for kind, cls in MODELS.items():
        torch.manual_seed(0)
        models[kind] = model = cls()
        r = train(model, data, ev, epochs=20, patience=10**9, progress=False)
        print(f"  {kind:<6} {parameter_count(model):>7} parameters: {r['seconds']:6.1f} s "
              f"({r['seconds'] / 20:.2f} s per epoch)")
    residual = MLPResidual()
    rng = np.random.default_rng(0)
    q, t = rng.normal(size=(10, 16)), rng.normal(size=(10, 16))
    print("inference per control step (median of 2000 calls, one window):")
    for kind, model in models.items():
        qt, tt = torch.as_tensor(q[None], dtype=torch.float32), torch.as_tensor(t[None], dtype=torch.float32)
        calls = []
        with torch.no_grad(), torch_threads(1):
            for _ in range(2000):
                start = time.perf_counter()
                model.predict(qt, tt)
                residual.correct(q, t)
                calls.append(time.perf_counter() - start)
        print(f"  {LABELS[kind]} model + residual: {1000 * np.median(calls):.3f} ms "
              f"(p99 {1000 * np.quantile(calls, 0.99):.3f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--test-episodes", type=int, default=20)
    parser.add_argument("--gap", default="leap_xc330")
    parser.add_argument("--wrist", default="palm_up")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES[:3]), choices=list(SOURCES))
    parser.add_argument("--data-dir", type=Path, default=None, help="keep (and reuse) the collected data here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    header()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="dexndm_bench_ndm_"))
    need = math.ceil(max(args.sizes) / STEPS)
    box = {"wrist": args.wrist, "gap": args.gap}
    pools = {}
    for name in args.sources:
        if name == "rotation":
            pools[name], rate = gather(data_dir, "rotation_train", "DexNDM/LeapRotate-v0",
                                       {"object": "cylinder", "wrist": args.wrist, "gap": args.gap}, GaitSource(),
                                       need, args.gap, args.wrist, "cylinder", seed=2)
            print(f"{name}: {need} episodes of in-hand rotation (finger gait, other seeds) ({rate:.0f} transitions/s)")
            continue
        if name == "chaos_replay":
            gather(data_dir, "sim_rollouts", "DexNDM/LeapRotate-v0", {"object": "cylinder", "wrist": args.wrist},
                   GaitSource(), 20, None, args.wrist, "cylinder", seed=1)
            source = ReplaySource(data_dir / "sim_rollouts", args.wrist)
        else:
            source = WaveSource()
        kwargs = {**box, "balls": 0} if name == "free" else box
        pools[name], rate = gather(data_dir, name, "DexNDM/LeapChaosBox-v0", kwargs, source, need,
                                   args.gap, args.wrist, "none" if name == "free" else "chaos_box")
        print(f"{name}: {need} episodes of {STEPS} {source.name} steps ({rate:.0f} transitions/s collecting)")
    test_eps, rate = gather(data_dir, "rotation", "DexNDM/LeapRotate-v0",
                            {"object": "cylinder", "wrist": args.wrist, "gap": args.gap}, GaitSource(),
                            args.test_episodes, args.gap, args.wrist, "cylinder")
    test = Transitions.from_episodes(test_eps, 10)
    print(f"test: {len(test_eps)} in-hand rotation episodes (finger gait, cylinders), {len(test)} transitions, "
          f"mean length {len(test) / len(test_eps):.0f} steps")

    with torch_threads(1):
        naive = {"next q = q": evaluate(hold_predictor, test), "next q = target": evaluate(target_predictor, test)}
    print("\nRMSE on the held-out rotation episodes (mrad); transitions = fitted data (train + eval)")
    print("| source | transitions | predictor | 1-step | 10-step | epochs | fit s |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, pool in pools.items():
        for size in args.sizes:
            episodes = pool[:max(2, math.ceil(size / STEPS))]
            n = sum(len(e["targets"]) for e in episodes)
            rows = {kind: fit_and_score(kind, episodes, test, args.seed) for kind in MODELS}
            for kind, r in rows.items():
                print(f"| {name} | {n} | {LABELS[kind]} | {1000 * r['rmse_1step']:.1f} | {1000 * r['rmse_10step']:.1f} "
                      f"| {r['epochs']} | {r['seconds']:.0f} |")
            ratio1 = rows["joint"]["rmse_1step"] / rows["whole"]["rmse_1step"]
            ratio10 = rows["joint"]["rmse_10step"] / rows["whole"]["rmse_10step"]
            print(f"| {name} | {n} | joint / whole | {ratio1:.2f} | {ratio10:.2f} | | |")
    for label, r in naive.items():
        print(f"| - | - | {label} | {1000 * r['rmse_1step']:.1f} | {1000 * r['rmse_10step']:.1f} | | |")
    timing(pools[args.sources[0]])


if __name__ == "__main__":
    main()
