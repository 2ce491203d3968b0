"""The LEAP hand and its scene in MuJoCo, behind the interface of the PyBullet ones
(:class:`~dexndm_envs.world.World` and :class:`~dexndm_envs.robot.SimHand`), so every env runs in either
simulator (a gap profile's ``simulator`` key chooses).

The hand is compiled from the same generated URDF (16 joints, box and sphere links, the same link
friction and self-collision pairs); objects are the same primitives, or the same convex hulls for mesh
objects. Everything else is MuJoCo's own, at its documented defaults: soft contacts (``solref``,
``solimp``), the pyramidal friction cone, the Newton solver, the Euler integrator, and friction
coefficients combined by taking the larger of the two geoms' (PyBullet multiplies them). Only the
time step is the project's (1/120 s, :data:`~dexndm_envs.world.PHYSICS_HZ`).

Handles: a body is named by its MuJoCo body id (the same integers :class:`World` hands out for PyBullet
bodies); the hand's links are the bodies of its tree, so ``link`` arguments and ``tip_ids`` are body
ids too. Units: metres, kilograms, seconds, radians; quaternions cross this interface as xyzw (MuJoCo's
own are wxyz).

MuJoCo compiles its model once; bodies created after a first physics call recompile it, keeping the
state. Objects are created at an env's start, so episodes never pay for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from dexndm_envs import hand
from dexndm_envs.meshes import read_hulls
from dexndm_envs.robot import SELF_COLLISION_PAIRS, ActuatedHand
from dexndm_envs.rotations import quat_to_matrix
from dexndm_envs.urdf import URDF_PATH
from dexndm_envs.world import GRAVITY, PHYSICS_HZ

_STATE = mujoco.mjtState.mjSTATE_INTEGRATION
"""Everything that evolves in time (positions, velocities, warm start, applied forces): a restored
state replays exactly."""


RUNTIME_FIELDS = ("body_pos", "body_quat", "body_mass", "body_inertia", "body_gravcomp", "geom_friction")
"""The model fields this module changes after compiling (palm and static poses, dynamics); a
recompile carries them over."""


def _wxyz(quat_xyzw) -> np.ndarray:
    x, y, z, w = np.asarray(quat_xyzw, dtype=np.float64)
    return np.array([w, x, y, z])


def _xyzw(quat_wxyz) -> np.ndarray:
    w, x, y, z = quat_wxyz
    return np.array([x, y, z, w])


@dataclass(frozen=True)
class MujocoPhysics:
    """The settings of a MuJoCo world that are the project's choice (the rest are MuJoCo's defaults)."""

    timestep: float = 1.0 / PHYSICS_HZ

    def key(self) -> dict:
        """The values that identify this configuration, with MuJoCo's version (it changes results)."""
        return {"timestep": self.timestep, "mujoco": mujoco.__version__}


