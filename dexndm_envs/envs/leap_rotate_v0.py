"""``DexNDM/LeapRotate-v0``: rotate an object in the LEAP hand about a target axis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from dexndm_envs import hand, interface
from dexndm_envs.actuators import ActuatorSpec, IdealPD
from dexndm_envs.envs.hand_env import HAND_POSITION, LeapHandEnv
from dexndm_envs.gap import GapProfile
from dexndm_envs.grasps import GraspConfig, GraspSet, cached_grasps
from dexndm_envs.metrics import CONTROL_HZ, EpisodeMetrics, off_axis_velocity
from dexndm_envs.objects import ObjectSpec, create_body, resolve_objects
from dexndm_envs.poses import WRISTS, parse_axis, parse_wrist, sample_axis
from dexndm_envs.randomization import EpisodeParams, Randomization
from dexndm_envs.robot import SimHand
from dexndm_envs.rotations import quat_multiply, quat_to_matrix
from dexndm_envs.world import GRAVITY, World

PRIVILEGED_DIM = interface.PROPRIO_DIM + 13 + 12 + 4 + 8
_PARK = np.array([0.0, 0.0, -50.0])


def _create_bodies(world: World, objects: list[ObjectSpec]) -> list[int]:
    """One body per object, each at its own parking spot."""
    return [create_body(world, s, position=_PARK + [i, 0, 0]) for i, s in enumerate(objects)]


def _park(world: World, bodies: list[int]) -> None:
    """Move every object out of the way (they are static while parked, see _activate)."""
    for i, b in enumerate(bodies):
        world.set_body_pose(b, _PARK + [i, 0, 0], (0, 0, 0, 1))


def _activate(world: World, bodies: list[int], obj: int, mass: float, friction: float) -> None:
    """Make object ``obj`` dynamic with the given mass (kg) and friction; the others static (mass 0),
    so parked objects cost nothing and do not fall."""
    for i, b in enumerate(bodies):
        if i != obj:
            world.set_dynamics(b, mass=0.0)
    world.set_dynamics(bodies[obj], mass=mass, lateralFriction=friction)


def _prepare_generation(world: World, bodies: list[int], obj: int, spec: ObjectSpec) -> None:
    """The scene before object ``obj``'s grasps are looked up or generated: all parked, ``obj`` active
    with its nominal mass and friction."""
    _park(world, bodies)
    _activate(world, bodies, obj, spec.mass, spec.friction)


class LeapRotateEnv(LeapHandEnv):
    """In-hand rotation with the LEAP hand in PyBullet.

    ## Description
    A fixed LEAP hand at one of the paper's six wrist orientations (or any quaternion) holds an object
    from a cached stable grasp; the policy moves the 16 joint targets to rotate the object about a target
    axis given in the world frame. One policy step is 1/20 s: six 120 Hz physics steps with the target
    held, joint torques from the actuator model (ideal torque PD by default).

    ## Action Space
    ``Box(-1, 1, (16,), float32)`` in motor order: ``target_t = clip(target_{t-1} + a_t / 24, limits)``.
    NaN or inf actions raise ValueError. ``set_target_correction(c)`` adds c (rad) to the executed target
    (``info["target"]``); observations keep the policy's own targets (``info["policy_target"]``).

    ## Observation Space
    ``obs_mode="proprio"`` (deployable, 327 floats): the last 10 (q, target) pairs, the wrist quaternion
    and the axis; layout in :mod:`dexndm_envs.interface`. ``obs_mode="privileged"`` (364 floats) appends,
    all in the world frame with positions relative to the palm origin: object position (3), orientation
    xyzw (4), linear (3) and angular (3) velocity, fingertip contact points (4 x 3: index, middle, ring,
    thumb), fingertip-object contact flags (4), and the episode's physical parameters: object mass (kg),
    friction, centre-of-mass offset (3, m) and extents (3, m).

    ## Rewards
    ``r = w_rot clip(omega . k, -c, c) - w_rotp |omega x k|_1 - w_linvel |v|^2 - w_pose |q - q_0|^2
    - w_work sum |tau * qdot| - w_torque |tau|^2`` with omega, v the object's angular / linear velocity,
    k the axis, q_0 the grasp's joint positions, tau and qdot from the last physics step. The paper writes
    the work term as tau . qdot; we penalise its magnitude so negative work is not rewarded.
    ``rotate_reward_rate="step_mean"`` replaces omega . k in the first term by the step's mean rate about
    the axis (the step's rotation increment, the one Rot sums, times 20 Hz): the velocity sampled at the
    end of a 50 ms step misses rotation that comes in jerks within the step (docs/decisions.md).

    ## Starting State
    A grasp drawn from the (object, wrist) grasp cache (:mod:`dexndm_envs.grasps`), restored from a
    saved simulator state. Object, wrist ("random") and axis ("random", "general") are drawn per reset
    from the env's ``np_random``.

    ## Episode End
    Terminated when the object is further than ``fall_distance`` from its grasp position relative to
    the hand; truncated after 400 steps (20 s) by the registered TimeLimit.

    ## Arguments
    object, wrist, axis, obs_mode, actuator (a name, {"name": ..., **parameters} or an Actuator: see
    :func:`dexndm_envs.actuators.make_actuator`), gap (a reality-gap profile: a built-in name such as
    "leap_xc330", a JSON path or a GapProfile; it sets the actuator and scales the object's mass and
    friction, see :mod:`dexndm_envs.gap`), randomize (bool or a Randomization), the reward weights,
    rotate_reward_rate ("instant" or "step_mean", see Rewards), fall_distance (m), grasp_config,
    render_mode ("rgb_array" headless, or "human" for the GUI).

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        object: str | list[str] = "cylinder",
        wrist: str | Any = "palm_up",
        axis: str | Any = "+z",
        obs_mode: str = "proprio",
        actuator: ActuatorSpec = "ideal_pd",
        gap: str | Path | GapProfile | None = None,
        randomize: bool | Randomization = False,
        rotate_reward_weight: float = 1.0,
        rotate_reward_clip: float = 0.5,
        rotate_reward_rate: str = "instant",
        rotp_penalty_weight: float = 0.1,
        linvel_penalty_weight: float = 0.3,
        pose_penalty_weight: float = 0.3,
        work_penalty_weight: float = 2.0,
        torque_penalty_weight: float = 0.1,
        fall_distance: float = 0.06,
        grasp_config: GraspConfig | None = None,
        render_mode: str | None = None,
    ) -> None:
        if obs_mode not in ("proprio", "privileged"):
            raise ValueError(f"unknown obs_mode {obs_mode!r}; allowed: proprio, privileged")
        self.objects: list[ObjectSpec] = resolve_objects(object)
        self.wrist_spec = parse_wrist(wrist)
        self.axis_spec = parse_axis(axis)
        self.obs_mode = obs_mode
        self._init_hand(actuator, gap, render_mode)
        # Grasps belong to the task, not to the actuator: the simulator's nominal PD makes them whatever
        # actuator or gap profile plays the episode (a real hand starts from sim-made grasps), so a
        # seed starts from the same grasp under every actuator (paired comparisons).
        self._grasp_actuator = IdealPD()
        self.randomization = Randomization() if randomize is True else (randomize or None)
        self.weights = dict(rot=rotate_reward_weight, rotp=rotp_penalty_weight, linvel=linvel_penalty_weight,
                            pose=pose_penalty_weight, work=work_penalty_weight, torque=torque_penalty_weight)
        self.reward_clip = rotate_reward_clip
        if rotate_reward_rate not in ("instant", "step_mean"):
            raise ValueError(f"unknown rotate_reward_rate {rotate_reward_rate!r}; allowed: instant, step_mean")
        self.reward_rate = rotate_reward_rate
        self.fall_distance = fall_distance
        self.grasp_config = grasp_config or GraspConfig()

        self.observation_space = (interface.proprio_space() if obs_mode == "proprio"
                                  else spaces.Box(-np.inf, np.inf, (PRIVILEGED_DIM,), dtype=np.float32))

        self.bodies = _create_bodies(self.world, self.objects)
        self._grasps: dict[tuple[int, str], GraspSet] = {}
        self._states: dict[tuple[int, str, int], int] = {}
        self._obj = 0
        self._metrics: EpisodeMetrics | None = None

    # -- episode set-up ------------------------------------------------------------------------------
    def _wrist(self) -> tuple[str, np.ndarray]:
        if isinstance(self.wrist_spec, np.ndarray):
            return "custom", self.wrist_spec
        name = self.wrist_spec if self.wrist_spec != "random" else list(WRISTS)[self.np_random.integers(len(WRISTS))]
        return name, WRISTS[name]

    def _grasp_set(self, obj: int, wrist_key: str) -> GraspSet:
        key = (obj, wrist_key)
        if key not in self._grasps:
            spec = self.objects[obj]
            _prepare_generation(self.world, self.bodies, obj, spec)
            self._grasp_actuator.reset(np.zeros(hand.NUM_JOINTS))  # nominal gains
            self._grasps[key] = cached_grasps(self.world, self.hand, self.bodies[obj], spec, self._grasp_actuator,
                                              self.grasp_config, scratch=lambda: self._scratch_scene(obj))
        return self._grasps[key]

    def _scratch_scene(self, obj: int) -> tuple[World, SimHand, int]:
        """A throwaway world built as this env's was (the hand, then every object) and set up the same
        way for generating object ``obj``'s grasps at the current wrist: (world, hand, obj's body)."""
        world = World(physics=self.world.physics)
        robot = SimHand(world, HAND_POSITION)
        bodies = _create_bodies(world, self.objects)
        robot.set_palm_pose(HAND_POSITION, self.hand.orientation)
        _prepare_generation(world, bodies, obj, self.objects[obj])
        return world, robot, bodies[obj]

    def _restore_grasp(self, obj: int, wrist_key: str, wrist_quat: np.ndarray, index: int) -> None:
        """Put the world in the saved state of one grasp (saving it the first time it is used)."""
        key = (obj, wrist_key, index)
        if key in self._states:
            self.world.restore_state(self._states[key])
            return
        grasps = self._grasps[(obj, wrist_key)]
        _park(self.world, self.bodies)
        rot = quat_to_matrix(wrist_quat)
        self.hand.set_joint_state(grasps.q[index])
        self.world.set_body_pose(self.bodies[obj], HAND_POSITION + rot @ grasps.object_pos[index],
                                 quat_multiply(wrist_quat, grasps.object_quat[index]))
        self._states[key] = self.world.save_state()
        self.world.restore_state(self._states[key])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        wrist_name, wrist_quat = self._wrist()
        wrist_key = wrist_name if wrist_name != "custom" else ",".join(f"{x:.6f}" for x in wrist_quat)
        self._obj = int(rng.integers(len(self.objects)))
        self.axis = sample_axis(self.axis_spec, rng)
        spec = self.objects[self._obj]
        self.hand.set_palm_pose(HAND_POSITION, wrist_quat)
        grasps = self._grasp_set(self._obj, wrist_key)
        index = int(rng.integers(len(grasps)))
        self.grasps = grasps  # this episode's grasp set (its .stats say how it was generated)
        self._restore_grasp(self._obj, wrist_key, wrist_quat, index)
        self.wrist_name, self.wrist_quat = wrist_name, np.asarray(wrist_quat, dtype=np.float64)
        self._wrist_rot = quat_to_matrix(self.wrist_quat)

        r = self.randomization
        self.params = EpisodeParams.sample(r, rng) if r else EpisodeParams.nominal(spec.mass, spec.friction)
        if self.gap:
            self.params.mass, self.params.friction = self.gap.object_params(self.params.mass, self.params.friction)
        body = self.bodies[self._obj]
        _activate(self.world, self.bodies, self._obj, self.params.mass, self.params.friction)
        self.actuator.reset(grasps.target[index], self.params.gain_scale, rng)

        self.q_init = grasps.q[index].copy()
        self._grasp_pos_local = grasps.object_pos[index].copy()
        self._start(grasps.target[index], self._observe_q(self.hand.joint_state()[0]))
        self._metrics = EpisodeMetrics(self.axis, reward_clip=self.reward_clip)
        self._metrics.reset(self.world.body_pose(body)[1])
        if self.render_mode == "human":
            self.render()
        info = {"object": spec.name, "wrist": wrist_name, "axis": self.axis.copy(), "grasp_index": index}
        return self._observation(), info

    # -- stepping -------------------------------------------------------------------------------------
    def _observe_q(self, q: np.ndarray) -> np.ndarray:
        """The joint reading: the actuator's encoders, plus randomization noise when enabled."""
        q = self.actuator.measure(q)
        r = self.randomization
        if not r:
            return q
        return q + self.np_random.uniform(-r.joint_noise, r.joint_noise, hand.NUM_JOINTS)

    def step(self, action):
        body = self.bodies[self._obj]
        r = self.randomization
        push = None
        if r:
            # The centre-of-mass offset as the gravity torque about the geometric centre, and the
            # random push, both fixed for this policy step (the object turns little in 50 ms).
            com_arm = quat_to_matrix(self.world.body_pose(body)[1]) @ self.params.com
            com_torque = np.cross(com_arm, [0.0, 0.0, -GRAVITY * self.params.mass])
            force = None
            if self.np_random.random() < r.force_prob:
                d = self.np_random.normal(size=3)
                force = r.force_scale * self.params.mass * d / np.linalg.norm(d)

            def push() -> None:
                self.world.apply_torque(body, com_torque)
                if force is not None:
                    self.world.apply_force(body, force, self.world.body_pose(body)[0] + com_arm)

        executed, tau, q, qdot = self._advance(action, push)
        obj_pos, obj_quat = self.world.body_pose(body)
        linvel, angvel = self.world.body_velocity(body)

        rel = self._wrist_rot.T @ (obj_pos - HAND_POSITION) - self._grasp_pos_local
        fell = bool(rel @ rel > self.fall_distance**2)
        step_metrics = self._metrics.update(obj_quat, angvel, fell)

        w = self.weights
        terms = {
            "rotate_reward": (step_metrics["rotr_step"] if self.reward_rate == "instant" else
                              min(max(step_metrics["rot_step"] * CONTROL_HZ, -self.reward_clip), self.reward_clip)),
            "rotp_penalty": sum(abs(v) for v in off_axis_velocity(angvel, self.axis)),
            "linvel_penalty": float(linvel @ linvel),
            "pose_penalty": float((q - self.q_init) @ (q - self.q_init)),
            "work_penalty": float(np.abs(tau * qdot).sum()),
            "torque_penalty": float(tau @ tau),
        }
        reward = (w["rot"] * terms["rotate_reward"] - w["rotp"] * terms["rotp_penalty"]
                  - w["linvel"] * terms["linvel_penalty"] - w["pose"] * terms["pose_penalty"]
                  - w["work"] * terms["work_penalty"] - w["torque"] * terms["torque_penalty"])

        self._history.push(self._observe_q(q), self.target)
        info = {**step_metrics, **terms, "fell": fell, "target": executed, "policy_target": self.target.copy()}
        if fell:
            info["episode_metrics"] = self._metrics.summary()
        if self.render_mode == "human":
            self.render()
        return self._observation(), float(reward), fell, False, info

    def episode_metrics(self) -> dict[str, float]:
        """Rot, TTF, RotR, RotP of the episode so far (see :mod:`dexndm_envs.metrics`)."""
        return self._metrics.summary()

    def _observation(self) -> np.ndarray:
        proprio = self._history.observation(self.wrist_quat, self.axis)
        if self.obs_mode == "proprio":
            return proprio
        body = self.bodies[self._obj]
        pos, quat = self.world.body_pose(body)
        lin, ang = self.world.body_velocity(body)
        tips = self.hand.fingertip_positions() - HAND_POSITION
        touching = {c[4] for c in self.world.contacts(body, self.hand.body)}
        contacts = [float(t in touching) for t in self.hand.tip_ids]
        p = self.params
        physical = [p.mass, p.friction, *p.com, *self.objects[self._obj].size]
        return np.concatenate([proprio, pos - HAND_POSITION, quat, lin, ang, tips.ravel(), contacts,
                               physical]).astype(np.float32)

    # -- rendering ------------------------------------------------------------------------------------
    def render(self):
        if self.render_mode is None:
            return None
        target = HAND_POSITION + self._wrist_rot @ self._grasp_pos_local
        # Look into the palm from a three-quarter view, so the grasped object is in sight.
        view = self._wrist_rot @ np.array([0.5, -0.6, -1.0]) + np.array([0.0, 0.0, 0.4])
        eye = target + 0.32 * view / np.linalg.norm(view)
        if self.render_mode == "human":
            self.world.aim_gui_camera(eye, target)
            return None
        return self.world.render(eye, target)
