"""``dexndm eval``: a policy's rotation metrics (Rot, TTF, RotR, RotP) per condition, JSON and plot."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "a policy's rotation metrics (Rot, TTF, RotR, RotP) per condition, JSON + plot"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from baselines.cluster import add_ray_argument
    from baselines.policy import BASELINE_POLICIES

    p.add_argument("--policy", required=True, help="an SB3 checkpoint (.zip; it runs on the obs_mode its train.json "
                   "names), a distilled generalist (.pt), a gait (.json), or a baseline: "
                   + ", ".join(BASELINE_POLICIES))
    p.add_argument("--env", default="DexNDM/LeapRotate-v0")
    p.add_argument("--env-kwargs", default=None,
                   help='JSON object, e.g. \'{"object": "cylinder", "wrist": "palm_up", "gap": "leap_xc330"}\'')
    p.add_argument("--port", default=None,
                   help="serial port of a real or virtual hand (with --env DexNDM/LeapRotateReal-v0)")
    p.add_argument("--correction", type=Path, default=None, help="a residual checkpoint: evaluate under NDMCorrection")
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--steps", type=int, default=400, help="steps per episode at most (default: 400 = 20 s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, required=True,
                   help="report to write (the rotation plot goes beside it as .png)")
    p.add_argument("--video", type=Path, default=None, help="write GIFs of the first two episodes into this directory")
    p.add_argument("--save-rollouts", type=Path, default=None,
                   help="save the episodes (with actions) in the dataset format, e.g. for Chaos Box replay")
    add_ray_argument(p)


def run(args: argparse.Namespace) -> None:
    from baselines.episodes import parse_env_kwargs
    from baselines.evaluate import evaluate, plot_rotation
    from dexndm_envs.fileio import write_json

    kwargs = parse_env_kwargs(args.env_kwargs)
    report = evaluate(args.env, kwargs, args.policy, args.episodes, port=args.port, correction=args.correction,
                      seed=args.seed, steps=args.steps, video_dir=args.video, save_rollouts=args.save_rollouts,
                      ray_address=args.ray)
    curves = report.pop("_curves")
    write_json(args.json, report)
    plot = plot_rotation(curves, args.json.with_suffix(".png"), f"{args.policy} on {args.env}")
    print(f"{'object':<24}{'wrist':<12}{'episodes':>9}{'Rot (rad)':>10}{'TTF':>6}{'TTF (s)':>8}{'RotR':>8}{'RotP':>7}")
    for c in report["conditions"]:
        print(f"{c['object']:<24}{c['wrist']:<12}{c['episodes']:>9}{c['rot_rad']:>10.2f}{c['ttf']:>6.2f}"
              f"{c['ttf_s']:>8.1f}{c['rotr']:>8.2f}{c['rotp']:>7.3f}")
    print(f"{'all':<36}{report['episodes']:>9}{report['rot_rad']:>10.2f}{report['ttf']:>6.2f}"
          f"{report['ttf_s']:>8.1f}{report['rotr']:>8.2f}{report['rotp']:>7.3f}")
    print(f"report {args.json}, rotation plot {plot}")
