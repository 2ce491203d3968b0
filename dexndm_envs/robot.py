"""The simulated LEAP hand inside a :class:`~dexndm_envs.world.World`.

All arrays are in motor order (joint names "0".."15"); the PyBullet joint indices are looked up by
name once, at load time, and never leak out of this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import pybullet as pb

from dexndm_envs import hand
from dexndm_envs.actuators import Actuator
from dexndm_envs.rotations import quat_to_matrix
from dexndm_envs.urdf import URDF_PATH
from dexndm_envs.world import World

_DISTAL = ("dip", "tip")
SELF_COLLISION_PAIRS: frozenset[frozenset[str]] = frozenset(
    [frozenset((f"thumb_{a}", f"{f}_{b}")) for a in _DISTAL for f in ("index", "middle", "ring")
     for b in ("pip", *_DISTAL)]
    + [frozenset((f"{f}_{a}", f"{g}_{b}")) for f, g in (("index", "middle"), ("middle", "ring"))
       for a in _DISTAL for b in _DISTAL]
    + [frozenset(("palm", f"{f}_tip")) for f in hand.FINGERTIP_NAMES]
)
"""The link pairs of the hand that can collide with each other: the thumb against the fingers,
neighbouring fingers, and fingertips against the palm. Joint limits keep the other pairs apart (or
they only graze, e.g. a curled fingertip against its own knuckle); dropping them halves the cost of
collision detection."""


class ActuatedHand(ABC):
    """What a simulated hand does the same way in every simulator: the actuated substep. A subclass
    (:class:`SimHand`, :class:`~dexndm_envs.mujoco_world.MujocoHand`) reads and drives its joints
    (``joint_state``, ``apply_torques``) in its world, whose ``step`` advances the physics and whose
    ``stamp`` counts the changes made to it."""

    def __init__(self, world) -> None:
        self.world = world
        self._reading: tuple[int, np.ndarray, np.ndarray] | None = None  # (world stamp, q, qdot) after the last step

    @abstractmethod
    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions (rad) and velocities (rad/s), motor order."""

    @abstractmethod
    def apply_torques(self, tau: np.ndarray) -> None:
        """Command joint torques (N m, motor order) for the next physics step."""

    def actuated_step(self, actuator: Actuator, target: np.ndarray, enabled: np.ndarray | None = None,
                      loads: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One physics step of the hand driven by ``actuator`` towards ``target`` (rad, motor order).

        The one actuated substep of the project: the sim envs, the grasp generator and the virtual hand
        all step the hand through it. The joint state the actuator sees is the previous call's reading
        when nothing has changed the simulation since (no step or restore through the world, no
        :meth:`set_joint_state` or :meth:`set_palm_pose`), else a fresh read. ``enabled`` (16 bools)
        zeroes the torque of servos that are off; ``loads`` applies the scene's external forces after
        the torques are set. Returns the torques applied (N m) and the joint positions (rad) and
        velocities (rad/s) after the step; treat them as read-only (the next call reuses them).
        """
        reading = self._reading
        if reading is not None and reading[0] == self.world.stamp:
            q, qdot = reading[1], reading[2]
        else:
            q, qdot = self.joint_state()
        tau = actuator.torque(target, q, qdot)
        if enabled is not None:
            tau = tau * enabled
        self.apply_torques(tau)
        if loads is not None:
            loads()
        self.world.step()
        q, qdot = self.joint_state()
        self._reading = (self.world.stamp, q, qdot)
        return tau, q, qdot


class SimHand(ActuatedHand):
    """A fixed-base LEAP hand at a world pose in PyBullet, driven by joint torques.

    Args:
        world: the world to load into.
        position: palm-frame origin in the world, m.
        orientation: palm-frame orientation in the world, xyzw (the wrist orientation).
    """

    def __init__(self, world: World, position=(0.0, 0.0, 0.3), orientation=(0.0, 0.0, 0.0, 1.0)) -> None:
        super().__init__(world)
        self._c = world.client
        self.position = np.asarray(position, dtype=np.float64)
        self.orientation = np.asarray(orientation, dtype=np.float64)
        self.body = world.load_urdf(
            str(URDF_PATH), position, orientation, fixed_base=True,
            flags=(pb.URDF_USE_INERTIA_FROM_FILE | pb.URDF_USE_SELF_COLLISION
                   | pb.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT),
        )
        joint_index: dict[str, int] = {}
        link_index: dict[str, int] = {}
        for i in range(pb.getNumJoints(self.body, physicsClientId=self._c)):
            info = pb.getJointInfo(self.body, i, physicsClientId=self._c)
            joint_index[info[1].decode()] = i
            link_index[info[12].decode()] = i
        self.joint_ids = [joint_index[name] for name in hand.JOINT_NAMES]
        self.link_index = link_index
        self.tip_ids = [link_index[name] for name in hand.FINGERTIP_LINKS]
        # Release the default velocity motors so the joints respond to torques only.
        pb.setJointMotorControlArray(self.body, self.joint_ids, pb.VELOCITY_CONTROL,
                                     forces=[0.0] * hand.NUM_JOINTS, physicsClientId=self._c)
        for i in [-1, *self.joint_ids]:
            pb.changeDynamics(self.body, i, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0,
                              lateralFriction=hand.LINK_FRICTION, physicsClientId=self._c)
        self._filter_self_collisions()

    def set_palm_pose(self, position, orientation) -> None:
        """Move the (fixed) palm frame to a world pose: position in m, orientation xyzw.

        PyBullet places a base by its centre of mass, so the palm's inertial offset is added here.
        """
        self.position = np.asarray(position, dtype=np.float64)
        self.orientation = np.asarray(orientation, dtype=np.float64)
        self._reading = None
        offset = np.array(pb.getDynamicsInfo(self.body, -1, physicsClientId=self._c)[3])
        pb.resetBasePositionAndOrientation(self.body, self.position + quat_to_matrix(self.orientation) @ offset,
                                           self.orientation, physicsClientId=self._c)

    def _filter_self_collisions(self) -> None:
        """Allow self-collision only between the pairs of :data:`SELF_COLLISION_PAIRS`."""
        names = {-1: "palm", **{i: name for name, i in self.link_index.items()}}
        links = sorted(names)
        for k, a in enumerate(links):
            for b in links[k + 1:]:
                if frozenset((names[a], names[b])) not in SELF_COLLISION_PAIRS:
                    pb.setCollisionFilterPair(self.body, self.body, a, b, 0, physicsClientId=self._c)

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions (rad) and velocities (rad/s), motor order."""
        states = pb.getJointStates(self.body, self.joint_ids, physicsClientId=self._c)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def set_joint_state(self, q: np.ndarray, qdot: np.ndarray | None = None) -> None:
        """Teleport the joints to ``q`` (rad) with velocities ``qdot`` (rad/s, default 0)."""
        qdot = np.zeros(hand.NUM_JOINTS) if qdot is None else qdot
        self._reading = None
        pb.resetJointStatesMultiDof(self.body, self.joint_ids, [[float(x)] for x in q],
                                    targetVelocities=[[float(v)] for v in qdot], physicsClientId=self._c)

    def apply_torques(self, tau: np.ndarray) -> None:
        """Command joint torques (N m, motor order) for the next physics step."""
        pb.setJointMotorControlArray(self.body, self.joint_ids, pb.TORQUE_CONTROL, forces=tau.tolist(),
                                     physicsClientId=self._c)

    def fingertip_positions(self) -> np.ndarray:
        """[4, 3] world positions (m) of the fingertip contact points: index, middle, ring, thumb."""
        states = pb.getLinkStates(self.body, self.tip_ids, computeForwardKinematics=1, physicsClientId=self._c)
        pos = np.array([s[4] for s in states])
        rot = quat_to_matrix(np.array([s[5] for s in states]))
        return pos + np.einsum("nij,nj->ni", rot, hand.FINGERTIP_OFFSETS)
