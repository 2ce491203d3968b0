"""Train the privileged oracles of every wrist x object category cell, resumably, one after another.

Each cell is one ``dexndm train --residual-over search`` run (:func:`baselines.train.train_to`): a gait
searched on the cell's task, then PPO on a residual over it (``baselines/configs/ppo_gait_residual.yml``)
in the simulator the hand can match, the ideal PD clipped at the identified servo's torque
(:data:`SERVO_TORQUE_NM`). Cell ``(wrist, object)`` goes to ``OUT/oracle_<wrist>_<object>_z``; a cell that
holds ``--steps`` env steps is left alone and one cut short is resumed, so the grid can run in parts
(stop it any time; run the same command again). Evaluate the result with
``python benchmarks/policies.py --cells --policy-template 'OUT/oracle_{wrist}_{object}_z/model.zip'``.

    python -m baselines.oracles --out runs/oracles [--steps 1500000] [--wrists palm_up ...]
        [--objects cylinder cuboid] [--env-kwargs '{"action_rate_penalty_weight": 0.05}']
"""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path

from baselines.train import GAIT_SEARCH, train_to
from dexndm_envs.gap import DEFAULT_HAND, load_gap
from dexndm_envs.poses import WRISTS

SERVO_TORQUE_NM = round(load_gap(DEFAULT_HAND).torque_cap_nm, 2)
"""The training simulator's torque clip, N m: what the identified hand's servos give at its Goal Current
(``leap_sysid``: 0.55 A x 0.53 N m/A = 0.2915, rounded down to 0.29; docs/decisions.md)."""
CONFIG = Path(__file__).parent / "configs" / "ppo_gait_residual.yml"
CATEGORIES = ("cylinder", "cuboid")


def cell_kwargs(wrist: str, object: str, extra: dict | None = None) -> dict:
    """The env kwargs of one cell's oracle: the task about +z, privileged observations, the servo's
    torque clip, then ``extra`` (reward weights and the like) over them."""
    return {"object": object, "wrist": wrist, "axis": "+z", "obs_mode": "privileged",
            "actuator": {"name": "ideal_pd", "torque_limit": SERVO_TORQUE_NM}, **(extra or {})}


def train_cells(out: Path, steps: int, wrists: list[str], objects: list[str], extra: dict | None = None,
                seed: int = 0) -> list[dict]:
    """Train (or resume, or skip) every cell in turn; their run records, in order."""
    records = []
    for wrist, obj in itertools.product(wrists, objects):
        cell = out / f"oracle_{wrist}_{obj}_z"
        logging.getLogger(__name__).info("cell %s %s -> %s", wrist, obj, cell)
        records.append(train_to(steps, "DexNDM/LeapRotate-v0", cell_kwargs(wrist, obj, extra), cell, config=CONFIG,
                                residual_over=GAIT_SEARCH, seed=seed))
    return records


def main() -> None:
    from baselines.episodes import parse_env_kwargs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1_500_000, help="env steps per cell (default: 1.5 M)")
    parser.add_argument("--wrists", nargs="+", choices=list(WRISTS), default=list(WRISTS))
    parser.add_argument("--objects", nargs="+", choices=CATEGORIES, default=list(CATEGORIES))
    parser.add_argument("--env-kwargs", default=None, help="JSON merged over every cell's env kwargs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        records = train_cells(args.out, args.steps, args.wrists, args.objects, parse_env_kwargs(args.env_kwargs),
                              args.seed)
    except ValueError as e:
        raise SystemExit(f"baselines.oracles: error: {e}") from None
    for r in records:
        kw = r["env_kwargs"]
        print(f"{kw['wrist']:>10} {kw['object']:>8}: {r['total_env_steps']:,} env steps, "
              f"{r['total_wall_s'] / 3600:.2f} h wall, {r['total_cpu_hours']:.2f} CPU h")


if __name__ == "__main__":
    main()
