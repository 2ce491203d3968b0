"""``dexndm render``: the hand holding an object (or in its Chaos Box) in the six wrist orientations."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "render the hand holding an object (or in its Chaos Box) in the six wrist orientations"
OUT_DIR = Path("runs")
"""Where pictures go by default: ignored by git, so a render never overwrites the repository's own."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from real.emulator.virtual_hand import SCENES

    p.add_argument("--scene", choices=SCENES, default=SCENES[0])
    p.add_argument("--object", default="cylinder_d55_ar20", help="object name (default: cylinder_d55_ar20)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"PNG to write (default: {OUT_DIR / 'wrists.png'}, or {OUT_DIR / 'chaos_box.png'} for the "
                        "Chaos Box)")
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> None:
    from baselines.render import render_wrists

    out = args.out or OUT_DIR / ("wrists.png" if args.scene == "rotate" else "chaos_box.png")
    print(render_wrists(args.object, out, args.seed, args.scene))  # where it wrote
