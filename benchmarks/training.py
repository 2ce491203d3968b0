"""Training throughput: how much of the machine ``dexndm train``'s loop uses, beside a peer.

Measured in one run on this machine, each row for about ``--seconds`` of wall time:

* **raw env steps/s**: ``--workers`` processes each stepping one env alone with seeded random actions
  (resets included): the most a training loop on that many processes could step.
* **PPO training env steps/s**: ``model.learn`` (wall time of learn only, updates included) with the
  hyperparameters of ``baselines/configs/ppo.yml`` (``n_steps`` per env, batch, epochs, network,
  VecNormalize), ``--workers`` worker processes holding ``envs-per-worker`` envs each
  (:class:`baselines.vec_env.MultiEnvSubprocVecEnv`; one env per worker is SB3's ``SubprocVecEnv``
  layout) and the main process's torch at one thread while the workers step (all threads for the
  updates), as ``dexndm train`` runs it; ``n_steps`` is
  scaled so that one rollout is ``--rollout`` steps whatever the number of envs.
* **dexndm train**: the same through ``baselines.train.train`` with its callbacks (learning curve;
  the evaluation and checkpoint every 100k steps fall outside the timed steps, and add ~2000
  single-env steps per 100k) at the largest layout: what a user gets.
* **the peer**: the same two measurements for Gymnasium-Robotics' ``HandManipulateBlockRotateZ-v1``
  (the Shadow hand in MuJoCo; observations flattened for the MlpPolicy) with the same settings and
  layout (skipped with a message when ``gymnasium-robotics`` is not installed: ``pip install -e .[bench]``).

The ratio training / raw is the issue's figure (target >= 0.6 for PPO).

    python benchmarks/training.py [--seconds 30] [--workers 2] [--envs-per-worker 1 4 8] [--rollout 8192]
        [--rollouts 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

from report import header

from baselines.train import (
    load_hyperparams,
    make_env,
    make_training_env,
    model_settings,
    torch_threads_callback,
    train,
)

ENV = "DexNDM/LeapRotate-v0"
PEER = "HandManipulateBlockRotateZ-v1"
ROOT_CONFIG = Path(__file__).resolve().parents[1] / "baselines" / "configs" / "ppo.yml"
TASK = {"object": "cylinder", "wrist": "palm_up", "axis": "+z", "obs_mode": "privileged"}


def peer_env():
    """The Gymnasium-Robotics Shadow hand rotating a block about z, observations flattened."""
    import gymnasium as gym
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    return gym.wrappers.FlattenObservation(gym.make(PEER))


def ours_env():
    return make_env(ENV, **TASK)


def _raw_steps(factory, seconds: float, seed: int) -> tuple[int, float]:
    """Step ``factory()`` with random actions for ``seconds``; (steps, wall s)."""
    env = factory()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    wall = time.perf_counter() - start
    env.close()
    return steps, wall


def raw_rate(factory, workers: int, seconds: float) -> float:
    """Env steps/s of ``workers`` processes each stepping its own env alone."""
    ctx = mp.get_context("forkserver")
    with ctx.Pool(workers) as pool:
        results = pool.starmap(_raw_steps, [(factory, seconds, seed) for seed in range(workers)])
    return sum(steps / wall for steps, wall in results)


def ppo_settings(rollout: int, n_envs: int) -> tuple[dict, dict]:
    """PPO kwargs and VecNormalize kwargs from the shipped config, ``n_steps`` scaled so that a rollout
    is ``rollout`` env steps with ``n_envs`` envs."""
    _, kwargs, normalize = model_settings(load_hyperparams(ROOT_CONFIG, ENV))
    kwargs["n_steps"] = max(rollout // n_envs, 1)
    return kwargs, normalize or {}


def learn_rate(factory, workers: int, envs_per_worker: int, rollout: int, rollouts: int) -> float:
    """PPO training env steps/s over ``rollouts`` rollouts after a first, untimed one (start-up)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    threads = torch_threads_callback(updating=torch.get_num_threads())
    n_envs = workers * envs_per_worker
    kwargs, normalize = ppo_settings(rollout, n_envs)
    env = VecNormalize(make_training_env(factory, n_envs, workers, seed=0), **normalize)
    try:
        model = PPO("MlpPolicy", env, seed=0, device="cpu", verbose=0, **kwargs)
        model.learn(total_timesteps=kwargs["n_steps"] * n_envs, callback=threads)  # start-up, untimed
        start = time.perf_counter()
        model.learn(total_timesteps=rollouts * kwargs["n_steps"] * n_envs, reset_num_timesteps=False,
                    callback=threads)
        return rollouts * kwargs["n_steps"] * n_envs / (time.perf_counter() - start)
    finally:
        env.close()


def dexndm_train_rate(workers: int, envs_per_worker: int, steps: int) -> float:
    """Env steps/s of ``baselines.train.train`` (callbacks included; learn's wall time)."""
    with tempfile.TemporaryDirectory() as out:
        summary = train(ENV, TASK, out, steps=steps, n_envs=workers * envs_per_worker, n_workers=workers,
                        progress=False)
    return summary["total_env_steps"] / summary["learn_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="wall time of each raw measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs-per-worker", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rollout", type=int, default=8192, help="env steps per PPO rollout (all envs together)")
    parser.add_argument("--rollouts", type=int, default=2, help="timed rollouts per PPO measurement")
    parser.add_argument("--no-peer", action="store_true", help="measure LeapRotate only")
    parser.add_argument("--repeats", type=int, default=1, help="measure every row this often; report the median")
    args = parser.parse_args()
    header()
    envs = {"LeapRotate (ours)": ours_env}
    try:
        import gymnasium_robotics  # noqa: F401

        if not args.no_peer:
            envs[f"{PEER} (peer)"] = peer_env
    except ImportError:
        print(f"({PEER} skipped: gymnasium-robotics is not installed; pip install -e .[bench])")
    print(f"{args.workers} worker processes; PPO with baselines/configs/ppo.yml, {args.rollout} steps per rollout")
    print("| env | loop | envs per worker | env steps/s | / raw |")
    print("|---|---|---:|---:|---:|")
    best = max(args.envs_per_worker)

    def measure(fn, *a) -> float:
        return statistics.median(fn(*a) for _ in range(args.repeats))

    for name, factory in envs.items():
        raw = measure(raw_rate, factory, args.workers, args.seconds)
        print(f"| {name} | raw env steps ({args.workers} processes) | 1 | {raw:.0f} | 1.00 |", flush=True)
        for k in args.envs_per_worker if factory is ours_env else [1, best]:
            rate = measure(learn_rate, factory, args.workers, k, args.rollout, args.rollouts)
            print(f"| {name} | PPO learn | {k} | {rate:.0f} | {rate / raw:.2f} |", flush=True)
        if factory is ours_env:
            rate = measure(dexndm_train_rate, args.workers, best, args.rollout * (args.rollouts + 1))
            print(f"| {name} | dexndm train (callbacks included) | {best} | {rate:.0f} | {rate / raw:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
