"""The ``dexndm`` command line. Subcommands: ``demo``, ``render``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dexndm_envs.poses import WRISTS


def _demo(args: argparse.Namespace) -> None:
    from baselines.demo import demo

    demo(args.wrist, args.object, args.episodes, args.steps, args.seed, args.json)


def _render(args: argparse.Namespace) -> None:
    from baselines.render import render_wrists

    print(render_wrists(args.object, args.out, args.seed))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dexndm", description="DexNDM LEAP hand tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (grasp generation, ...)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run short rotation episodes with a scripted policy and print the metrics")
    p.add_argument("--wrist", nargs="+", default=["palm_up", "palm_down"], choices=list(WRISTS),
                   help="wrist orientations to run (default: palm_up palm_down)")
    p.add_argument("--object", default="cylinder", help="object name or category (default: cylinder)")
    p.add_argument("--episodes", type=int, default=3, help="episodes per wrist (default: 3)")
    p.add_argument("--steps", type=int, default=100, help="steps per episode, at most 400 (default: 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the metrics to this JSON file")
    p.set_defaults(func=_demo)
    p = sub.add_parser("render", help="render the hand holding an object in the six wrist orientations")
    p.add_argument("--object", default="cylinder_d55_ar20", help="object name (default: cylinder_d55_ar20)")
    p.add_argument("--out", type=Path, default=Path("docs/wrists.png"))
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_render)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except ValueError as e:
        raise SystemExit(f"dexndm {args.command}: error: {e}") from None


if __name__ == "__main__":
    main()
