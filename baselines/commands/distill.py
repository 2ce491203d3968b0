"""``dexndm distill``: privileged oracles behaviour-cloned into one proprioceptive generalist (DAgger)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

HELP = "behaviour-clone privileged oracles into one proprioceptive generalist (DAgger)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teachers", nargs="+", required=True, type=Path,
                   help="oracle model.zip files written by `dexndm train` (train.json beside each names its env)")
    p.add_argument("--episodes", type=int, default=20, help="teacher rollouts per teacher and per DAgger round")
    p.add_argument("--dagger-rounds", type=int, default=2, help="rounds of student rollouts labelled by the teachers")
    p.add_argument("--min-rot", type=float, default=math.pi,
                   help="a teacher rollout is cloned if it rotated at least this much (rad) without a fall")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--blocks", type=int, default=2, help="residual blocks of the MLP")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--clock-period", type=float, default=None, metavar="STEPS",
                   help="give the student a phase clock of this period (policy steps): the teachers' gait period "
                        "(the oracle gaits' is 32), "
                        "counted from each episode's start (default: none)")
    p.add_argument("--action-noise", type=float, default=0.0, metavar="SIGMA",
                   help="Gaussian noise (relative action units) on the actions the teachers drive their own "
                        "rollouts with, labels kept clean: data on how they recover (default: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="generalist checkpoint (.pt) to write")
    p.add_argument("--json", type=Path, default=None, help="write the distillation report here")


def run(args: argparse.Namespace) -> None:
    from baselines.distill import distill
    from dexndm_envs.fileio import write_json

    report = distill(args.teachers, args.out, episodes=args.episodes, dagger_rounds=args.dagger_rounds,
                     min_rot=args.min_rot, hidden=args.hidden, blocks=args.blocks, epochs=args.epochs,
                     clock_period=args.clock_period, action_noise=args.action_noise, seed=args.seed)
    if args.json:
        write_json(args.json, report)
    for t in report["teacher_rollouts"]:
        print(f"teacher {t['teacher']}: {t['successful']}/{t['episodes']} successful, Rot {t['rot_rad']:.2f} rad")
    for r in report["rounds"]:
        print(f"round {r['round']}: {r['train_samples']} samples, eval MSE {r['best_eval_mse']:.4f}, "
              f"student Rot {r['student_rot_rad']:.2f} rad, TTF {r['student_ttf']:.2f}")
    print(f"generalist (round {report['selected_round']}) -> {args.out} ({report['wall_s']:.0f} s)")
