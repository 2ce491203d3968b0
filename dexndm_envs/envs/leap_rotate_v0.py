"""``DexNDM/LeapRotate-v0``: rotate an object in the LEAP hand about a target axis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs import hand, interface
from dexndm_envs.actuators import ActuatorSpec, IdealPD
from dexndm_envs.envs.hand_env import HAND_POSITION, LeapHandEnv
from dexndm_envs.envs.object_pool import ObjectPool
from dexndm_envs.gap import GapProfile
from dexndm_envs.grasps import GraspConfig, GraspSet, cached_grasps
from dexndm_envs.metrics import CONTROL_HZ, EpisodeMetrics, clip_rate, off_axis_velocity
from dexndm_envs.objects import resolve_objects
from dexndm_envs.poses import WRISTS, parse_axis, parse_wrist, sample_axis
from dexndm_envs.randomization import EpisodeParams, Perturbation, Randomization
from dexndm_envs.robot import SimHand
from dexndm_envs.rotations import quat_multiply, quat_to_matrix
from dexndm_envs.world import World

GRASP_SETTLE_STEPS = 30
"""Physics steps (0.25 s) a grasp made in another engine is held at its target before the episode's
saved start state is taken: contacts find their own depth in the new engine."""
REWARD_TERMS = ("reward_rotate", "reward_rotp", "reward_linvel", "reward_pose", "reward_work", "reward_torque",
                "reward_action_rate", "reward_fall", "reward_overspeed", "reward_unsteady")
"""The ``info`` keys of the signed, weighted reward terms, whose sum is the reward."""


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
    and the axis (:data:`~dexndm_envs.interface.PROPRIO_LAYOUT`). ``obs_mode="privileged"`` (364 floats)
    appends, all in the world frame with positions relative to the palm origin: object position (3),
    orientation xyzw (4), linear (3) and angular (3) velocity, fingertip contact points (4 x 3: index,
    middle, ring, thumb), fingertip-object contact flags (4), and the episode's physical parameters:
    object mass (kg), friction, centre-of-mass offset (3, m) and extents (3, m)
    (:data:`~dexndm_envs.interface.PRIVILEGED_LAYOUT`).

    ## Rewards
    ``r = w_rot clip(omega . k, -c, c) - w_rotp |omega x k|_1 - w_linvel |v|^2 - w_pose |q - q_0|^2
    - w_work sum |tau * qdot| - w_torque |tau|^2 - w_rate |a_t - a_{t-1}|^2 - w_fall [fell]
    - w_over |omega . k - clip(omega . k, -c, c)| - w_unsteady |20 Hz d_theta - clip(omega . k, -c, c)|``
    with omega, v the object's angular / linear velocity, k the axis, d_theta the step's rotation about k
    (the increment Rot sums), q_0 the grasp's joint positions, tau and qdot from the last physics step, a
    the action (a_{-1} = 0) and [fell] 1 on the step the object falls. The last four are not the
    paper's (their weights default to 0): the overspeed term charges the part of the rate the clip cuts
    off (either way), so a turn that comes in flicks costs where the clip alone only stops paying; the
    unsteady term charges the difference between the step's mean rate and the clipped rate sampled at
    its end, which is zero for a steady turn slower than the clip and sums, over an episode, to at
    least what steadiness (RotR / (20 Rot)) loses: a flick above the clip, a jerk inside the step; the action-rate
    term asks for steady target motion (a is the target's velocity, so it penalises the target's
    acceleration), and the fall term
    makes a drop cost more than the reward it forgoes (the public LEAP sim charges 10 for it, MuJoCo
    Playground 100). The paper writes
    the work term as tau . qdot; we penalise its magnitude so negative work is not rewarded.
    ``rotate_reward_rate="step_mean"`` replaces omega . k in the first and last terms by the step's mean
    rate about the axis (the step's rotation increment, the one Rot sums, times 20 Hz): the velocity sampled at the
    end of a 50 ms step misses rotation that comes in jerks within the step (docs/decisions.md).
    Each signed, weighted term is in ``info`` (:data:`REWARD_TERMS`: ``reward_rotate``, ``reward_rotp``,
    ``reward_linvel``, ``reward_pose``, ``reward_work``, ``reward_torque``, ``reward_action_rate``,
    ``reward_fall``, ``reward_overspeed``, ``reward_unsteady``; penalties are <= 0); the reward is their sum.
    The weights are attributes of the env under their argument names (``env.rotate_reward_weight``...).

    ## Starting State
    A grasp drawn from the (object, wrist) grasp cache (:mod:`dexndm_envs.grasps`), restored from a
    saved simulator state. Object, wrist ("random") and axis ("random", "general") are drawn per reset
    from the env's ``np_random``.

    ## Info
    Every step: the metrics' step values (``rot_step``, ``rot``, ``rate_step``, ``rotr_step``, ``rotr``, ``rotp_step``;
    :mod:`dexndm_envs.metrics`), the ``reward_*`` terms, ``fell``, ``target`` (the executed target) and
    ``policy_target`` (rad, motor order); ``episode_metrics`` when the object falls.

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
        action_rate_penalty_weight: float = 0.0,
        fall_penalty_weight: float = 0.0,
        overspeed_penalty_weight: float = 0.0,
        unsteady_penalty_weight: float = 0.0,
        fall_distance: float = 0.06,
        grasp_config: GraspConfig | None = None,
        render_mode: str | None = None,
    ) -> None:
        if obs_mode not in ("proprio", "privileged"):
            raise ValueError(f"unknown obs_mode {obs_mode!r}; allowed: proprio, privileged")
        if rotate_reward_rate not in ("instant", "step_mean"):
            raise ValueError(f"unknown rotate_reward_rate {rotate_reward_rate!r}; allowed: instant, step_mean")
        specs = resolve_objects(object)
        self.wrist_spec = parse_wrist(wrist)
        self.axis_spec = parse_axis(axis)
        self.obs_mode = obs_mode
        fixed_wrist = (self.wrist_spec if isinstance(self.wrist_spec, np.ndarray)
                       else None if self.wrist_spec == "random" else WRISTS[self.wrist_spec])
        self._init_hand(actuator, gap, render_mode, fixed_wrist,
                        self.axis_spec if isinstance(self.axis_spec, np.ndarray) else None)
        # Grasps belong to the task, not to the actuator: the simulator's nominal PD makes them whatever
        # actuator or gap profile plays the episode (a real hand starts from sim-made grasps), so a
        # seed starts from the same grasp under every actuator (paired comparisons).
        self._grasp_actuator = IdealPD()
        self.randomization = Randomization() if randomize is True else (randomize or None)
        self.rotate_reward_weight = rotate_reward_weight
        self.rotate_reward_clip = rotate_reward_clip
        self.rotate_reward_rate = rotate_reward_rate
        self.rotp_penalty_weight = rotp_penalty_weight
        self.linvel_penalty_weight = linvel_penalty_weight
        self.pose_penalty_weight = pose_penalty_weight
        self.work_penalty_weight = work_penalty_weight
        self.torque_penalty_weight = torque_penalty_weight
        self.action_rate_penalty_weight = action_rate_penalty_weight
        self.fall_penalty_weight = fall_penalty_weight
        self.overspeed_penalty_weight = overspeed_penalty_weight
        self.unsteady_penalty_weight = unsteady_penalty_weight
        self._last_action = np.zeros(hand.NUM_JOINTS)
        self.fall_distance = fall_distance
        self.grasp_config = grasp_config or GraspConfig()

        self.observation_space = interface.proprio_space() if obs_mode == "proprio" else interface.privileged_space()

        self.objects = ObjectPool(self.world, specs)
        self._grasps: dict[tuple[int, str], GraspSet] = {}
        self._states: dict[tuple[int, str, int], int] = {}
        self._metrics: EpisodeMetrics | None = None
        self._perturbation: Perturbation | None = None

    # -- episode set-up ------------------------------------------------------------------------------
    def _wrist(self) -> tuple[str, np.ndarray]:
        if isinstance(self.wrist_spec, np.ndarray):
            return "custom", self.wrist_spec
        name = self.wrist_spec if self.wrist_spec != "random" else list(WRISTS)[self.np_random.integers(len(WRISTS))]
        return name, WRISTS[name]

    def _grasp_set(self, obj: int, wrist_key: str) -> GraspSet:
        key = (obj, wrist_key)
        if key not in self._grasps:
            self.objects.prepare_generation(obj)
            self._grasp_actuator.reset(np.zeros(hand.NUM_JOINTS))  # nominal gains
            self._grasps[key] = cached_grasps(self.objects[obj], self.hand.orientation, self._grasp_actuator,
                                              self.grasp_config, scene=lambda: self._scratch_scene(obj))
        return self._grasps[key]

    def _scratch_scene(self, obj: int) -> tuple[World, SimHand, int]:
        """A throwaway PyBullet world built as this env's is (the hand, then every object) and set up the
        same way for generating object ``obj``'s grasps at the current wrist: (world, hand, obj's body)."""
        world = World()
        robot = SimHand(world, HAND_POSITION)
        pool = ObjectPool(world, list(self.objects))
        robot.set_palm_pose(HAND_POSITION, self.hand.orientation)
        pool.prepare_generation(obj)
        return world, robot, pool.bodies[obj]

    def _restore_grasp(self, obj: int, wrist_key: str, wrist_quat: np.ndarray, index: int) -> int:
        """Put the world in the saved state of one grasp (saving it the first time it is used); returns the
        state's id."""
        key = (obj, wrist_key, index)
        if key in self._states:
            self.world.restore_state(self._states[key])
            return self._states[key]
        grasps = self._grasps[(obj, wrist_key)]
        self.objects.park()
        rot = quat_to_matrix(wrist_quat)
        self.hand.set_joint_state(grasps.q[index])
        self.world.set_body_pose(self.objects.bodies[obj], HAND_POSITION + rot @ grasps.object_pos[index],
                                 quat_multiply(wrist_quat, grasps.object_quat[index]))
        if self.world.simulator != World.simulator:  # grasps are made in PyBullet: let another engine's contacts settle
            # from the grasp alone, whatever this env simulated before: no warm start, nominal object
            self.world.clear_warmstart()
            self.objects.activate(obj, self.objects[obj].mass, self.objects[obj].friction)
            self._grasp_actuator.reset(grasps.target[index])
            for _ in range(GRASP_SETTLE_STEPS):
                self.hand.actuated_step(self._grasp_actuator, grasps.target[index])
        self._states[key] = self.world.save_state()
        self.world.restore_state(self._states[key])
        return self._states[key]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        wrist_name, wrist_quat = self._wrist()
        wrist_key = wrist_name if wrist_name != "custom" else ",".join(f"{x:.6f}" for x in wrist_quat)
        obj = int(rng.integers(len(self.objects)))
        self.axis = sample_axis(self.axis_spec, rng)
        spec = self.objects[obj]
        self.hand.set_palm_pose(HAND_POSITION, wrist_quat)
        grasps = self._grasp_set(obj, wrist_key)
        index = int(rng.integers(len(grasps)))
        self.grasps = grasps  # this episode's grasp set (its .stats say how it was generated)
        state = self._restore_grasp(obj, wrist_key, wrist_quat, index)
        # the grasp's contacts for the first privileged observation (the engine's are the last step's)
        touching = (self.world.touching_links_at(state, self.objects.bodies[obj], self.hand.body)
                    if self.obs_mode == "privileged" else None)
        self.wrist_name, self.wrist_quat = wrist_name, np.asarray(wrist_quat, dtype=np.float64)
        self._wrist_rot = quat_to_matrix(self.wrist_quat)

        r = self.randomization
        self.params = EpisodeParams.sample(r, rng) if r else EpisodeParams.nominal(spec.mass, spec.friction)
        if self.gap:
            self.params.mass, self.params.friction = self.gap.object_params(self.params.mass, self.params.friction)
        self.objects.activate(obj, self.params.mass, self.params.friction)
        self._perturbation = Perturbation(self.world, self.objects.body, self.params, r, rng) if r else None
        self.actuator.reset(grasps.target[index], self.params.gain_scale, rng)

        self.q_init = grasps.q[index].copy()
        self._grasp_pos_local = grasps.object_pos[index].copy()
        self._start(grasps.target[index], self._observe_q(self.hand.joint_state()[0]))
        pose = self.objects.pose()
        self._metrics = EpisodeMetrics(self.axis, reward_clip=self.rotate_reward_clip)
        self._metrics.reset(pose[1])
        self._last_action = np.zeros(hand.NUM_JOINTS)
        if self.render_mode == "human":
            self.render()
        info = {"object": spec.name, "wrist": wrist_name, "axis": self.axis.copy(), "grasp_index": index}
        return self._observation(pose, touching=touching), info

    # -- stepping -------------------------------------------------------------------------------------
    def _observe_q(self, q: np.ndarray) -> np.ndarray:
        """The joint reading: the actuator's encoders, plus randomization noise when enabled."""
        q = self.actuator.measure(q)
        r = self.randomization
        if not r:
            return q
        return q + self.np_random.uniform(-r.joint_noise, r.joint_noise, hand.NUM_JOINTS)

    def apply_loads(self) -> None:
        """The randomized episode's loads on the object (:class:`~dexndm_envs.randomization.Perturbation`),
        if any, for the next physics step."""
        if self._perturbation is not None:
            self._perturbation.apply()

    def step(self, action):
        if self._perturbation is not None:
            self._perturbation.begin_step()
        executed, tau, q, qdot = self._advance(action, self.apply_loads if self._perturbation is not None else None)
        pose = self.objects.pose()
        velocity = self.objects.velocity()
        obj_pos, obj_quat = pose
        linvel, angvel = velocity

        rel = self._wrist_rot.T @ (obj_pos - HAND_POSITION) - self._grasp_pos_local
        fell = bool(rel @ rel > self.fall_distance**2)
        step_metrics = self._metrics.update(obj_quat, angvel, fell)
        action = np.asarray(action, dtype=float)  # finite and in shape: _advance checked it
        terms = self._reward_terms(step_metrics, angvel, linvel, q, tau, qdot, action - self._last_action, fell)
        self._last_action = action
        reward = 0.0
        for value in terms.values():
            reward += value

        self._history.push(self._observe_q(q), self.target)
        info = {**step_metrics, **terms, "fell": fell, "target": executed, "policy_target": self.target.copy()}
        if fell:
            info["episode_metrics"] = self._metrics.summary()
        if self.render_mode == "human":
            self.render()
        return self._observation(pose, velocity), float(reward), fell, False, info

    def _reward_terms(self, step_metrics: dict[str, float], angvel: np.ndarray, linvel: np.ndarray, q: np.ndarray,
                      tau: np.ndarray, qdot: np.ndarray, action_change: np.ndarray, fell: bool) -> dict[str, float]:
        """The signed, weighted reward terms of a step (``REWARD_TERMS``; the reward is their sum, in
        that order): the rotation reward (>= 0 when turning the right way) and nine penalties (<= 0).

        ``angvel`` (rad/s) and ``linvel`` (m/s): the object's velocities at the end of the step (world
        frame); ``q`` (rad), ``qdot`` (rad/s), ``tau`` (N m): the joints and torques of the last physics
        step (motor order); ``action_change``: a_t - a_{t-1} (motor order); ``fell``: the object fell
        this step. Formulas in the class docstring (Rewards).
        """
        instant = self.rotate_reward_rate == "instant"
        mean_rate = step_metrics["rot_step"] * CONTROL_HZ
        raw = step_metrics["rate_step"] if instant else mean_rate
        rate = clip_rate(raw, self.rotate_reward_clip)
        sampled = step_metrics["rotr_step"]  # the clipped end-of-step rate RotR counts
        pose_error = q - self.q_init
        return {
            "reward_rotate": self.rotate_reward_weight * rate,
            "reward_rotp": -(self.rotp_penalty_weight * sum(abs(v) for v in off_axis_velocity(angvel, self.axis))),
            "reward_linvel": -(self.linvel_penalty_weight * float(linvel @ linvel)),
            "reward_pose": -(self.pose_penalty_weight * float(pose_error @ pose_error)),
            "reward_work": -(self.work_penalty_weight * float(np.abs(tau * qdot).sum())),
            "reward_torque": -(self.torque_penalty_weight * float(tau @ tau)),
            "reward_action_rate": -(self.action_rate_penalty_weight * float(action_change @ action_change)),
            "reward_fall": -self.fall_penalty_weight if fell else 0.0,
            "reward_overspeed": -(self.overspeed_penalty_weight * abs(raw - rate)),
            "reward_unsteady": -(self.unsteady_penalty_weight * abs(mean_rate - sampled)),
        }

    def episode_metrics(self) -> dict[str, float]:
        """Rot, TTF, RotR, RotP of the episode so far (see :mod:`dexndm_envs.metrics`)."""
        return self._metrics.summary()

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The object's position (3, m) and orientation (xyzw), world frame."""
        return self.objects.pose()

    def _observation(self, pose: tuple[np.ndarray, np.ndarray], velocity: tuple[np.ndarray, np.ndarray] | None = None,
                     touching: set[int] | None = None) -> np.ndarray:
        """The observation, given the object's current pose (and velocity and the hand's links touching it,
        read here when not given)."""
        proprio = self._history.observation(self.wrist_quat, self.axis)
        if self.obs_mode == "proprio":
            return proprio
        pos, quat = pose
        lin, ang = self.objects.velocity() if velocity is None else velocity
        tips = self.hand.fingertip_positions() - HAND_POSITION
        if touching is None:
            touching = self.world.touching_links(self.objects.body, self.hand.body)
        contacts = [float(t in touching) for t in self.hand.tip_ids]
        p = self.params
        physical = [p.mass, p.friction, *p.com, *self.objects.spec.size]
        return np.concatenate([proprio, pos - HAND_POSITION, quat, lin, ang, tips.ravel(), contacts,
                               physical]).astype(np.float32)

    def touching_parts(self) -> np.ndarray:
        """Which parts of the hand touch the object after the last step: a bool per
        :data:`dexndm_envs.hand.HAND_PARTS` (index, middle, ring, thumb: any link of the finger; then the
        palm), from the engine's contacts (PyBullet or MuJoCo alike)."""
        part = {link: name.split("_")[0] for name, link in self.hand.link_index.items()}
        touching = {part.get(link, "palm") for link in self.world.touching_links(self.objects.body, self.hand.body)}
        return np.array([name in touching for name in hand.HAND_PARTS])

    # -- rendering ------------------------------------------------------------------------------------
    def _camera(self) -> tuple[np.ndarray, np.ndarray]:
        target = HAND_POSITION + self._wrist_rot @ self._grasp_pos_local
        # Look into the palm from a three-quarter view, so the grasped object is in sight.
        view = self._wrist_rot @ np.array([0.5, -0.6, -1.0]) + np.array([0.0, 0.0, 0.4])
        return target + 0.32 * view / np.linalg.norm(view), target
