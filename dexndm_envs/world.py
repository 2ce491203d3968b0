"""A thin wrapper around one PyBullet physics client: the scene, stepping, states and the camera.

Every env owns one :class:`World`. Calls go straight to ``pybullet`` with this world's client id
(no per-call wrapper objects: env steps are hot). Units: metres, kilograms, seconds, radians;
quaternions are xyzw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as pb

GRAVITY = 9.81
PHYSICS_HZ = 120
"""Fixed physics rate (Hz), as in the paper's simulator."""


@dataclass(frozen=True)
class PhysicsConfig:
    """Solver settings of a world. They change physics results, so grasp caches are keyed by them.

    10 solver iterations and a contact ERP of 0.8 were chosen with ``benchmarks/grasps.py`` and the
    penetration test: more iterations cost time without holding grasps better, and a stiff ERP keeps
    a squeezed 30 g object from sinking into the links (median depth ~2 mm instead of ~15 mm at 0.2).
    Bullet's contact breaking threshold stays at its default (2 cm): at 2 mm the step was ~15% faster,
    but objects lying on a flat face kept a single contact point and spun in place.
    """

    timestep: float = 1.0 / PHYSICS_HZ
    solver_iterations: int = 10
    solver_residual_threshold: float = 1e-4
    contact_erp: float = 0.8
    enable_cone_friction: bool = False

    def key(self) -> dict:
        """The values that identify this configuration (for cache keys)."""
        return dict(self.__dict__)


