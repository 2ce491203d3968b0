"""The objects an env draws its episodes' object from: one body each, one of them in play."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dexndm_envs.objects import ObjectSpec, create_body
from dexndm_envs.world import World

PARK = np.array([0.0, 0.0, -50.0])
"""Where the objects wait out of play (world frame, m); object i at ``PARK + (i, 0, 0)``."""


class ObjectPool:
    """The objects of an env, each a body of ``world`` created once, and which one is in play.

    Indexing and iterating give the objects' specs, in episode index order.

    Bodies are never rebuilt (PyBullet fixes a body's inertial frame at creation, and resets restore
    saved simulator states): the objects out of play wait at their parking spots, static (mass 0), so
    they neither fall nor cost simulation time; the active one is dynamic with the episode's mass (kg)
    and friction.

    Args:
        world: the world to create the bodies in.
        specs: the objects, in the order episodes index them.
    """

    def __init__(self, world: World, specs: list[ObjectSpec]) -> None:
        self.world = world
        self.specs = list(specs)
        self.bodies = [create_body(world, s, position=PARK + [i, 0, 0]) for i, s in enumerate(self.specs)]
        self.active = 0

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, index: int) -> ObjectSpec:
        return self.specs[index]

    def __iter__(self) -> Iterator[ObjectSpec]:
        return iter(self.specs)

    @property
    def body(self) -> int:
        """The PyBullet body of the object in play."""
        return self.bodies[self.active]

    @property
    def spec(self) -> ObjectSpec:
        """The object in play."""
        return self.specs[self.active]

    def park(self) -> None:
        """Move every object to its parking spot, at rest."""
        for i, b in enumerate(self.bodies):
            self.world.set_body_pose(b, PARK + [i, 0, 0], (0, 0, 0, 1))

    def activate(self, index: int, mass: float, friction: float) -> None:
        """Put object ``index`` in play, dynamic with ``mass`` (kg) and ``friction``; the others static."""
        for i, b in enumerate(self.bodies):
            if i != index:
                self.world.set_dynamics(b, mass=0.0)
        self.world.set_dynamics(self.bodies[index], mass=mass, lateralFriction=friction)
        self.active = index

    def prepare_generation(self, index: int) -> None:
        """The scene before object ``index``'s grasps are looked up or generated: all parked, ``index``
        in play with its nominal mass and friction."""
        self.park()
        spec = self.specs[index]
        self.activate(index, spec.mass, spec.friction)

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The object in play's position (3, m) and orientation (xyzw), world frame."""
        return self.world.body_pose(self.body)

    def velocity(self) -> tuple[np.ndarray, np.ndarray]:
        """The object in play's linear (m/s) and angular (rad/s) velocity, world frame."""
        return self.world.body_velocity(self.body)
