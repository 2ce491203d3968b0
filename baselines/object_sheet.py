"""``dexndm objects sheet``: a contact sheet of the object catalogue (one picture per object)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from baselines import plots
from dexndm_envs.objects import ObjectSpec, create_body
from dexndm_envs.world import World

COLORS = {"cylinder": (0.85, 0.35, 0.2, 1), "cuboid": (0.2, 0.5, 0.85, 1), "long_cuboid": (0.3, 0.7, 0.4, 1),
          "small_cylinder": (0.9, 0.6, 0.1, 1), "irregular": (0.6, 0.4, 0.75, 1), "animal": (0.55, 0.45, 0.35, 1),
          "small": (0.9, 0.3, 0.5, 1), "long": (0.3, 0.6, 0.6, 1)}


def render_object(world: World, spec: ObjectSpec, pixels: int = 160) -> np.ndarray:
    """An RGB picture of one object seen from a three-quarter view, framed by its size."""
    body = create_body(world, spec, rgba=COLORS.get(spec.category, (0.7, 0.7, 0.7, 1)))
    radius = float(np.linalg.norm(spec.extents)) / 2
    eye = np.array([1.0, -1.3, 0.9]) / np.linalg.norm([1.0, -1.3, 0.9]) * radius * 3.2
    image = world.render(eye, (0.0, 0.0, 0.0), width=pixels, height=pixels, fov=40.0)
    world.remove_body(body)
    return image


def contact_sheet(specs: list[ObjectSpec], out: Path, columns: int = 10, progress: bool = True) -> Path:
    """Render every object into one PNG grid at ``out`` (title: name, largest extent in cm)."""
    world = World()
    rows = math.ceil(len(specs) / columns)
    fig, axes = plots.figure(rows, columns, size=(columns * 1.6, rows * 1.75))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, spec in zip(np.ravel(axes), tqdm(specs, desc="objects sheet", unit="object", disable=not progress)):
        ax.imshow(render_object(world, spec))
        ax.set_title(f"{spec.name}\n{spec.category}, {100 * max(spec.size):.1f} cm", fontsize=6)
    world.close()
    return plots.save(fig, out, dpi=100)