class World:
    """One PyBullet client (DIRECT, or GUI when ``gui=True``) with a fixed physics step.

    Args:
        gui: open the PyBullet GUI instead of the headless DIRECT client.
        physics: solver settings; see :class:`PhysicsConfig`.
    """

    simulator = "pybullet"

    def __init__(self, gui: bool = False, physics: PhysicsConfig = PhysicsConfig()) -> None:
        self.physics = physics
        self.gui = gui
        self.client = pb.connect(pb.GUI if gui else pb.DIRECT)
        if self.client < 0:
            raise RuntimeError("could not start a PyBullet client (is a GUI already open in this process?)")
        if gui:
            pb.configureDebugVisualizer(pb.COV_ENABLE_GUI, 0, physicsClientId=self.client)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=physics.timestep,
            numSolverIterations=physics.solver_iterations,
            numSubSteps=0,
            deterministicOverlappingPairs=1,
            solverResidualThreshold=physics.solver_residual_threshold,
            contactERP=physics.contact_erp,
            enableConeFriction=int(physics.enable_cone_friction),
            physicsClientId=self.client,
        )
        self.set_gravity((0.0, 0.0, -GRAVITY))
        self._links: list[tuple[int, int]] = []  # (body, link) of every collision object, for restore_state
        self.stamp = 0
        """Counts the changes of simulator state made through this class (physics steps, restores), so
        a reading taken at one stamp is known to be current while the stamp is unchanged."""

    def add_body(self, body: int) -> int:
        """Adopt a body created in this client: give every link the one collision group this project
        uses (group 1, mask 1) and track it for :meth:`restore_state`. Returns the body id."""
        for link in range(-1, pb.getNumJoints(body, physicsClientId=self.client)):
            pb.setCollisionFilterGroupMask(body, link, 1, 1, physicsClientId=self.client)
            self._links.append((body, link))
        return body

    # -- scene -------------------------------------------------------------------------------------
    def load_urdf(self, path: str, position, orientation, fixed_base: bool = True, flags: int = 0) -> int:
        """Load a URDF at a world pose (m, xyzw); returns the body id."""
        return self.add_body(pb.loadURDF(str(path), position, orientation, useFixedBase=fixed_base, flags=flags,
                                          physicsClientId=self.client))

    def create_primitive(self, shape: str, size: np.ndarray, mass: float, rgba=(0.85, 0.35, 0.2, 1.0),
                         position=(0.0, 0.0, 0.0), orientation=(0.0, 0.0, 0.0, 1.0),
                         collision_kwargs: dict | None = None) -> int:
        """Create a rigid primitive body.

        Args:
            shape: ``"box"`` (size = full extents x, y, z), ``"cylinder"`` (size = diameter, diameter,
                length along its local z) or ``"sphere"`` (size = diameter, ...).
            size: (3,) extents in metres as above.
            mass: kg. ``collision_kwargs``: extra ``createCollisionShape`` arguments (e.g. a mesh).
            rgba: colour, or None for a body that collides but is not drawn.
        """
        size = np.asarray(size, dtype=np.float64)
        c = self.client
        visual = rgba is not None
        if shape == "box":
            col = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=size / 2, physicsClientId=c)
            vis = visual and pb.createVisualShape(pb.GEOM_BOX, halfExtents=size / 2, rgbaColor=rgba, physicsClientId=c)
        elif shape == "cylinder":
            col = pb.createCollisionShape(pb.GEOM_CYLINDER, radius=size[0] / 2, height=size[2], physicsClientId=c)
            vis = visual and pb.createVisualShape(pb.GEOM_CYLINDER, radius=size[0] / 2, length=size[2],
                                                  rgbaColor=rgba, physicsClientId=c)
        elif shape == "sphere":
            col = pb.createCollisionShape(pb.GEOM_SPHERE, radius=size[0] / 2, physicsClientId=c)
            vis = visual and pb.createVisualShape(pb.GEOM_SPHERE, radius=size[0] / 2, rgbaColor=rgba,
                                                  physicsClientId=c)
        else:
            raise ValueError(f"unknown primitive shape {shape!r}; allowed: box, cylinder, sphere")
        body = pb.createMultiBody(mass, col, vis if visual else -1, position, orientation, physicsClientId=c)
        if not visual:  # without a visual shape PyBullet draws the collision shape; hide it
            pb.changeVisualShape(body, -1, rgbaColor=(1, 1, 1, 0), physicsClientId=c)
        return self.add_body(body)

    def create_mesh(self, collision: Path, visual: Path, mass: float, inertia, rgba=(0.85, 0.35, 0.2, 1.0),
                    position=(0.0, 0.0, 0.0)) -> int:
        """A rigid body colliding through the convex hulls of the OBJ file ``collision`` (one per object
        group) and drawn with ``visual``, with ``mass`` (kg) and principal ``inertia`` (kg m^2) about its
        origin. Returns the body id."""
        c = self.client
        col = pb.createCollisionShape(pb.GEOM_MESH, fileName=str(collision), physicsClientId=c)
        vis = pb.createVisualShape(pb.GEOM_MESH, fileName=str(visual), rgbaColor=rgba, physicsClientId=c)
        body = self.add_body(pb.createMultiBody(mass, col, vis, position, physicsClientId=c))
        # PyBullet estimates a compound's inertia from its bounding box; use the mesh's own.
        pb.changeDynamics(body, -1, localInertiaDiagonal=list(inertia), physicsClientId=c)
        return body

    def remove_body(self, body: int) -> None:
        pb.removeBody(body, physicsClientId=self.client)
        self._links = [(b, link) for b, link in self._links if b != body]

    def set_gravity(self, gravity) -> None:
        """World gravity vector in m/s^2."""
        pb.setGravity(*gravity, physicsClientId=self.client)

    # -- stepping and state -----------------------------------------------------------------------
    def step(self) -> None:
        """Advance physics by one fixed timestep."""
        pb.stepSimulation(physicsClientId=self.client)
        self.stamp += 1

    def save_state(self) -> int:
        """Snapshot the whole simulation (bodies, velocities, contact caches) in memory."""
        return pb.saveState(physicsClientId=self.client)

    def restore_state(self, state_id: int) -> None:
        """Restore a snapshot exactly: the contact caches are emptied first.

        ``restoreState`` rewrites the contact points of the pairs in the snapshot but leaves the other
        cached contact manifolds, and the solver visits manifolds in cache order, so without this a
        restored episode would depend on the episodes before it. Switching every link's collisions
        off for one collision pass empties the cache; then the saved contacts are put back.
        """
        c = self.client
        for body, link in self._links:
            pb.setCollisionFilterGroupMask(body, link, 0, 0, physicsClientId=c)
        pb.performCollisionDetection(physicsClientId=c)
        for body, link in self._links:
            pb.setCollisionFilterGroupMask(body, link, 1, 1, physicsClientId=c)
        pb.restoreState(stateId=state_id, physicsClientId=c)
        self.stamp += 1

    # -- bodies -------------------------------------------------------------------------------------
    def body_pose(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World position (m) and orientation (xyzw) of a body's base (its centre of mass frame)."""
        pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
        return np.array(pos), np.array(orn)

    def body_velocity(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World linear (m/s) and angular (rad/s) velocity of a body's base."""
        lin, ang = pb.getBaseVelocity(body, physicsClientId=self.client)
        return np.array(lin), np.array(ang)

    def set_body_pose(self, body: int, position, orientation, linear=(0.0, 0.0, 0.0),
                      angular=(0.0, 0.0, 0.0)) -> None:
        """Teleport a body's base to a world pose with the given velocities."""
        pb.resetBasePositionAndOrientation(body, position, orientation, physicsClientId=self.client)
        pb.resetBaseVelocity(body, linear, angular, physicsClientId=self.client)

    def set_dynamics(self, body: int, link: int = -1, **kwargs) -> None:
        """``changeDynamics`` for one link (-1 = base): mass, lateralFriction, ..."""
        pb.changeDynamics(body, link, physicsClientId=self.client, **kwargs)

    def apply_force(self, body: int, force, position, link: int = -1) -> None:
        """Apply a world-frame force (N) at a world point of a body (or one of its links) for the next
        physics step only."""
        pb.applyExternalForce(body, link, force, position, pb.WORLD_FRAME, physicsClientId=self.client)

    def apply_torque(self, body: int, torque) -> None:
        """Apply a world-frame torque (N m) to a body's base for the next physics step only."""
        pb.applyExternalTorque(body, -1, torque, pb.WORLD_FRAME, physicsClientId=self.client)

    def contacts(self, body_a: int, body_b: int) -> list:
        """Contact points between two bodies after the last step (PyBullet tuples)."""
        return pb.getContactPoints(body_a, body_b, physicsClientId=self.client)

    def touching_links(self, body: int, other: int) -> set[int]:
        """The links of ``other`` (by link index; -1 the base) in contact with ``body`` after the last step."""
        return {c[4] for c in self.contacts(body, other)}

    def touching_links_at(self, state_id: int, body: int, other: int) -> set[int]:
        """:meth:`touching_links` in the snapshot ``state_id`` the world was just restored to, which the
        engine finds only in the next step (until then it reports the last step's contacts: another
        episode's). A collision pass finds them, and is undone by restoring the snapshot again, so the
        motion to come is what it would have been without it (the pass alone changes the contact cache
        the solver starts from)."""
        pb.performCollisionDetection(physicsClientId=self.client)
        touching = self.touching_links(body, other)
        self.restore_state(state_id)
        return touching

    def free_spheres(self, centres: np.ndarray, radius: float, other: int, margin: float,
                     limit: int | None = None) -> np.ndarray:
        """Whether a sphere of ``radius`` (m) at each of ``centres`` ([n, 3], world) stays more than
        ``margin`` (m) away from body ``other`` (a probe sphere is moved through the points); with
        ``limit``, points after the ``limit``-th free one are not probed (False)."""
        probe = self.create_primitive("sphere", [2 * radius] * 3, 0.0, rgba=None)
        clear, found = np.zeros(len(centres), dtype=bool), 0
        for i, p in enumerate(np.asarray(centres, dtype=np.float64)):
            if limit is not None and found == limit:
                break
            self.set_body_pose(probe, p, (0, 0, 0, 1))
            clear[i] = not pb.getClosestPoints(probe, other, margin, physicsClientId=self.client)
            found += int(clear[i])
        self.remove_body(probe)
        return clear

    # -- camera -------------------------------------------------------------------------------------
    def render(self, eye, target, width: int = 480, height: int = 360, fov: float = 45.0) -> np.ndarray:
        """An RGB image (height, width, 3) uint8 seen from world point ``eye`` towards ``target``
        (world z up on screen where possible).

        Uses the TinyRenderer in DIRECT mode (headless) and the OpenGL renderer in GUI mode.
        """
        eye, target = np.asarray(eye, dtype=np.float64), np.asarray(target, dtype=np.float64)
        look = (target - eye) / np.linalg.norm(target - eye)
        up = (0.0, 0.0, 1.0) if abs(look[2]) < 0.99 else (1.0, 0.0, 0.0)
        view = pb.computeViewMatrix(eye, target, up, physicsClientId=self.client)
        proj = pb.computeProjectionMatrixFOV(fov, width / height, 0.01, 5.0, physicsClientId=self.client)
        renderer = pb.ER_BULLET_HARDWARE_OPENGL if self.gui else pb.ER_TINY_RENDERER
        _, _, rgba, _, _ = pb.getCameraImage(width, height, view, proj, renderer=renderer,
                                             physicsClientId=self.client)
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()

    def aim_gui_camera(self, eye, target) -> None:
        """Point the GUI's camera from world point ``eye`` at ``target`` (GUI mode only)."""
        offset = np.asarray(eye, dtype=np.float64) - np.asarray(target, dtype=np.float64)
        distance = float(np.linalg.norm(offset))
        yaw = float(np.degrees(np.arctan2(offset[0], -offset[1])))
        pitch = float(np.degrees(np.arcsin(-offset[2] / distance)))
        pb.resetDebugVisualizerCamera(distance, yaw, pitch, list(target), physicsClientId=self.client)

    def close(self) -> None:
        """Disconnect the client; safe to call twice."""
        if self.client >= 0:
            try:
                pb.disconnect(physicsClientId=self.client)
            except pb.error:
                pass
            self.client = -1
