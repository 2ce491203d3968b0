"""``dexndm objects``: list, show and import objects, or draw the catalogue."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from baselines.commands.render import OUT_DIR

HELP = "list, show and import objects, or draw the catalogue"


def add_arguments(p: argparse.ArgumentParser) -> None:
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
    a.add_argument("--out", type=Path, default=OUT_DIR / "objects.png",
                   help=f"PNG to write (default: {OUT_DIR / 'objects.png'})")


def run(args: argparse.Namespace) -> None:
    from dexndm_envs import objects

    if args.action == "list":
        specs = objects.list_objects(args.category)
        if args.json:
            print(json.dumps([s.to_dict() for s in specs], indent=1))
            return
        print(f"{'name':<26}{'category':<16}{'shape':<10}{'size (cm)':<22}{'aspect':>7}{'mass (g)':>10}  source")
        for s in specs:
            size = " x ".join(f"{100 * x:.1f}" for x in s.size)
            print(f"{s.name:<26}{s.category:<16}{s.shape:<10}{size:<22}{s.aspect_ratio:>7.2f}"
                  f"{1000 * s.mass:>10.1f}  {s.source}")
        print(f"{len(specs)} objects")
    elif args.action == "show":
        print(json.dumps(objects.get_object(args.name).to_dict(), indent=1))
    elif args.action == "import":
        # a concave mesh is split into convex hulls, which takes seconds: say so before it starts
        print(f"importing {args.mesh} as {args.name!r} (a concave mesh is split into convex hulls: ~10 s) ...",
              file=sys.stderr, flush=True)
        spec = objects.import_mesh(args.mesh, args.name, scale=args.scale, mass=args.mass)
        print(f"imported {spec.name}: {' x '.join(f'{100 * x:.1f}' for x in spec.size)} cm, "
              f"{1000 * spec.mass:.1f} g, {'convex' if spec.convex else 'concave (convex hulls)'}; "
              f"catalogue {objects.user_catalogue_dir() / 'catalogue.json'}")
    elif args.action == "sheet":
        from baselines.object_sheet import contact_sheet

        print(contact_sheet(objects.list_objects(args.category), args.out))
