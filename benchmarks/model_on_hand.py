"""Does a pipeline run's dynamics model know the hand where the correction acts?

A residual correction is trained through the frozen model of the hand, so it can only be as good as
the model is on the base policy's in-hand motion, and in particular in its *response to a change of
the targets*. For a pipeline run (``WORKDIR``, from ``dexndm demo`` or ``benchmarks/sim2real.py``):

1. **One-step error on in-hand motion** (mrad, all joints): the run's simulated episodes in the
   simulator, and the same episodes replayed open loop on the hand (the in-process gap env; same
   grasp, same targets); for the sim-pretrained and the fine-tuned model of each kind and "next q = q".
   The sim model's error on the simulator's own episodes is the floor of what one step of history
   predicts; on the hand's it rises by the gap's one-step effect, which the fine-tuned model has to
   win back.
2. **Response to one step's target change** ``d q_{t+1} / d target_t`` per joint (motor order; rad of
   joint motion per rad of target change, printed in %) for three ways of changing the targets of one
   control step by ``--delta`` rad:

* ``own``: one joint's target alone (16 separate changes, each joint's response to its own);
* ``finger``: the four targets of its finger together (index 0-3, middle 4-7, ring 8-11, thumb 12-15);
* ``all``: all sixteen together, which is what a residual correction does.

   On the hand the simulated episodes are replayed up to step t, the change is added to that step's
   targets only, and the next reading is compared with the unchanged replay's (``--episodes``
   episodes x the ``--steps`` given). In a model (the fine-tuned ``models/{joint,whole}_real.pt``):
   the same finite difference of its prediction, over every window of the simulated episodes.

    python benchmarks/model_on_hand.py WORKDIR [--episodes 20] [--delta 0.03] [--steps 20 60 100]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from report import header, joint_table
from tracking import load_run, replay

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from baselines.episodes import episode_seeds
from dexndm_envs import interface
from dexndm_envs.dynamics.checkpoint import load_ndm
from dexndm_envs.dynamics.evaluation import evaluate, hold_predictor
from dexndm_envs.dynamics.models import DynamicsModel
from dexndm_envs.dynamics.transitions import Transitions
from dexndm_envs.hand import FINGERS, NUM_JOINTS


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


def one_step_rmse(episodes: list[dict], models: dict[str, DynamicsModel]) -> dict[str, float]:
    """One-step RMSE (mrad, all joints) of each model and of "next q = q" on the episodes."""
    predictors = {label: (model.predict, model.history) for label, model in models.items()}
    predictors["next q = q"] = (hold_predictor, 2)
    return {label: 1000 * evaluate(predict, Transitions.from_episodes(episodes, history))["rmse_1step"]
            for label, (predict, history) in predictors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a pipeline run's directory (dexndm demo, benchmarks/sim2real.py)")
    parser.add_argument("--episodes", type=int, default=20, help="simulated episodes replayed for the one-step errors")
    parser.add_argument("--delta", type=float, default=0.03, help="the target change, rad")
    parser.add_argument("--sensitivity-episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 60, 100], help="steps the targets are changed at")
    args = parser.parse_args()
    header()
    result, stored, _, hand_kwargs = load_run(args.workdir)
    sim_episodes = [stored[i] for i in range(min(args.episodes, len(stored)))]
    models = {f"{kind} {stage}": load_ndm(args.workdir / "models" / f"{kind}_{stage}.pt")
              for kind in ("joint", "whole") for stage in ("sim", "real")}
    env = gym.make("DexNDM/LeapRotate-v0", **hand_kwargs)
    try:
        hand_episodes = []
        for ep in sim_episodes:
            q, _ = replay(env, ep)
            hand_episodes.append({"q": q, "targets": np.asarray(ep["targets"])[: len(q) - 1]})
        pairs = [(ep, t) for ep in sim_episodes[: args.sensitivity_episodes] for t in args.steps
                 if t + 1 < len(ep["actions"])]
        unchanged = [hand_response(env, ep, t, np.zeros(NUM_JOINTS)) for ep, t in pairs]
        rows = [(f"hand, {kind}", r) for kind, r in responses(
            lambda change: np.array([hand_response(env, ep, t, change) - q0 for (ep, t), q0 in zip(pairs, unchanged)]),
            args.delta).items()]
    finally:
        env.close()
    print(f"run {args.workdir} (policy {Path(result['policy']).name}, gap {result['gap']})")
    print(f"\none-step RMSE on in-hand motion (mrad, all joints), {len(sim_episodes)} simulated episodes and their "
          "open-loop replays on the hand")
    errors = {"simulator": one_step_rmse(sim_episodes, models), "hand": one_step_rmse(hand_episodes, models)}
    print("| episodes | " + " | ".join(errors["hand"]) + " |")
    print("|---|" + "---:|" * len(errors["hand"]))
    for where, row in errors.items():
        print(f"| {where} | " + " | ".join(f"{v:.1f}" for v in row.values()) + " |")
    for kind in ("joint", "whole"):
        model = models[f"{kind} real"]
        data = Transitions.from_episodes(sim_episodes, model.history)
        q, targets = data.histories(torch.arange(len(data)))
        with torch.no_grad():
            reference = model.predict(q, targets)

            def model_response(change: np.ndarray, model=model, q=q, targets=targets,
                               reference=reference) -> np.ndarray:
                changed = targets.clone()
                changed[:, -1] += torch.as_tensor(change, dtype=changed.dtype)
                return (model.predict(q, changed) - reference).numpy()

            rows += [(f"{model.label} model, {k}", r) for k, r in responses(model_response, args.delta).items()]
    print(f"\nd q_(t+1) / d target_t, % (motor order); change {args.delta} rad; hand: {len(pairs)} (episode, step) "
          f"pairs; models (fine-tuned): every window of the {len(sim_episodes)} simulated episodes")
    joint_table(rows, scale=100.0)


if __name__ == "__main__":
    main()
