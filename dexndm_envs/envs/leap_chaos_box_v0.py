"""``DexNDM/LeapChaosBox-v0``: the hand in a box of soft balls, for autonomous dynamics data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs import hand, interface
from dexndm_envs.actuators import ActuatorSpec
from dexndm_envs.envs.hand_env import HAND_POSITION, LeapHandEnv
from dexndm_envs.gap import GapProfile
from dexndm_envs.metrics import CONTROL_HZ
from dexndm_envs.poses import WRISTS, parse_axis, sample_axis
from dexndm_envs.rotations import quat_to_matrix

STRAPPED_FINGERS = (0, 1, 3)
"""Fingertips (index, middle, thumb; order of ``hand.FINGERTIP_NAMES``) the palm-up ball is strapped to."""
WALL = 0.05
"""Wall thickness (m): thick enough that no ball tunnels through at these speeds."""


class LeapChaosBoxEnv(LeapHandEnv):
    """The LEAP hand loaded by soft balls that need no resets, as in the paper's real data collection.

    ## Description
    Every wrist but palm up: the fixed hand sits inside a closed box (floor, four walls, lid) whose
    inner extents are the fingers' reachable space plus ``margin``; soft balls (``balls`` of them, or by
    default as many as fill the lower ``fill`` = 60 % of the box on a grid) settle in it under gravity,
    so whatever the fingers do they push through, lift and are pushed back by balls,
    and no ball can leave. Palm up (balls would just lie in the palm): one soft ball is strapped to the
    index, middle and thumb tips by elastic bands (springs that pull, never push, with rest length
    zero from the fingertip to the ball's surface), so the fingers always squeeze against a load.
    Ball softness is PyBullet's compliant contact (``ball_stiffness`` N/m, ``ball_damping`` N s/m), as
    of a foam ball; the defaults (6.5 cm, 15 g, 400 N/m) are a soft foam ball.

    ## Action and Observation Space
    Exactly LeapRotate's (:mod:`dexndm_envs.interface`): relative targets ``Box(-1, 1, (16,))`` and
    the 327-float proprio observation (with ``axis`` given to the policy, default +z).
    ``set_target_correction`` works as there.

    ## Rewards and Episode End
    Reward 0; never terminates; the registered TimeLimit truncates at 400 steps (20 s).

    ## Starting State
    The scene settled once at construction (hand holding ``start_pose``), restored on every reset;
    ``options={"target": q}`` sets the episode's starting joint target (rad, motor order, clipped to
    the limits; e.g. the first target of a replayed rollout), which the hand then moves to.

    ## Arguments
    wrist (one of the six names), axis, balls, fill, ball_diameter (m), ball_mass (kg), ball_stiffness,
    ball_damping, ball_friction, margin (m), (``balls=0``: an empty box, i.e. the free hand, for
    comparison data), strap_stiffness (N/m per band), start_pose (rad),
    actuator / gap (as LeapRotate; a gap profile's object mass and friction scales apply to the
    balls), settle_s (s), render_mode ("rgb_array" or "human").

    ## Version History
    * v0: initial version.
    """

    def __init__(self, wrist: str = "palm_down", axis: str | Any = "+z", balls: int | None = None, fill: float = 0.6,
                 ball_diameter: float = 0.065, ball_mass: float = 0.015, ball_stiffness: float = 400.0,
                 ball_damping: float = 8.0, ball_friction: float = 0.8, margin: float = 0.03,
                 strap_stiffness: float = 60.0, start_pose: np.ndarray | None = None,
                 actuator: ActuatorSpec = "ideal_pd", gap: str | Path | GapProfile | None = None,
                 settle_s: float = 1.5, render_mode: str | None = None) -> None:
        if wrist not in WRISTS:
            raise ValueError(f"unknown wrist {wrist!r}; the Chaos Box takes one of: {', '.join(WRISTS)}")
        positive = {"ball_diameter": ball_diameter, "ball_mass": ball_mass, "ball_stiffness": ball_stiffness,
                    "ball_damping": ball_damping, "strap_stiffness": strap_stiffness}
        bad = [k for k, v in positive.items() if not (np.isfinite(v) and v > 0)]
        bad += [k for k, v in (("balls", 0 if balls is None else balls), ("margin", margin),
                               ("settle_s", settle_s), ("fill", fill), ("fill", 1 - fill)) if v < 0]
        if bad:
            raise ValueError(f"bad Chaos Box settings {bad}: sizes, masses, stiffnesses and damping must be > 0, "
                             "balls >= 0 (or None), 0 <= fill <= 1, margin and settle_s >= 0")
        self.wrist_name = wrist
        self.axis_spec = parse_axis(axis)
        self._init_hand(actuator, gap, render_mode, WRISTS[wrist],
                        self.axis_spec if isinstance(self.axis_spec, np.ndarray) else None)
        self.observation_space = interface.proprio_space()
        self.start_pose = hand.CANONICAL_POSE.copy() if start_pose is None else np.asarray(start_pose, dtype=np.float64)
        self.strapped = wrist == "palm_up" and balls != 0
        self.ball_radius = ball_diameter / 2
        self.strap_stiffness = strap_stiffness
        scale = (self.gap.object_mass_scale, self.gap.object_friction_scale) if self.gap else (1.0, 1.0)
        self._scene = {"balls": balls, "fill": fill, "margin": margin, "settle_s": settle_s,
                       "ball": {"mass": ball_mass * scale[0], "lateralFriction": ball_friction * scale[1],
                                "contactStiffness": ball_stiffness, "contactDamping": ball_damping,
                                "rollingFriction": 1e-4}}
        try:
            self._build_scene()
        except BaseException:
            self.close()  # no half-built physics client left behind
            raise

    def _build_scene(self) -> None:
        """Box, balls (or the strapped ball) and the settled state every episode starts from.

        PyBullet's restoreState does not make a world with dozens of touching balls replay exactly
        (episodes diverged after ~20 steps depending on the episodes before, contact caches emptied or
        not), so each reset after an episode rebuilds the world from scratch (~0.1 s): same seed,
        same episode. (Not with the GUI, which cannot be reopened per episode.)
        """
        if hasattr(self, "balls"):
            self._new_world()
        cfg = self._scene
        self.hand.set_palm_pose(HAND_POSITION, self.wrist_quat)
        self.hand.set_joint_state(self.start_pose)
        if self.strapped:
            self.box_lower = self.box_upper = None
            positions = [self.hand.fingertip_positions()[list(STRAPPED_FINGERS)].mean(0)]
        else:
            self.box_lower, self.box_upper = self._build_box(cfg["margin"])
            positions = self._ball_positions(cfg["balls"], cfg["fill"]) if cfg["balls"] != 0 else []
        self.balls = []
        dynamics = dict(cfg["ball"])
        mass = dynamics.pop("mass")
        for i, p in enumerate(positions):
            rgba = (0.95, 0.55 + 0.3 * (i % 3) / 2, 0.15 + 0.25 * (i % 4) / 3, 1.0)
            b = self.world.create_primitive("sphere", [2 * self.ball_radius] * 3, mass, rgba=rgba, position=p)
            self.world.set_dynamics(b, **dynamics)
            self.balls.append(b)
        self._settle(cfg["settle_s"])
        self._settled = self.world.save_state()
        self._fresh = True

    # -- scene --------------------------------------------------------------------------------------
    def _reach(self, samples: int = 300) -> np.ndarray:
        """World points (m) the fingertips and the palm can occupy: fingertips over random joint
        configurations (a fixed seed: the scene must not depend on episode seeds) and palm corners."""
        rng = np.random.default_rng(0)
        points = []
        for q in rng.uniform(hand.LOWER_LIMITS, hand.UPPER_LIMITS, (samples, hand.NUM_JOINTS)):
            self.hand.set_joint_state(q)
            points.append(self.hand.fingertip_positions())
        self.hand.set_joint_state(self.start_pose)
        corners = np.array(np.meshgrid(*hand.PALM_BOX)).reshape(3, -1).T
        points.append(HAND_POSITION + corners @ quat_to_matrix(self.wrist_quat).T)
        return np.concatenate(points)

    def _build_box(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Six static walls around the reachable space; returns the inner corners (m, world)."""
        reach = self._reach()
        lower, upper = reach.min(0) - margin, reach.max(0) + margin
        centre, inner = (lower + upper) / 2, upper - lower
        for axis in range(3):
            for side in (-1, 1):
                size = inner + 2 * WALL
                size[axis] = WALL
                pos = centre.copy()
                pos[axis] += side * (inner[axis] + WALL) / 2
                # Only the floor and the two far walls are drawn, so a camera sees into the box.
                visible = (axis == 2 and side < 0) or (axis < 2 and side > 0)
                self.world.create_primitive("box", size, 0.0, rgba=(0.55, 0.42, 0.3, 1.0) if visible else None,
                                            position=pos)
        return lower, upper

    def _ball_positions(self, count: int | None, fill: float) -> list[np.ndarray]:
        """Start positions on a grid in the box, lowest first, skipping points inside the hand: ``count``
        of them, or (None) every free one in the lower ``fill`` of the box's height."""
        d = 2 * self.ball_radius * 1.05
        axes = [np.arange(lo + d / 2, hi - d / 2 + 1e-9, d) for lo, hi in zip(self.box_lower, self.box_upper)]
        grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1).T
        grid = grid[np.lexsort((grid[:, 1], grid[:, 0], grid[:, 2]))]
        if count is None:
            grid = grid[grid[:, 2] < self.box_lower[2] + fill * (self.box_upper[2] - self.box_lower[2])]
        free = list(grid[self.world.free_spheres(grid, self.ball_radius, self.hand.body, 0.002, limit=count)][:count])
        if count is not None and len(free) < count:
            raise ValueError(f"{count} balls of {2 * self.ball_radius:.3f} m do not fit in the box around the hand "
                             f"(room for {len(free)}); use fewer or smaller balls or a larger margin")
        return free

    def _settle(self, seconds: float) -> None:
        """Let the balls come to rest with the hand holding ``start_pose``."""
        self.actuator.reset(self.start_pose)
        self._start(self.start_pose, self.start_pose)
        for _ in range(int(seconds * CONTROL_HZ)):
            self._advance(np.zeros(hand.NUM_JOINTS), self.apply_loads)

    def apply_loads(self) -> None:
        """Palm up: elastic bands pull the ball's surface towards three fingertips (and back)."""
        if not self.strapped:
            return
        ball = self.balls[0]
        centre = self.world.body_pose(ball)[0]
        tips = self.hand.fingertip_positions()
        for finger in STRAPPED_FINGERS:
            offset = tips[finger] - centre
            dist = float(np.linalg.norm(offset))
            stretch = dist - self.ball_radius
            if stretch <= 0.0:
                continue  # a band only pulls
            force = self.strap_stiffness * stretch * offset / dist
            self.world.apply_force(ball, force, centre)
            self.world.apply_force(self.hand.body, -force, tips[finger], link=self.hand.tip_ids[finger])

    def balls_inside(self) -> np.ndarray:
        """Whether each ball's centre is inside the box (all True when palm up: no box)."""
        if self.strapped or not self.balls:
            return np.ones(len(self.balls), dtype=bool)
        centres = np.array([self.world.body_pose(b)[0] for b in self.balls])
        return ((centres > self.box_lower) & (centres < self.box_upper)).all(axis=1)

    # -- episodes -----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if not self._fresh and self.render_mode != "human":
            self._build_scene()
        self._fresh = False
        self.world.restore_state(self._settled)
        self.axis = sample_axis(self.axis_spec, self.np_random)
        start = (options or {}).get("target")
        target = self.start_pose if start is None else np.asarray(start, dtype=np.float64)
        if target.shape != (hand.NUM_JOINTS,) or not np.isfinite(target).all():
            raise ValueError(f"options['target'] must be 16 finite radians in motor order; got {start!r}")
        target = np.clip(target, hand.LOWER_LIMITS, hand.UPPER_LIMITS)
        self.actuator.reset(self.start_pose, rng=self.np_random)  # the target in effect while settled
        self._start(target, self.actuator.measure(self.hand.joint_state()[0]))
        if self.render_mode == "human":
            self.render()
        return self._observation(), {"wrist": self.wrist_name, "axis": self.axis.copy()}

    def step(self, action):
        executed, _, q, _ = self._advance(action, self.apply_loads)
        self._history.push(self.actuator.measure(q), self.target)
        info = {"target": executed, "policy_target": self.target.copy()}
        if self.render_mode == "human":
            self.render()
        return self._observation(), 0.0, False, False, info

    def _observation(self) -> np.ndarray:
        return self._history.observation(self.wrist_quat, self.axis)

    def _camera(self) -> tuple[np.ndarray, np.ndarray]:
        if self.strapped:
            target, eye_offset = self.world.body_pose(self.balls[0])[0], np.array([-0.12, -0.18, 0.14])
        else:
            target, eye_offset = (self.box_lower + self.box_upper) / 2, np.array([-0.30, -0.45, 0.32])
        return target + eye_offset, target
