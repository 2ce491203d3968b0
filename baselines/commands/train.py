"""``dexndm train``: an SB3 policy (zoo-format hyperparameters, VecNormalize, eval and checkpoints)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train an SB3 policy (zoo-format hyperparameters, VecNormalize, eval and checkpoints)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from baselines.policy import ALGOS

    p.add_argument("--env", default="DexNDM/LeapRotate-v0")
    p.add_argument("--env-kwargs", default=None,
                   help='JSON object, e.g. \'{"object": "cylinder", "obs_mode": "privileged"}\'')
    p.add_argument("--algo", choices=ALGOS, default=ALGOS[0])
    p.add_argument("--config", type=Path, default=None,
                   help="zoo-format YAML (default: baselines/configs/<algo>.yml)")
    p.add_argument("--steps", type=int, default=None, help="env steps (default: the config's n_timesteps); rounded up "
                   "to whole rollouts of n_steps x n_envs")
    p.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: the config's)")
    p.add_argument("--n-workers", type=int, default=None,
                   help="processes the envs run in, n-envs / n-workers each (default: one per core, at most n-envs)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue the model in --out")
    p.add_argument("--warm-start", default=None, metavar="POLICY",
                   help="clone this demonstrator (a gait .json from baselines.gait_search, or any --policy) into "
                        "the new model before training")
    p.add_argument("--warm-start-episodes", type=int, default=20, help="demonstrator episodes to clone (default: 20)")
    p.add_argument("--residual-over", default=None, metavar="GAIT|search",
                   help="train a residual over this gait file (baselines/residual_gait.py): the policy sees the "
                        "gait's phase and bends its targets; a zero residual is the gait. 'search' searches the gait "
                        "on the training env first (baselines/gait_search.py, ~4 min), into OUT/gait.json")
    p.add_argument("--residual-scale", type=float, default=None,
                   help="radians the residual may move the gait's targets (default: 0.2); with --resume, a new "
                        "authority for the run's residual, its policy rescaled to act as before")
    p.add_argument("--asymmetric", action="store_true",
                   help="PPO with a privileged critic and a proprioceptive actor (obs_mode privileged): the actor runs "
                        "on a real hand as it is, with no distillation")
    p.add_argument("--penalty-curriculum", type=int, default=0, metavar="STEPS",
                   help="ramp the motion penalties from 0 to their weights over STEPS env steps (default: off)")
    p.add_argument("--eval-every", type=int, default=100_000,
                   help="env steps between evaluations (5 deterministic episodes) and checkpoints (default: 100000)")
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> None:
    from baselines.episodes import parse_env_kwargs
    from baselines.train import OUTPUTS, train

    kwargs = parse_env_kwargs(args.env_kwargs)
    s = train(args.env, kwargs, args.out, algo=args.algo, config=args.config, steps=args.steps, n_envs=args.n_envs,
              n_workers=args.n_workers, resume=args.resume, seed=args.seed, warm_start=args.warm_start,
              warm_start_episodes=args.warm_start_episodes, residual_over=args.residual_over,
              residual_scale=args.residual_scale, asymmetric=args.asymmetric,
              penalty_curriculum=args.penalty_curriculum, eval_every=args.eval_every)
    written = [name + ("/" if (args.out / name).is_dir() else "") for name in OUTPUTS if (args.out / name).exists()]
    print(f"{s['total_env_steps']:,} env steps ({s['steps_this_run']:,} this run) in {s['wall_s']:.0f} s -> "
          f"{args.out}: {', '.join(written)}")
