"""The ``dexndm`` command line. Subcommands: ``demo``, ``render``, ``objects``, ``emulate``."""

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


def _objects(args: argparse.Namespace) -> None:
    import json

    from dexndm_envs import objects

    if args.action == "list":
        specs = objects.list_objects(args.category)
        if args.json:
            print(json.dumps([s.to_dict() for s in specs], indent=1))
            return
        print(f"{'name':<26}{'category':<16}{'shape':<10}{'size (cm)':<22}{'aspect':>7}{'mass (g)':>10}  source")
        for s in specs:
            size = " x ".join(f"{100 * x:.1f}" for x in s.size)
            print(f"{s.name:<26}{s.category:<16}{s.shape:<10}{size:<22}{s.aspect_ratio:>7.2f}{1000 * s.mass:>10.1f}  {s.source}")
        print(f"{len(specs)} objects")
    elif args.action == "show":
        print(json.dumps(objects.get_object(args.name).to_dict(), indent=1))
    elif args.action == "import":
        spec = objects.import_mesh(args.mesh, args.name, scale=args.scale, mass=args.mass)
        print(f"imported {spec.name}: {' x '.join(f'{100 * x:.1f}' for x in spec.size)} cm, "
              f"{1000 * spec.mass:.1f} g, {'convex' if spec.convex else 'concave (convex hulls)'}; "
              f"catalogue {objects.user_catalogue_dir() / 'catalogue.json'}")
    elif args.action == "sheet":
        from baselines.object_sheet import contact_sheet

        print(contact_sheet(objects.list_objects(args.category), args.out))


def _emulate(args: argparse.Namespace) -> None:
    import signal
    import threading

    from real.emulator.virtual_hand import VirtualHand

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with VirtualHand(gap=args.gap, object=args.object, wrist=args.wrist, seed=args.seed, faults=args.faults) as hand:
        print(f"port: {hand.port}", flush=True)
        print(f"tracker: {hand.tracker_address}", flush=True)
        stop.wait()


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

    p = sub.add_parser("objects", help="list, show and import objects, or draw the catalogue")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="list the catalogue (shipped and imported objects)")
    a.add_argument("--category", default=None, help="only this category")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = actions.add_parser("show", help="everything about one object")
    a.add_argument("name")
    a = actions.add_parser("import", help="add a mesh file (OBJ, STL, PLY, ...) to the user catalogue")
    a.add_argument("mesh", type=Path)
    a.add_argument("--name", required=True, help="name for the new object (letters, digits, _ and -)")
    a.add_argument("--scale", type=float, default=1.0, help="factor to metres (0.001 for a file in mm)")
    a.add_argument("--mass", type=float, default=None, help="mass in kg (default: from 400 kg/m^3)")
    a = actions.add_parser("sheet", help="render a contact sheet of the catalogue")
    a.add_argument("--category", default=None)
    a.add_argument("--out", type=Path, default=Path("docs/objects.png"))
    p.set_defaults(func=_objects)

    p = sub.add_parser("emulate", help="serve a virtual LEAP hand (16 XC330s, Protocol 2.0) on a pseudo-terminal")
    p.add_argument("--gap", default="leap_xc330", help="reality-gap profile with an xc330 actuator")
    p.add_argument("--object", default="cylinder_d55_ar20")
    p.add_argument("--wrist", default="palm_down", choices=list(WRISTS))
    p.add_argument("--seed", type=int, default=0, help="which cached grasp the hand starts in")
    p.add_argument("--faults", default=None,
                   help="fault injection, e.g. crc=0.01,drop=0.01,late=0.01,overload=3@5 (see real.emulator.faults)")
    p.set_defaults(func=_emulate)
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