class MujocoWorld:
    """One MuJoCo model and its data, with :class:`~dexndm_envs.world.World`'s methods.

    Args:
        gui: not available here (MuJoCo's viewer needs a display); a ValueError says so.
        physics: see :class:`MujocoPhysics`.
    """

    simulator = "mujoco"

    def __init__(self, gui: bool = False, physics: MujocoPhysics = MujocoPhysics()) -> None:
        if gui:
            raise ValueError("the MuJoCo hand has no GUI (render_mode='human'); use render_mode='rgb_array' "
                             "or the PyBullet hand")
        self.physics = physics
        self.spec = mujoco.MjSpec()
        self.spec.option.timestep = physics.timestep
        self.spec.option.gravity = [0.0, 0.0, -GRAVITY]
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self._names: list[str] = ["world"]  # body id -> spec name, in creation order (the compiled ids)
        self._static: set[int] = set()
        self._states: list[np.ndarray] = []
        self._renderer = None
        self.stamp = 0
        """Counts the changes of simulator state made through this class (steps, restores), as World's."""

    # -- the model ----------------------------------------------------------------------------------
    @property
    def m(self) -> mujoco.MjModel:
        """The compiled model (compiled, or recompiled keeping the state, where bodies were added)."""
        if self.model is None or self.model.nbody != len(self._names):
            if self.model is None:
                self.model = self.spec.compile()
                self.data = mujoco.MjData(self.model)
            else:  # bodies were added: their geoms come last, so the others keep their ids and runtime settings
                old = self.model
                self.model, self.data = self.spec.recompile(old, self.data)
                for name in RUNTIME_FIELDS:
                    field = getattr(self.model, name)
                    field[:len(getattr(old, name))] = getattr(old, name)
                self.model.opt.gravity[:] = old.opt.gravity
                self._set_const()
            for body, name in enumerate(self._names):
                if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name) != body:
                    raise RuntimeError(f"MuJoCo body {name!r} is not body {body}")
            mujoco.mj_forward(self.model, self.data)
        return self.model

    @property
    def d(self) -> mujoco.MjData:
        self.m  # noqa: B018 (compiles on first use)
        return self.data

    def _set_const(self) -> None:
        """Recompute the model's mass-derived constants (``mj_setConst`` uses the data as scratch space,
        so the state is kept aside and put back)."""
        m, d = self.model, self.data
        state = np.empty(mujoco.mj_stateSize(m, _STATE))
        mujoco.mj_getState(m, d, state, _STATE)
        mujoco.mj_setConst(m, d)
        mujoco.mj_setState(m, d, state, _STATE)
        mujoco.mj_forward(m, d)

    def _add(self, name: str) -> int:
        self._names.append(name)
        return len(self._names) - 1

    def load_hand(self, path: str | Path, position, orientation) -> tuple[int, dict[str, int]]:
        """Load the hand's URDF as the first thing in the world, its palm fixed at a world pose (m,
        xyzw); returns the palm's body id and the body id of every link by name."""
        if len(self._names) > 1:
            raise RuntimeError("the hand is loaded first, into an empty MuJoCo world")
        urdf = mujoco.MjSpec.from_file(str(path))
        urdf.compiler.fusestatic = False  # keep every link a body (the fingertips are looked up by name)
        urdf.option.timestep = self.spec.option.timestep
        urdf.option.gravity = self.spec.option.gravity
        self.spec = urdf
        palm = self.spec.body("palm")
        palm.pos, palm.quat = np.asarray(position, dtype=np.float64), _wxyz(orientation)
        model = self.spec.compile()
        links = {model.body(i).name: i for i in range(1, model.nbody)}
        self._names = [model.body(i).name for i in range(model.nbody)]
        names = {v: k for k, v in links.items()}
        for a in links.values():
            for b in links.values():
                if a < b and frozenset((names[a], names[b])) not in SELF_COLLISION_PAIRS:
                    self.spec.add_exclude(bodyname1=names[a], bodyname2=names[b])
        for geom in self.spec.geoms:
            geom.friction = [hand.LINK_FRICTION, *geom.friction[1:]]
        return links["palm"], links

    def _body(self, mass: float, position, orientation) -> tuple[int, mujoco.MjsBody]:
        body_id = self._add(f"body{len(self._names)}")
        body = self.spec.worldbody.add_body(name=self._names[body_id], pos=np.asarray(position, dtype=np.float64),
                                            quat=_wxyz(orientation))
        if mass > 0:
            body.add_freejoint()
        else:
            self._static.add(body_id)
        return body_id, body

    def create_primitive(self, shape: str, size: np.ndarray, mass: float, rgba=(0.85, 0.35, 0.2, 1.0),
                         position=(0.0, 0.0, 0.0), orientation=(0.0, 0.0, 0.0, 1.0)) -> int:
        """A rigid primitive (World.create_primitive's arguments: ``box`` full extents, ``cylinder``
        diameter, diameter, length, ``sphere`` diameter; m, kg); mass 0 makes it static. Returns its id."""
        size = np.asarray(size, dtype=np.float64)
        kinds = {"box": (mujoco.mjtGeom.mjGEOM_BOX, size / 2),
                 "cylinder": (mujoco.mjtGeom.mjGEOM_CYLINDER, [size[0] / 2, size[2] / 2, 0.0]),
                 "sphere": (mujoco.mjtGeom.mjGEOM_SPHERE, [size[0] / 2, 0.0, 0.0])}
        if shape not in kinds:
            raise ValueError(f"unknown primitive shape {shape!r}; allowed: {', '.join(kinds)}")
        body_id, body = self._body(mass, position, orientation)
        kind, half = kinds[shape]
        geom = body.add_geom(type=kind, size=half, rgba=rgba if rgba is not None else (1, 1, 1, 0))
        if mass > 0:
            geom.mass = mass
        return body_id

    def create_mesh(self, collision: Path, visual: Path, mass: float, inertia, rgba=(0.85, 0.35, 0.2, 1.0),
                    position=(0.0, 0.0, 0.0)) -> int:
        """A rigid body colliding through the convex hulls of the OBJ file ``collision`` (one per object
        group, :func:`~dexndm_envs.meshes.read_hulls`), with ``mass`` (kg) and principal ``inertia``
        (kg m^2) about its origin; drawn as its hulls (``visual`` is PyBullet's drawing mesh). Returns its id."""
        body_id, body = self._body(mass, position, (0.0, 0.0, 0.0, 1.0))
        body.explicitinertial = True
        body.mass, body.inertia, body.ipos = mass, np.asarray(inertia, dtype=np.float64), np.zeros(3)
        for k, vertices in enumerate(read_hulls(collision)):
            mesh = self.spec.add_mesh(name=f"{self._names[body_id]}_hull{k}")
            mesh.uservert = np.asarray(vertices, dtype=np.float32).ravel()
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mesh.name, rgba=rgba, mass=0.0)
        return body_id

    # -- stepping and state ---------------------------------------------------------------------------
    def step(self) -> None:
        """Advance physics by one time step; forces applied for it are then cleared (PyBullet's rule).

        ``mj_step`` leaves the body poses and velocities of the state it started from; they are brought
        to the new state here, so every reading after a step (poses, velocities, fingertips, the loads
        computed from them) is of the state the step reached, as in PyBullet."""
        m, d = self.m, self.data
        mujoco.mj_step(m, d)
        d.qfrc_applied[:] = 0.0
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_comVel(m, d)
        self.stamp += 1

    def clear_warmstart(self) -> None:
        """Zero the constraint solver's warm start (the accelerations of the last step), so that the steps
        from here depend only on the poses and velocities set since, not on the steps before them."""
        self.data.qacc_warmstart[:] = 0.0

    def save_state(self) -> int:
        """Snapshot the simulation state in memory; returns its id."""
        state = np.empty(mujoco.mj_stateSize(self.m, _STATE))
        mujoco.mj_getState(self.m, self.data, state, _STATE)
        self._states.append(state)
        return len(self._states) - 1

    def restore_state(self, state_id: int) -> None:
        """Restore a snapshot exactly (one taken since the last body was added: the state's size is the
        model's)."""
        state = self._states[state_id]
        if len(state) != mujoco.mj_stateSize(self.m, _STATE):
            raise RuntimeError(f"state {state_id} was saved before bodies were added to the world; save it again")
        mujoco.mj_setState(self.m, self.data, state, _STATE)
        mujoco.mj_forward(self.m, self.data)
        self.stamp += 1

    def set_gravity(self, gravity) -> None:
        """World gravity vector in m/s^2."""
        self.m.opt.gravity[:] = gravity

    # -- bodies -------------------------------------------------------------------------------------
    def _joint(self, body: int) -> tuple[int, int]:
        joint = self.m.body_jntadr[body]
        return self.m.jnt_qposadr[joint], self.m.jnt_dofadr[joint]

    def body_pose(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World position (m) and orientation (xyzw) of a body's frame (an object's is its centre of mass)."""
        d = self.d
        return d.xpos[body].copy(), _xyzw(d.xquat[body])

    def body_velocity(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World linear (m/s) and angular (rad/s) velocity of a body's frame origin."""
        res = np.zeros(6)
        mujoco.mj_objectVelocity(self.m, self.data, mujoco.mjtObj.mjOBJ_BODY, body, res, 0)
        return res[3:].copy(), res[:3].copy()

    def set_body_pose(self, body: int, position, orientation, linear=(0.0, 0.0, 0.0),
                      angular=(0.0, 0.0, 0.0)) -> None:
        """Teleport a body to a world pose (m, xyzw) with the given world velocities (m/s, rad/s)."""
        m, d = self.m, self.data
        if body in self._static:
            m.body_pos[body], m.body_quat[body] = position, _wxyz(orientation)
        else:
            qpos, dof = self._joint(body)
            d.qpos[qpos:qpos + 3], d.qpos[qpos + 3:qpos + 7] = position, _wxyz(orientation)
            d.qvel[dof:dof + 3] = linear
            d.qvel[dof + 3:dof + 6] = quat_to_matrix(np.asarray(orientation, dtype=np.float64)).T @ np.asarray(angular)
        mujoco.mj_forward(m, d)

    def set_dynamics(self, body: int, link: int = -1, mass: float | None = None,
                     lateralFriction: float | None = None, rollingFriction: float | None = None,  # noqa: N803
                     **pybullet_contact) -> None:
        """World.set_dynamics's keywords (PyBullet's names): ``mass`` (kg; 0 holds a free body where it
        is, weightless, as PyBullet's static bodies), ``lateralFriction`` and ``rollingFriction`` (the
        sliding and rolling coefficients of its geoms). PyBullet's ``contactStiffness`` and
        ``contactDamping`` are not carried over: MuJoCo's soft contacts keep their defaults."""
        m = self.m
        target = link if link >= 0 else body
        if target in self._static:
            raise ValueError(f"body {target} was created static (mass 0); MuJoCo cannot give it dynamics")
        unknown = set(pybullet_contact) - {"contactStiffness", "contactDamping"}
        if unknown:
            raise ValueError(f"unknown dynamics {sorted(unknown)}; allowed: mass, lateralFriction, rollingFriction, "
                             "contactStiffness, contactDamping")
        if mass is not None:
            if mass == 0.0:
                m.body_gravcomp[target] = 1.0
                qpos, dof = self._joint(target)
                self.data.qvel[dof:dof + 6] = 0.0
            else:
                m.body_inertia[target] *= mass / m.body_mass[target]
                m.body_mass[target] = mass
                m.body_gravcomp[target] = 0.0
            self._set_const()
        geoms = np.flatnonzero(m.geom_bodyid == target)
        if lateralFriction is not None:
            m.geom_friction[geoms, 0] = lateralFriction
        if rollingFriction is not None:
            m.geom_friction[geoms, 2] = rollingFriction

    def apply_force(self, body: int, force, position, link: int = -1) -> None:
        """Apply a world-frame force (N) at a world point of a body (or of a hand link) for the next step."""
        mujoco.mj_applyFT(self.m, self.data, np.asarray(force, dtype=np.float64), np.zeros(3),
                          np.asarray(position, dtype=np.float64), link if link >= 0 else body, self.data.qfrc_applied)

    def apply_torque(self, body: int, torque) -> None:
        """Apply a world-frame torque (N m) to a body for the next step."""
        mujoco.mj_applyFT(self.m, self.data, np.zeros(3), np.asarray(torque, dtype=np.float64),
                          self.data.xipos[body].copy(), body, self.data.qfrc_applied)

    def touching_links_at(self, state_id: int, body: int, other: int) -> set[int]:
        """:meth:`touching_links` in the snapshot ``state_id`` the world was just restored to, as
        :meth:`dexndm_envs.world.World.touching_links_at` (the forward pass of :meth:`restore_state` has
        found its contacts already)."""
        return self.touching_links(body, other)

    def touching_links(self, body: int, other: int) -> set[int]:
        """The bodies of ``other``'s tree (a hand's links, by body id) in contact with ``body`` at the
        last step."""
        m, d = self.m, self.data
        root = m.body_rootid
        touching = set()
        for contact in d.contact[:d.ncon]:
            a, b = m.geom_bodyid[contact.geom1], m.geom_bodyid[contact.geom2]
            for mine, theirs in ((a, b), (b, a)):
                if mine == body and root[theirs] == root[other] and theirs != body:
                    touching.add(int(theirs))
        return touching

    def free_spheres(self, centres: np.ndarray, radius: float, other: int, margin: float,
                     limit: int | None = None) -> np.ndarray:
        """Whether a sphere of ``radius`` (m) at each of ``centres`` ([n, 3], world) stays more than
        ``margin`` (m) away from every geom of ``other``'s tree (boxes and spheres: the hand's). All
        points are tested at once, so ``limit`` (World's early stop) changes nothing here."""
        m, d = self.m, self.data
        centres = np.asarray(centres, dtype=np.float64)
        clear = np.ones(len(centres), dtype=bool)
        for g in np.flatnonzero(m.body_rootid[m.geom_bodyid] == m.body_rootid[other]):
            local = (centres - d.geom_xpos[g]) @ d.geom_xmat[g].reshape(3, 3)  # into the geom's frame
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
                outside = np.maximum(np.abs(local) - m.geom_size[g], 0.0)
                distance = np.linalg.norm(outside, axis=1)
            elif m.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE:
                distance = np.linalg.norm(local, axis=1) - m.geom_size[g][0]
            else:
                raise ValueError(f"free_spheres handles box and sphere geoms; geom {g} is of type {m.geom_type[g]}")
            clear &= distance > radius + margin
        return clear

    # -- camera -------------------------------------------------------------------------------------
    def render(self, eye, target, width: int = 480, height: int = 360, fov: float = 45.0) -> np.ndarray:
        """An RGB image (height, width, 3) uint8 seen from world point ``eye`` towards ``target``, by
        MuJoCo's offscreen renderer (it needs OpenGL: ``MUJOCO_GL=egl`` or ``osmesa``)."""
        if self._renderer is None or (self._renderer.width, self._renderer.height) != (width, height):
            try:
                self._renderer = mujoco.Renderer(self.m, height, width)
            except Exception as e:  # no OpenGL context of any kind on this machine
                raise RuntimeError(f"MuJoCo's renderer found no OpenGL ({type(e).__name__}); set MUJOCO_GL=egl or "
                                   "osmesa on a machine that has it, or render the PyBullet hand") from None
        self.m.vis.global_.fovy = fov
        offset = np.asarray(eye, dtype=np.float64) - np.asarray(target, dtype=np.float64)
        camera = mujoco.MjvCamera()
        camera.lookat[:], camera.distance = target, float(np.linalg.norm(offset))
        camera.azimuth = float(np.degrees(np.arctan2(offset[1], offset[0])))
        camera.elevation = float(np.degrees(np.arcsin(-offset[2] / camera.distance)))
        self._renderer.update_scene(self.data, camera)
        return self._renderer.render().copy()

    def close(self) -> None:
        """Release the renderer; safe to call twice."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class MujocoHand(ActuatedHand):
    """A fixed-base LEAP hand in a :class:`MujocoWorld`, driven by joint torques (as
    :class:`~dexndm_envs.robot.SimHand`; arrays in motor order).

    Args:
        world: an empty MuJoCo world (the hand is loaded first).
        position: palm-frame origin in the world, m.
        orientation: palm-frame orientation in the world, xyzw (the wrist orientation).
    """

    def __init__(self, world: MujocoWorld, position=(0.0, 0.0, 0.3), orientation=(0.0, 0.0, 0.0, 1.0)) -> None:
        super().__init__(world)
        self.position = np.asarray(position, dtype=np.float64)
        self.orientation = np.asarray(orientation, dtype=np.float64)
        self.body, self.link_index = world.load_hand(URDF_PATH, self.position, self.orientation)
        self.tip_ids = [self.link_index[name] for name in hand.FINGERTIP_LINKS]
        self._addresses: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def _qpos_dof(self) -> tuple[np.ndarray, np.ndarray]:
        """qpos and dof addresses of the 16 joints in motor order (looked up by name once)."""
        if self._addresses is None:
            m = self.world.m
            joints = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name) for name in hand.JOINT_NAMES]
            self._addresses = (m.jnt_qposadr[joints].copy(), m.jnt_dofadr[joints].copy())
        return self._addresses

    def set_palm_pose(self, position, orientation) -> None:
        """Move the (fixed) palm frame to a world pose: position in m, orientation xyzw."""
        self.position = np.asarray(position, dtype=np.float64)
        self.orientation = np.asarray(orientation, dtype=np.float64)
        self._reading = None
        m = self.world.m
        m.body_pos[self.body], m.body_quat[self.body] = self.position, _wxyz(self.orientation)
        mujoco.mj_forward(m, self.world.data)

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions (rad) and velocities (rad/s), motor order."""
        qpos, dof = self._qpos_dof
        d = self.world.d
        return d.qpos[qpos].copy(), d.qvel[dof].copy()

    def set_joint_state(self, q: np.ndarray, qdot: np.ndarray | None = None) -> None:
        """Teleport the joints to ``q`` (rad) with velocities ``qdot`` (rad/s, default 0)."""
        qpos, dof = self._qpos_dof
        d = self.world.d
        self._reading = None
        d.qpos[qpos] = q
        d.qvel[dof] = 0.0 if qdot is None else qdot
        mujoco.mj_forward(self.world.m, d)

    def apply_torques(self, tau: np.ndarray) -> None:
        """Command joint torques (N m, motor order) for the next physics step."""
        self.world.d.qfrc_applied[self._qpos_dof[1]] = tau

    def fingertip_positions(self) -> np.ndarray:
        """[4, 3] world positions (m) of the fingertip contact points: index, middle, ring, thumb."""
        d = self.world.d
        rot = d.xmat[self.tip_ids].reshape(-1, 3, 3)
        return d.xpos[self.tip_ids] + np.einsum("nij,nj->ni", rot, hand.FINGERTIP_OFFSETS)

