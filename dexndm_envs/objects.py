"""The object catalogue: the shipped set (``objects/``, installed as ``dexndm_objects``) plus the user's
own imported meshes (``$DEXNDM_USER_OBJECTS`` or ``~/.local/share/dexndm_envs/objects``).

An object is a rigid body described by an :class:`ObjectSpec`, in its own frame: the centre of mass,
axes along the principal axes of inertia with extents decreasing from x to z. Units: metres,
kilograms, kg m^2. Shapes: ``box`` and ``cylinder`` are PyBullet primitives (a cylinder's extents are
diameter, diameter, height along z); ``mesh`` objects collide through convex hulls (one OBJ, one
object group per hull) and are drawn with their watertight visual mesh.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from dexndm_envs.fileio import atomic_write
from dexndm_envs.world import World

SHAPES = ("box", "cylinder", "mesh")


@dataclass(frozen=True)
class ObjectSpec:
    """One catalogue object (units: m, kg, kg m^2)."""

    name: str
    category: str
    shape: str
    size: tuple[float, float, float]
    mass: float
    friction: float = 1.0
    inertia: tuple[float, float, float] | None = None
    visual: Path | None = field(default=None, compare=False)
    collision: Path | None = field(default=None, compare=False)
    convex: bool = True
    source: str = "shipped"

    @property
    def aspect_ratio(self) -> float:
        """Longest over shortest extent."""
        return max(self.size) / min(self.size)

    @property
    def extents(self) -> np.ndarray:
        return np.asarray(self.size, dtype=np.float64)

    def key(self) -> dict:
        """Everything about the object that changes physics results (for cache keys): the numbers and
        a hash of the collision mesh, not where the files happen to live."""
        digest = hashlib.sha256(self.collision.read_bytes()).hexdigest() if self.collision else None
        return {"name": self.name, "shape": self.shape, "size": list(self.size), "mass": self.mass,
                "friction": self.friction, "inertia": None if self.inertia is None else list(self.inertia),
                "collision_sha256": digest}

    def to_dict(self) -> dict:
        """A JSON-friendly description (paths as strings)."""
        return {"name": self.name, "category": self.category, "shape": self.shape, "size": list(self.size),
                "aspect_ratio": round(self.aspect_ratio, 4), "mass": self.mass, "friction": self.friction,
                "inertia": None if self.inertia is None else list(self.inertia), "convex": self.convex,
                "visual": str(self.visual) if self.visual else None,
                "collision": str(self.collision) if self.collision else None, "source": self.source}


def user_catalogue_dir() -> Path:
    """Where imported meshes and the user catalogue live."""
    root = os.environ.get("DEXNDM_USER_OBJECTS")
    return Path(root) if root else Path.home() / ".local" / "share" / "dexndm_envs" / "objects"


def _spec(entry: dict, root: Path, source: str, where: Path) -> ObjectSpec:
    try:
        spec = ObjectSpec(
            name=str(entry["name"]), category=str(entry["category"]), shape=str(entry["shape"]),
            size=tuple(float(x) for x in entry["size"]), mass=float(entry["mass"]),
            friction=float(entry.get("friction", 1.0)),
            inertia=tuple(float(x) for x in entry["inertia"]) if entry.get("inertia") else None,
            visual=root / entry["visual"] if entry.get("visual") else None,
            collision=root / entry["collision"] if entry.get("collision") else None,
            convex=bool(entry.get("convex", True)), source=source,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{where}: bad catalogue entry {entry.get('name', entry)!r}: {e}") from e
    if spec.shape not in SHAPES:
        raise ValueError(f"{where}: object {spec.name!r} has unknown shape {spec.shape!r}; "
                         f"allowed: {', '.join(SHAPES)}")
    if len(spec.size) != 3 or min(spec.size) <= 0 or spec.mass <= 0 or spec.friction <= 0:
        raise ValueError(f"{where}: object {spec.name!r} needs 3 positive extents, a positive mass and friction")
    if spec.shape == "mesh" and not (spec.collision and spec.collision.exists()):
        raise ValueError(f"{where}: object {spec.name!r} has no collision mesh file ({spec.collision})")
    return spec


def read_catalogue(path: Path, source: str) -> list[ObjectSpec]:
    """Objects of one catalogue file; ValueError naming the file for anything malformed."""
    try:
        data = json.loads(path.read_text())
        entries = data["objects"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"catalogue {path} is unreadable or malformed: {e}") from e
    return [_spec(e, path.parent, source, path) for e in entries]


@lru_cache(maxsize=1)
def _shipped() -> tuple[ObjectSpec, ...]:
    root = resources.files("dexndm_objects")
    return tuple(read_catalogue(Path(str(root.joinpath("catalogue.json"))), "shipped"))


def _catalogue() -> dict[str, ObjectSpec]:
    specs = {s.name: s for s in _shipped()}
    user = user_catalogue_dir() / "catalogue.json"
    if user.exists():
        for s in read_catalogue(user, "user"):
            specs.setdefault(s.name, s)  # import_mesh refuses shipped names; never shadow them
    return specs


def list_objects(category: str | None = None) -> list[ObjectSpec]:
    """All catalogue objects (shipped, then user), optionally of one category."""
    specs = list(_catalogue().values())
    if category is None:
        return specs
    if category not in categories():
        raise ValueError(f"unknown object category {category!r}; allowed: {', '.join(categories())}")
    return [s for s in specs if s.category == category]


def categories() -> list[str]:
    """The object categories present in the catalogues."""
    return sorted({s.category for s in _catalogue().values()})


def get_object(name: str) -> ObjectSpec:
    """One object by name; ValueError naming the categories and objects that exist otherwise."""
    cat = _catalogue()
    if name not in cat:
        raise ValueError(
            f"unknown object {name!r}; allowed: a category ({', '.join(categories())}), an object name "
            f"({', '.join(cat)}) or a list of these; `dexndm objects list` shows them"
        )
    return cat[name]


def resolve_objects(spec: str | list[str] | tuple[str, ...]) -> list[ObjectSpec]:
    """The pool of objects an env samples from: a name, a category, or a list of names/categories."""
    items = [spec] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("object list is empty; give an object name, a category or a list of them")
    pool: list[ObjectSpec] = []
    names = categories()
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"object entries must be names or categories (str); got {item!r}")
        pool.extend(list_objects(item) if item in names else [get_object(item)])
    return list({s.name: s for s in pool}.values())


def create_body(world: World, spec: ObjectSpec, position=(0.0, 0.0, 0.0), rgba=(0.85, 0.35, 0.2, 1.0)) -> int:
    """Create the object in a world at a position (m); returns the body id."""
    if spec.shape in ("box", "cylinder"):
        return world.create_primitive(spec.shape, spec.extents, spec.mass, rgba=rgba, position=position)
    return world.create_mesh(spec.collision, spec.visual, spec.mass, spec.inertia, rgba=rgba, position=position)


def import_mesh(path: str | Path, name: str, scale: float = 1.0, mass: float | None = None,
                category: str = "user", friction: float = 1.0) -> ObjectSpec:
    """Add a user mesh to the user catalogue (never the shipped one) and return its spec.

    The mesh is read, scaled by ``scale`` (to metres), repaired, checked (a closed volume, 1.5-25 cm
    across), moved to its principal frame, given mass properties (``mass`` in kg, or a density of
    400 kg/m^3) and, if concave, decomposed into convex hulls. Files are written atomically.
    Raises ValueError saying what was wrong.
    """
    import re

    from dexndm_envs import meshes

    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise ValueError(f"object name {name!r} must use only letters, digits, '_' and '-'")
    if name in {s.name for s in _shipped()}:
        raise ValueError(f"object name {name!r} is taken by a shipped object; choose another name")
    if mass is not None and not (np.isfinite(mass) and mass > 0):
        raise ValueError(f"mass must be a positive number of kg, got {mass}")
    root = user_catalogue_dir()
    index = root / "catalogue.json"
    entries = json.loads(index.read_text())["objects"] if index.exists() else []
    if any(e["name"] == name for e in entries):
        raise ValueError(f"object {name!r} is already in the user catalogue {index}; choose another name")

    prepared = meshes.prepare_mesh(meshes.load_and_repair(Path(path), scale), mass=mass)
    visual, collision = f"meshes/{name}.obj", f"meshes/{name}_collision.obj"
    atomic_write(root / visual, meshes.obj_text([prepared.mesh]))
    atomic_write(root / collision, meshes.obj_text(meshes.convex_hulls(prepared)))
    entry = {"name": name, "category": category, "shape": "mesh",
             "size": [round(float(x), 6) for x in prepared.extents], "mass": round(prepared.mass, 6),
             "friction": friction, "inertia": [float(f"{x:.6g}") for x in prepared.inertia],
             "visual": visual, "collision": collision, "convex": prepared.convex, "source_file": str(path)}
    atomic_write(index, json.dumps({"version": 2, "objects": [*entries, entry]}, indent=1) + "\n")
    return get_object(name)
