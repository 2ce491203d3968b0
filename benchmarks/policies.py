"""Policies in nominal simulation: the reference baselines, the shipped oracle and the generalist.

For every (policy, wrist) pair, ``dexndm eval``'s metrics over ``--episodes`` episodes of 20 s
(DexNDM/LeapRotate-v0, nominal physics, z axis, cylinders unless told otherwise), printed as a
Markdown table for BENCHMARKS.md, with the published simulation figures below it for scale.

    python benchmarks/policies.py --episodes 50
    python benchmarks/policies.py --policy oracle=baselines/checkpoints/oracle_palm_up_cylinder_z/model.zip \\
        --wrists palm_up --episodes 50

A policy whose input is the privileged observation (an oracle) is evaluated on it; every other policy
on the deployable proprioceptive one (``baselines.policy.policy_obs_mode`` decides, from its run record or
its input size).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from report import header

from baselines.evaluate import evaluate
from baselines.policy import policy_kind, policy_obs_mode, trained_env_kwargs
from dexndm_envs.fileio import write_json

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "baselines" / "checkpoints"
DEFAULT_POLICIES = {
    "random": "random",
    "hold still": "hold",
    "scripted gait": "scripted",
    "searched gait (open loop)": ROOT / "baselines" / "gaits" / "palm_up_cylinder_z.json",
    "oracle (PPO residual over the gait, privileged)": SHIPPED / "oracle_palm_up_cylinder_z" / "model.zip",
    "oracle trained with DR": SHIPPED / "oracle_palm_up_cylinder_z_dr" / "model.zip",
    "oracle, palm down": SHIPPED / "oracle_palm_down_cylinder_z" / "model.zip",
    "generalist (distilled)": SHIPPED / "generalist" / "generalist.pt",
}
PUBLISHED = [  # the DexNDM paper's tables: other simulators and hands, for scale only
    ("HORA (Allegro, palm up, z, sim)", "222", "0.82"),
    ("HORA with DR only", "176", "0.81"),
    ("DexNDM generalist (LEAP, unseen objects, z, sim)", "314", "0.92"),
]


def trained_on(policy: str | Path) -> dict:
    """The env kwargs an SB3 policy was trained or a gait searched on (:func:`baselines.policy.trained_env_kwargs`);
    empty for the baselines and the generalist, which run on every task."""
    return trained_env_kwargs(policy)[0] if policy_kind(policy) in ("sb3", "gait") else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", action="append", default=None, metavar="NAME=SPEC",
                        help="a policy to evaluate (repeatable; default: the baselines and whatever ships)")
    parser.add_argument("--wrists", nargs="+", default=["palm_up"])
    parser.add_argument("--object", default="cylinder")
    parser.add_argument("--axis", default="+z")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.policy and any("=" not in p for p in args.policy):
        parser.error("--policy takes NAME=SPEC, e.g. --policy 'hold still=hold'")
    policies = (dict(p.split("=", 1) for p in args.policy) if args.policy
                else {k: v for k, v in DEFAULT_POLICIES.items() if not isinstance(v, Path) or v.is_file()})

    header()
    rows = []
    for name, spec in policies.items():
        made_for = trained_on(spec)
        for wrist in args.wrists:
            task = {"object": args.object, "wrist": wrist, "axis": args.axis}
            if any(made_for.get(k, v) != v for k, v in task.items()):
                continue  # a trained or searched policy runs only on the task it was made for
            kwargs = {**task, "obs_mode": policy_obs_mode(str(spec))}
            start = time.perf_counter()
            r = evaluate("DexNDM/LeapRotate-v0", kwargs, str(spec), args.episodes, seed=args.seed, progress=False)
            rows.append({"policy": name, "spec": str(spec), "wrist": wrist, "episodes": args.episodes,
                         **{k: r[k] for k in ("rot_rad", "ttf", "rotr", "rotp")},
                         "seconds": time.perf_counter() - start})
            print(f"{name} / {wrist}: Rot {r['rot_rad']:.2f} rad, TTF {r['ttf']:.2f} ({rows[-1]['seconds']:.0f} s)",
                  flush=True)

    print(f"\n{args.object}, axis {args.axis}, nominal sim, {args.episodes} episodes of 20 s per row\n")
    print("| policy | wrist | Rot (rad) | TTF | RotR | RotP (rad/s) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['policy']} | {r['wrist']} | {r['rot_rad']:.2f} | {r['ttf']:.2f} | {r['rotr']:.1f} | "
              f"{r['rotp']:.3f} |")
    print("\nPublished (other simulators and hands; RotR, TTF):\n")
    print("| reference | RotR | TTF |")
    print("|---|---:|---:|")
    for name, rotr, ttf in PUBLISHED:
        print(f"| {name} | {rotr} | {ttf} |")
    if args.json:
        write_json(args.json, {"rows": rows})


if __name__ == "__main__":
    main()
