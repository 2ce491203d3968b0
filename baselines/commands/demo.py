"""``dexndm demo``: the DexNDM pipeline end to end on the pseudo-real (or a real or virtual) hand."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

HELP = ("the DexNDM pipeline end to end: direct transfer, Chaos Box data, dynamics models, correction, and the "
        "sim / direct / whole-hand / joint-wise table")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from baselines.pipeline import SIZES
    from dexndm_envs.dynamics.residual import RESIDUALS
    from dexndm_envs.gap import DEFAULT_HAND
    from dexndm_envs.poses import WRISTS

    size = p.add_mutually_exclusive_group()
    descriptions = {"quick": "small sizes, <= 10 min on 2 cores (the default)",
                    "full": "the benchmark sizes (100k real transitions)"}
    for name in SIZES:
        size.add_argument(f"--{name}", dest="size", action="store_const", const=name, help=descriptions.get(name))
    p.set_defaults(size=next(iter(SIZES)))
    p.add_argument("--gap", default=None, help="gap profile of the in-process pseudo-real hand: a built-in name or "
                   f"a JSON file (default: {DEFAULT_HAND}, the servo as the public system identification of LEAP "
                   "servos reads it)")
    p.add_argument("--port", default=None, help="serial port of a real or virtual hand holding the object, instead "
                   "of the in-process one (needs --tracker)")
    p.add_argument("--box-port", default=None, help="serial port of the hand in its Chaos Box (default: --port; "
                   "you are asked to move the hand between stages)")
    p.add_argument("--tracker", default=None, help="host:port of the object tracker (with --port)")
    p.add_argument("--policy", default=None, help="base policy: an SB3 .zip, a generalist .pt, a gait .json "
                   "or scripted (default: the shipped oracle for the wrist and object; on a hand the generalist "
                   "where it was distilled for them, else their searched gait; else scripted)")
    p.add_argument("--wrist", default="palm_up", choices=list(WRISTS))
    p.add_argument("--object", default="cylinder", help="object name or category (default: cylinder)")
    p.add_argument("--axis", default="+z", help="rotation axis (default: +z)")
    p.add_argument("--residual", choices=list(RESIDUALS), default=next(iter(RESIDUALS)),
                   help="the correction's form: three gains shared by the joints (default) or the paper's MLP")
    p.add_argument("--workdir", type=Path, default=None,
                   help="new or empty directory for every artefact (default: runs/demo-<date>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --workdir (same "
                   "arguments): finished stages are kept, an interrupted collection goes on from its episodes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the result JSON here")


def run(args: argparse.Namespace) -> None:
    from baselines.demo import demo

    logging.getLogger("baselines.pipeline").setLevel(logging.INFO)  # the stages, even without -v
    demo(size=args.size, gap=args.gap, port=args.port, box_port=args.box_port, tracker=args.tracker,
         policy=args.policy, wrist=args.wrist, object=args.object, axis=args.axis, residual=args.residual,
         workdir=args.workdir, seed=args.seed, json_path=args.json, resume=args.resume)
