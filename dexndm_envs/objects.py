"""Access to the object catalogue (``objects/catalogue.json``, installed as ``dexndm_objects``).

An object is a rigid body described by an :class:`ObjectSpec`: a primitive shape with full extents in
metres (a cylinder's extents are diameter, diameter, height along its own z), a nominal mass in kg and
a friction coefficient. Each object's own frame is its geometric centre.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

SHAPES = ("box", "cylinder")


@dataclass(frozen=True)
class ObjectSpec:
    """One catalogue object (units: m, kg)."""

    name: str
    category: str
    shape: str
    size: tuple[float, float, float]
    mass: float
    friction: float = 1.0

    @property
    def aspect_ratio(self) -> float:
        """Longest over shortest extent."""
        return max(self.size) / min(self.size)

    @property
    def extents(self) -> np.ndarray:
        return np.asarray(self.size, dtype=np.float64)

    def key(self) -> dict:
        """Everything about the object that changes physics results (for cache keys)."""
        return asdict(self)


def _validate(entry: dict) -> ObjectSpec:
    try:
        spec = ObjectSpec(name=entry["name"], category=entry["category"], shape=entry["shape"],
                          size=tuple(float(x) for x in entry["size"]), mass=float(entry["mass"]),
                          friction=float(entry.get("friction", 1.0)))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"bad catalogue entry {entry!r}: {e}") from e
    if spec.shape not in SHAPES:
        raise ValueError(f"object {spec.name!r}: unknown shape {spec.shape!r}; allowed: {', '.join(SHAPES)}")
    if len(spec.size) != 3 or min(spec.size) <= 0 or spec.mass <= 0 or spec.friction <= 0:
        raise ValueError(f"object {spec.name!r}: size (3 extents), mass and friction must be positive")
    return spec


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, ObjectSpec]:
    text = resources.files("dexndm_objects").joinpath("catalogue.json").read_text()
    specs = [_validate(e) for e in json.loads(text)["objects"]]
    return {s.name: s for s in specs}


def list_objects(category: str | None = None) -> list[ObjectSpec]:
    """All catalogue objects, optionally of one category, in catalogue order."""
    specs = list(_catalogue().values())
    if category is None:
        return specs
    if category not in categories():
        raise ValueError(f"unknown object category {category!r}; allowed: {', '.join(categories())}")
    return [s for s in specs if s.category == category]


def categories() -> list[str]:
    """The object categories present in the catalogue."""
    return sorted({s.category for s in _catalogue().values()})


def get_object(name: str) -> ObjectSpec:
    """One object by name; ValueError naming the categories and objects that exist otherwise."""
    cat = _catalogue()
    if name not in cat:
        raise ValueError(
            f"unknown object {name!r}; allowed: an object name ({', '.join(cat)}), "
            f"a category ({', '.join(categories())}) or a list of these"
        )
    return cat[name]


def resolve_objects(spec: str | list[str] | tuple[str, ...]) -> list[ObjectSpec]:
    """The pool of objects an env samples from: a name, a category, or a list of names/categories."""
    items = [spec] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("object list is empty; give an object name, a category or a list of them")
    pool: list[ObjectSpec] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"object entries must be names or categories (str); got {item!r}")
        pool.extend(list_objects(item) if item in categories() else [get_object(item)])
    return list({s.name: s for s in pool}.values())
