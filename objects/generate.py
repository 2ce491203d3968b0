"""Regenerate ``objects/catalogue.json`` deterministically: ``python objects/generate.py``.

Primitive objects of the paper's training categories (reference/paper.md), sized for the LEAP hand:
- cylinders: diameter 5.0-6.0 cm, aspect ratio diameter / height 1.6-2.4 (pucks that stand on the palm);
- cuboids: longest side 4.5-5.5 cm, aspect ratio longest / shortest side 1.25-1.5.
Nominal mass 0.03 kg (the middle of the paper's randomization range 0.01-0.05 kg), friction 1.0.
"""

from __future__ import annotations

import json
from pathlib import Path

MASS_KG = 0.03
FRICTION = 1.0


def catalogue() -> dict:
    objects = []
    for d_cm in (5.0, 5.5, 6.0):
        for aspect in (1.6, 2.0, 2.4):
            d = d_cm / 100
            objects.append({
                "name": f"cylinder_d{d_cm * 10:.0f}_ar{aspect * 10:.0f}", "category": "cylinder",
                "shape": "cylinder", "size": [d, d, round(d / aspect, 5)],
            })
    for side_cm in (4.5, 5.0, 5.5):
        for aspect in (1.25, 1.375, 1.5):
            s = side_cm / 100
            objects.append({
                "name": f"cuboid_s{side_cm * 10:.0f}_ar{aspect * 1000:.0f}", "category": "cuboid",
                "shape": "box", "size": [s, round(s / aspect ** 0.5, 5), round(s / aspect, 5)],
            })
    for o in objects:
        o.update(mass=MASS_KG, friction=FRICTION)
    return {"version": 1, "objects": objects}


if __name__ == "__main__":
    path = Path(__file__).with_name("catalogue.json")
    path.write_text(json.dumps(catalogue(), indent=1) + "\n")
    print(path)
