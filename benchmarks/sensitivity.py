"""How much does one step's change of the joint targets move the joints, on the hand and in the models?

A residual correction is trained by following the frozen dynamics model's gradient with respect to the
targets, so what matters is whether the model's *response to a target change* is the hand's. For a
pipeline run (``WORKDIR``, from ``dexndm demo`` or ``benchmarks/sim2real.py``) this measures
``d q_{t+1} / d target_t`` per joint (motor order; rad of joint motion per rad of target change, printed
in %) for three ways of changing the targets of one control step by ``--delta`` rad:

* ``own``: one joint's target alone (16 separate changes, each joint's response to its own);
* ``finger``: the four targets of its finger together (index 0-3, middle 4-7, ring 8-11, thumb 12-15);
* ``all``: all sixteen together, which is what a residual correction does.

On the hand (the run's in-process gap env): the run's simulated episodes are replayed open loop from
their seeds (same grasp, same actions) up to step t, the change is added to that step's targets only,
and the next reading is compared with the unchanged replay's; ``--episodes`` episodes x the
``--steps`` given. In a model (the run's fine-tuned ``models/{joint,whole}_real.pt``): the same finite
difference of its prediction, over every window of the run's simulated episodes.

    python benchmarks/sensitivity.py WORKDIR [--delta 0.03] [--episodes 4] [--steps 20 60 100]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from baselines.collect import episode_seeds
from dexndm_envs import interface
from dexndm_envs.dynamics.dataset import EpisodeDataset
from dexndm_envs.dynamics.fitting import load_episodes, load_ndm
from dexndm_envs.dynamics.transitions import Transitions
from dexndm_envs.hand import FINGERS, NUM_JOINTS
from report import header, joint_table


def perturbations() -> dict[str, list[np.ndarray]]:
    """Each kind of change as masks over the joints (motor order): the joints changed together, which
    are also the joints whose response is read."""
    eye = np.eye(NUM_JOINTS, dtype=bool)
    fingers = [np.isin(np.arange(NUM_JOINTS), idx) for idx in FINGERS.values()]
    return {"own": list(eye), "finger": fingers, "all": [np.ones(NUM_JOINTS, dtype=bool)]}


def responses(step_response: Callable[[np.ndarray], np.ndarray], delta: float) -> dict[str, np.ndarray]:
    """Per joint, the mean response (rad / rad) to each kind of change; ``step_response(change)`` gives
    the change of the next positions [N, 16] (rad) over N samples for a target change (16,) (rad)."""
    out = {}
    for kind, masks in perturbations().items():
        r = np.zeros(NUM_JOINTS)
        for mask in masks:
            r[mask] = step_response(delta * mask).mean(0)[mask] / delta
        out[kind] = r
    return out


def hand_response(env: gym.Env, episode: dict, step: int, change: np.ndarray) -> np.ndarray:
    """Joint readings (rad) after step ``step`` of the episode's replay, with ``change`` added to that
    step's targets only."""
    obs, _ = env.reset(seed=episode_seeds(episode["meta"]["seed"], episode["meta"]["episode"])[0])
    base = env.unwrapped
    for t in range(step + 1):
        base.set_target_correction(change if t == step else np.zeros(NUM_JOINTS))
        obs, *_ = env.step(episode["actions"][t])
    base.set_target_correction(np.zeros(NUM_JOINTS))
    return interface.latest_joint_positions(obs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a pipeline run's directory (dexndm demo, benchmarks/sim2real.py)")
    parser.add_argument("--delta", type=float, default=0.03, help="the target change, rad")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 60, 100])
    args = parser.parse_args()
    header()
    result = json.loads((args.workdir / "pipeline.json").read_text())
    if result["gap"] is None:
        raise ValueError(f"{args.workdir} ran on a hand on a port; this benchmark replays on the in-process gap env")
    episodes = EpisodeDataset(args.workdir / "data" / "sim_rollouts")
    chosen = [episodes[i] for i in range(min(args.episodes, len(episodes)))]
    chosen = [(ep, t) for ep in chosen for t in args.steps if t + 1 < len(ep["actions"])]
    kwargs = {k: v for k, v in chosen[0][0]["meta"]["env_kwargs"].items() if k != "actuator"}
    env = gym.make("DexNDM/LeapRotate-v0", **kwargs, gap=result["gap"])
    try:
        base = {id(ep) + t: hand_response(env, ep, t, np.zeros(NUM_JOINTS)) for ep, t in chosen}
        rows = [(f"hand, {kind}", r) for kind, r in responses(
            lambda change: np.array([hand_response(env, ep, t, change) - base[id(ep) + t] for ep, t in chosen]),
            args.delta).items()]
    finally:
        env.close()
    raw = load_episodes(args.workdir / "data" / "sim_rollouts")
    for kind in ("joint", "whole"):
        model = load_ndm(args.workdir / "models" / f"{kind}_real.pt")
        data = Transitions.from_episodes(raw, model.history)
        q, targets = data.histories(torch.arange(len(data)))
        with torch.no_grad():
            reference = model.predict(q, targets)

            def model_response(change: np.ndarray) -> np.ndarray:
                changed = targets.clone()
                changed[:, -1] += torch.as_tensor(change, dtype=changed.dtype)
                return (model.predict(q, changed) - reference).numpy()

            rows += [(f"{model.label} model, {k}", r) for k, r in responses(model_response, args.delta).items()]
    print(f"run {args.workdir} (policy {Path(result['policy']).name}, gap {result['gap']}); change {args.delta} rad; "
          f"hand: {len(chosen)} (episode, step) pairs; models: every window of {len(raw)} simulated episodes")
    print("d q_{t+1} / d target_t, % (motor order)")
    joint_table(rows, scale=100.0)


if __name__ == "__main__":
    main()
