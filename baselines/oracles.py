"""Train the privileged oracles of every wrist x object category cell, resumably, one after another.

Each cell is one ``dexndm train --residual-over search`` run (:func:`baselines.train.train_to`): a gait
searched on the cell's task in two stages (:data:`ORACLE_GAIT_SEARCH`), then PPO on a residual over it
(``baselines/configs/ppo_gait_residual.yml`` with :data:`ORACLE_REWARD` over its weights) in the simulator
the hand can match, the ideal PD clipped at the identified servo's torque (:data:`SERVO_TORQUE_NM`).
That is the recipe of the v8 oracle, which turned palm-up cylinders 6.69 rad per 20 s within the servos'
torque at steadiness 0.55 (BENCHMARKS.md, "Steady rotation"). Cell ``(wrist, object)`` goes to
``OUT/oracle_<wrist>_<object>_z``; a cell that
holds ``--steps`` env steps is left alone and one cut short is resumed, so the grid can run in parts
(stop it any time; run the same command again). Evaluate the result with
``python benchmarks/policies.py --cells --policy-template 'OUT/oracle_{wrist}_{object}_z/model.zip'``.

``--per-wrist`` trains fewer policies: one per wrist for both categories (:func:`train_wrist_oracle`, the
wrist's cylinder cell continued on cylinders and cuboids), a quarter of a cuboid cell's cost; evaluate
them with ``--policy-template 'OUT/oracle_{wrist}_z/model.zip'``. Measured at palm up, a cell's own
oracle turns its category further (BENCHMARKS.md).

    python -m baselines.oracles --out runs/oracles [--steps 1000000] [--wrists palm_up ...]
        [--objects cylinder cuboid] [--env-kwargs '{"action_rate_penalty_weight": 0.05}']
    python -m baselines.oracles --out runs/oracles --per-wrist [--wrist-steps 500000]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shutil
from pathlib import Path

from baselines.train import GAIT_SEARCH, train_to
from dexndm_envs.gap import DEFAULT_HAND, load_gap
from dexndm_envs.poses import WRISTS

SERVO_TORQUE_NM = round(load_gap(DEFAULT_HAND).torque_cap_nm, 2)
"""The training simulator's torque clip, N m: what the identified hand's servos give at its Goal Current
(``leap_sysid``: 0.55 A x 0.53 N m/A = 0.2915, rounded down to 0.29; docs/decisions.md)."""
CONFIG = Path(__file__).parent / "configs" / "ppo_gait_residual.yml"
CATEGORIES = ("cylinder", "cuboid")
ORACLE_REWARD = {"rotate_reward_rate": "instant", "rotate_reward_clip": 0.5, "rotp_penalty_weight": 0.01,
                 "action_rate_penalty_weight": 0.002, "overspeed_penalty_weight": 0.25}
"""Reward settings over the config's: the paper's instant rotation rate clipped at 0.5 rad/s, the config's
off-axis penalty doubled, a small action-rate term, and the rate beyond the clip charged at a quarter of
its worth (the v8 oracle's weights: a flick forward costs instead of paying the clip)."""
_SEARCH_CLIP = {"period": 32, "fitness": "rotr", "env_kwargs": {"rotate_reward_clip": 0.3}}
ORACLE_GAIT_SEARCH = [_SEARCH_CLIP, {**_SEARCH_CLIP, "skew": 0.3, "init_std": 0.1}]
"""The gait under each oracle, searched in two stages scored by the end-of-step rate clipped at
0.3 rad/s: a 1.6 s cycle of sinusoids (steadier and further than the 0.8 s cycle scored by rotation),
then from it triangle waves that rise in 30 % of the cycle, a slow stroke and a quick return, which
turn the object in more of the steps (BENCHMARKS.md)."""

def cell_kwargs(wrist: str, object: str, extra: dict | None = None) -> dict:
    """The env kwargs of one cell's oracle: the task about +z, privileged observations, the servo's
    torque clip, then ``extra`` (reward weights and the like) over them."""
    return {"object": object, "wrist": wrist, "axis": "+z", "obs_mode": "privileged",
            "actuator": {"name": "ideal_pd", "torque_limit": SERVO_TORQUE_NM}, **(extra or {})}


def train_cells(out: Path, steps: int, wrists: list[str], objects: list[str], extra: dict | None = None,
                seed: int = 0, gait_search: dict | list[dict] | None = None, **train_kwargs) -> list[dict]:
    """Train (or resume, or skip) every cell in turn; their run records, in order. Each cell's env kwargs
    are :func:`cell_kwargs` with :data:`ORACLE_REWARD` and then ``extra`` over them; its gait search uses
    ``gait_search`` (default :data:`ORACLE_GAIT_SEARCH`); ``train_kwargs`` go to
    :func:`baselines.train.train` (``n_envs``, ``n_workers``...)."""
    records = []
    for wrist, obj in itertools.product(wrists, objects):
        cell = out / f"oracle_{wrist}_{obj}_z"
        logging.getLogger(__name__).info("cell %s %s -> %s", wrist, obj, cell)
        kwargs = cell_kwargs(wrist, obj, {**ORACLE_REWARD, **(extra or {})})
        records.append(train_to(steps, "DexNDM/LeapRotate-v0", kwargs, cell, config=CONFIG, residual_over=GAIT_SEARCH,
                                gait_search=ORACLE_GAIT_SEARCH if gait_search is None else gait_search, seed=seed,
                                **train_kwargs))
    return records


WRIST_ORACLE_STEPS = 500_000
"""Env steps a wrist's cylinder oracle continues for on both categories to become the wrist's oracle."""
_NOT_CARRIED = ("checkpoints", "tb", "eval")  # a run's history, not what resuming it needs


def wrist_oracle_dir(out: Path, wrist: str) -> Path:
    """Where the oracle of ``wrist`` over both categories lives: ``out/oracle_<wrist>_z``."""
    return Path(out) / f"oracle_{wrist}_z"


def train_wrist_oracle(out: Path, wrist: str, steps: int, more_steps: int = WRIST_ORACLE_STEPS,
                       extra: dict | None = None, seed: int = 0, **train_kwargs) -> dict:
    """One policy for both categories at ``wrist``: the wrist's cylinder cell (:func:`train_cells`, ``steps``
    env steps, trained first if it is not there) copied to :func:`wrist_oracle_dir` and continued for
    ``more_steps`` env steps with an object drawn from every cylinder and cuboid each episode, over the
    cylinder cell's gait; resumable like a cell. Its run record's CPU hours include the cylinder part.

    What it is for: a trained policy for a wrist's cuboids at a quarter of a cuboid cell's cost (no gait
    search, half the steps), where the cell's own search finds nothing to build on. It is not better than
    the cells: at palm up it turned cylinders 5.61 rad and cuboids 1.04 where the cells' oracles turned
    6.69 and 2.67, and a generalist distilled from it did no better than one distilled from the cylinder
    cell (50 and 20 episodes, BENCHMARKS.md)."""
    if more_steps < 1:
        raise ValueError(f"a wrist oracle continues its cylinder cell for at least 1 env step; got {more_steps}")
    cell, dest = out / f"oracle_{wrist}_cylinder_z", wrist_oracle_dir(out, wrist)
    if not (dest / "model.zip").is_file():
        train_cells(out, steps, [wrist], ["cylinder"], extra, seed, **train_kwargs)
        partial = dest.with_name(f".{dest.name}.tmp")  # copied whole, then renamed: never half a run
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(cell, partial, ignore=lambda _, names: [n for n in names if n in _NOT_CARRIED])
        partial.replace(dest)
    logging.getLogger(__name__).info("wrist %s, both categories -> %s", wrist, dest)
    kwargs = cell_kwargs(wrist, list(CATEGORIES), {**ORACLE_REWARD, **(extra or {})})
    return train_to(steps + more_steps, "DexNDM/LeapRotate-v0", kwargs, dest, config=CONFIG, seed=seed,
                    **train_kwargs)


def main(argv: list[str] | None = None) -> None:
    from baselines.episodes import parse_env_kwargs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1_000_000, help="env steps per cell (default: 1 M)")
    parser.add_argument("--wrists", nargs="+", choices=list(WRISTS), default=list(WRISTS))
    parser.add_argument("--objects", nargs="+", choices=CATEGORIES, default=None,
                        help="categories of the cells (default: all); not with --per-wrist, which covers both")
    parser.add_argument("--env-kwargs", default=None, help="JSON merged over every cell's env kwargs")
    parser.add_argument("--n-workers", type=int, default=None, help="training processes (default: one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-wrist", action="store_true",
                        help="one oracle per wrist for both categories (OUT/oracle_<wrist>_z): each wrist's cylinder "
                             "cell continued on cylinders and cuboids for --wrist-steps")
    parser.add_argument("--wrist-steps", type=int, default=WRIST_ORACLE_STEPS,
                        help=f"env steps a wrist's oracle adds to its cylinder cell (default: {WRIST_ORACLE_STEPS:,})")
    args = parser.parse_args(argv)
    if args.per_wrist and args.objects:
        parser.error("--per-wrist trains one oracle per wrist for both categories; leave out --objects")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        extra = parse_env_kwargs(args.env_kwargs)
        if args.per_wrist:
            records = [train_wrist_oracle(args.out, w, args.steps, args.wrist_steps, extra, args.seed,
                                          n_workers=args.n_workers) for w in args.wrists]
        else:
            records = train_cells(args.out, args.steps, args.wrists, args.objects or list(CATEGORIES), extra,
                                  args.seed, n_workers=args.n_workers)
    except ValueError as e:
        raise SystemExit(f"baselines.oracles: error: {e}") from None
    for r in records:
        kw = r["env_kwargs"]
        objects = kw["object"] if isinstance(kw["object"], str) else "+".join(kw["object"])
        print(f"{kw['wrist']:>10} {objects:>15}: {r['total_env_steps']:,} env steps, "
              f"{r['total_wall_s'] / 3600:.2f} h wall, {r['total_cpu_hours']:.2f} CPU h")


if __name__ == "__main__":
    main()
