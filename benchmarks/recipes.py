"""Learning rotation from random weights: training recipes side by side, on palm-up cylinders about +z.

Every recipe is one ``dexndm train`` run (``baselines.train.train``) from random weights, with no gait
and no demonstrator, in the simulator a LEAP hand at the identified servo's Goal Current can match:
the ideal PD clipped at :data:`SERVO_TORQUE_NM` (550 mA x 0.53 N m/A). Its run directory is
``OUT/<recipe>``; a recipe that has not reached ``--steps`` is resumed (``--resume``), one that has is
read back, so the comparison can be run in parts. Afterwards each final model is evaluated
(deterministic, ``--episodes`` episodes, seed 0, nominal simulator, the recipe's own reward weights
irrelevant to the metrics), and the script prints one row per recipe (Rot +- its standard error,
TTF, RotR, RotP, steadiness = RotR / (20 Rot), env steps, wall hours and CPU hours) and plots the
learning curves (training episodes' mean rotation against env steps and against wall time) to
``--plot``.

    python benchmarks/recipes.py --out runs/recipes --steps 2000000 [--recipes ppo_gsde tqc_gsde_fall ...]
        [--episodes 20] [--plot docs/recipes.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import policies
from report import header

from baselines.evaluate import evaluate, rot_standard_error
from baselines.oracles import SERVO_TORQUE_NM, cell_kwargs
from baselines.train import CURVE_FILE, train_to

TASK = cell_kwargs("palm_up", "cylinder")
"""Palm-up cylinders about +z, privileged observations, the servo's torque clip (as the oracle grid's)."""
FALL = {"fall_penalty_weight": 10.0}
PAPER_PENALTIES = {"rotp_penalty_weight": 0.1, "pose_penalty_weight": 0.3, "work_penalty_weight": 2.0,
                   "torque_penalty_weight": 0.1}
"""The paper's penalty weights (the env's defaults), which the configs cut 10-200x for CPU budgets."""
RECIPES: dict[str, dict] = {
    # name: train() arguments beyond the task (env_kwargs are merged over the config's); every recipe
    # explores with gSDE (the configs' use_sde)
    "ppo_gsde": {"algo": "ppo"},
    "ppo_gsde_fall": {"algo": "ppo", "env_kwargs": FALL},
    "ppo_asymmetric_fall": {"algo": "ppo", "asymmetric": True, "env_kwargs": FALL},
    "ppo_curriculum_fall": {"algo": "ppo", "penalty_curriculum": 2_000_000, "env_kwargs": {**FALL, **PAPER_PENALTIES}},
    "tqc_gsde_fall": {"algo": "tqc", "env_kwargs": FALL},
    "sac_gsde_fall": {"algo": "sac", "env_kwargs": FALL},
    "crossq_gsde_fall": {"algo": "crossq", "env_kwargs": FALL},
}


def run_recipe(name: str, out: Path, steps: int) -> dict:
    """Train recipe ``name`` in ``out`` up to ``steps`` env steps (resuming a shorter run); its run record."""
    spec = dict(RECIPES[name])
    return train_to(steps, "DexNDM/LeapRotate-v0", {**TASK, **spec.pop("env_kwargs", {})}, out, **spec)


def evaluate_recipe(out: Path, episodes: int) -> dict:
    """The final model's metrics in the nominal capped simulator (deterministic actions, on the
    observation the policy reads)."""
    task = {k: v for k, v in TASK.items() if k != "obs_mode"}
    return evaluate("DexNDM/LeapRotate-v0", task, str(out / "model.zip"), episodes, seed=0, progress=False)


def training_returns(record: dict, policy: str | Path, episodes: int) -> dict[str, float]:
    """Mean episode return of ``policy`` under a recipe's own training reward (the env kwargs of its run
    record ``record``: its weights at full strength, its fall penalty), with its standard error and the
    mean of the rotation term and of all penalties together: did the recipe's reward prefer what the
    recipe learned, or a policy that rotates?"""
    kwargs = {k: v for k, v in record["env_kwargs"].items() if k != "obs_mode"}
    report = evaluate("DexNDM/LeapRotate-v0", kwargs, str(policy), episodes, seed=0, progress=False)
    returns = np.array([e["returns"]["return"] for e in report["per_episode"]])
    rotate = report["returns"]["reward_rotate"]
    return {"return": float(returns.mean()), "return_se": float(returns.std(ddof=1) / np.sqrt(returns.size)),
            "rotate": rotate, "penalties": report["returns"]["return"] - rotate, "rot_rad": report["rot_rad"]}


def plot(curves: dict[str, np.ndarray], path: Path) -> None:
    from baselines import plots

    fig, axes = plots.figure(1, 2, size=(11, 3.8))
    for name, c in curves.items():
        axes[0].plot(c["env_steps"] / 1e6, c["rot_rad"], label=name, lw=1.2)
        axes[1].plot(c["wall_s"] / 3600, c["rot_rad"], label=name, lw=1.2)
    for ax, xlabel in zip(axes, ("env steps (millions)", "wall time (h, 2 cores, shared)")):
        ax.axhline(3.0, color="k", ls=":", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("rotation per 20 s episode (rad)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title("training episodes (mean of the last 100)")
    plots.save(fig, path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=2_000_000, help="env steps per recipe")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--plot", type=Path, default=Path("docs/recipes.png"))
    parser.add_argument("--reference", type=Path, default=None,
                        help="a policy that rotates (an oracle trained at the same torque clip), scored under each "
                             "recipe's training reward beside the recipe's own model")
    args = parser.parse_args()
    header()
    rows, curves, reward_rows = [], {}, []
    for name in args.recipes:
        out = args.out / name
        record = run_recipe(name, out, args.steps)
        curves[name] = np.genfromtxt(out / CURVE_FILE, delimiter=",", names=True, ndmin=1)
        m = evaluate_recipe(out, args.episodes)
        rot, se = m["rot_rad"], rot_standard_error(m)
        steadiness = policies.steadiness(rot, m["rotr"], se)
        steadiness = "-" if steadiness is None else f"{steadiness:.2f}"
        rows.append(f"| {name} | {record['algo']} | {rot:.2f} +- {se:.2f} | {m['ttf']:.2f} | {m['rotr']:.1f} "
                    f"| {m['rotp']:.2f} | {steadiness} | {record['total_env_steps'] / 1e6:.2f} M "
                    f"| {record['total_wall_s'] / 3600:.2f} | {record['total_cpu_hours']:.2f} |")
        print(rows[-1], flush=True)
        if args.reference:
            mine, ref = (training_returns(record, p, args.episodes) for p in (out / "model.zip", args.reference))
            cells = [f"{r['return']:.1f} +- {r['return_se']:.1f} | {r['rotate']:.1f} | {r['penalties']:.1f} | "
                     f"{r['rot_rad']:.2f}" for r in (mine, ref)]
            reward_rows.append(f"| {name} | {' | '.join(cells)} |")
    plot(curves, args.plot)
    print(f"torque clip {SERVO_TORQUE_NM} N m; {args.episodes} evaluation episodes per recipe; curves in {args.plot}")
    print("| recipe | algo | Rot (rad) | TTF | RotR | RotP (rad/s) | steadiness | env steps | wall h | CPU h |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if reward_rows:
        print(f"\nEach recipe's training reward (its weights at full strength), per episode: its own model against "
              f"{args.reference}")
        print("| recipe | return | rotation term | penalties | Rot (rad) | reference's return | rotation term | "
              "penalties | Rot (rad) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        print("\n".join(reward_rows))


if __name__ == "__main__":
    main()
