"""What every simulated LEAP hand env shares: the world, the hand, the actuator or gap profile, the
action semantics, the proprioceptive history, the target correction and rendering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import logger

from dexndm_envs import hand, interface
from dexndm_envs.actuators import ActuatorSpec, make_actuator
from dexndm_envs.gap import GapProfile, load_gap
from dexndm_envs.metrics import CONTROL_HZ
from dexndm_envs.simulators import DEFAULT_SIMULATOR, make_simulation
from dexndm_envs.world import PHYSICS_HZ

SUBSTEPS = PHYSICS_HZ // CONTROL_HZ
HAND_POSITION = np.array([0.0, 0.0, 0.5])


class LeapHandEnv(gym.Env):
    """Base class: a fixed LEAP hand at ``HAND_POSITION`` driven at 20 Hz through its actuator model.

    Subclasses build their scene after :meth:`_init_hand`, call :meth:`_start` in ``reset`` and
    :meth:`_advance` in ``step``, and aim the camera in :meth:`_camera`. The members of
    :class:`~dexndm_envs.interface.RotationEnv` that do not depend on a task live here: ``target``,
    ``target_correction``, ``wrist_quat``, ``axis``, :meth:`set_target_correction` and
    :meth:`executed_target`.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": CONTROL_HZ}

    def _init_hand(self, actuator: ActuatorSpec, gap: str | Path | GapProfile | None,
                   render_mode: str | None, wrist_quat: np.ndarray | None, axis: np.ndarray | None) -> None:
        """The world, hand and actuator; ``wrist_quat`` (xyzw) and ``axis`` (unit, world frame) where
        the arguments fix them, None where every reset draws them (NaN until the first reset)."""
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; allowed: None, rgb_array, human")
        if gap is not None and actuator != "ideal_pd":
            raise ValueError("pass either actuator= or gap= (a gap profile brings its own actuator), not both")
        self.render_mode = render_mode
        self.gap = load_gap(gap) if gap is not None else None
        self.actuator = self.gap.make_actuator() if self.gap else make_actuator(actuator)
        self.action_space = interface.action_space()
        self._history = interface.ProprioHistory()
        # RotationEnv's state before the first reset: no target commanded yet, no correction.
        self.target = np.zeros(hand.NUM_JOINTS)
        self.target_correction = np.zeros(hand.NUM_JOINTS)
        self.wrist_quat = np.full(4, np.nan) if wrist_quat is None else np.asarray(wrist_quat, dtype=np.float64)
        self.axis = np.full(3, np.nan) if axis is None else np.asarray(axis, dtype=np.float64)
        self._new_world()

    def _new_world(self) -> None:
        """A fresh physics world holding just the hand (closing the previous one, if any)."""
        if getattr(self, "world", None) is not None:
            self.world.close()
        simulator = self.gap.simulator if self.gap else DEFAULT_SIMULATOR
        self.world, self.hand = make_simulation(simulator, HAND_POSITION, gui=self.render_mode == "human")

    def _start(self, target: np.ndarray, q_reading: np.ndarray) -> None:
        """Begin an episode at joint target ``target`` with the first reading ``q_reading`` (rad)."""
        self.target = np.asarray(target, dtype=np.float64).copy()
        self.target_correction = np.zeros(hand.NUM_JOINTS)
        self._history.reset(q_reading, self.target)

    def _advance(self, action, substep: Callable[[], None] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Apply one action for a control period of ``SUBSTEPS`` physics steps.

        ``substep`` (optional) runs before every physics step, after the joint torques are set (to
        apply external forces). Returns the executed target, the last torques (N m) and the joint
        positions (rad) and velocities (rad/s) at the end of the period.
        """
        self.target = interface.next_target(self.target, interface.validate_action(action))
        executed = self.executed_target()
        for _ in range(SUBSTEPS):
            tau, q, qdot = self.hand.actuated_step(self.actuator, executed, loads=substep)
        return executed, tau, q, qdot

    def apply_loads(self) -> None:
        """External forces of the scene for the next physics step (none here); an emulator that steps
        the world itself calls this before every step."""

    def set_target_correction(self, correction) -> None:
        """Radians (motor order) added to the policy's target from the next step on (0 after reset)."""
        self.target_correction = interface.validate_correction(correction)

    def executed_target(self) -> np.ndarray:
        """What the motors are commanded: ``clip(target + target_correction, limits)`` (rad, motor order)."""
        return interface.executed_target(self.target, self.target_correction)

    def _camera(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the camera is and what it looks at (world frame, m)."""
        raise NotImplementedError

    def render(self):
        """An RGB image (``render_mode="rgb_array"``) or the GUI's camera aimed (``"human"``); without a
        render mode, a warning and None."""
        if self.render_mode is None:
            env_id = self.spec.id if self.spec is not None else type(self).__name__
            logger.warn("You are calling render method without specifying any render mode. You can specify the "
                        f'render_mode at initialization, e.g. gym.make("{env_id}", render_mode="rgb_array")')
            return None
        eye, target = self._camera()
        if self.render_mode == "human":
            self.world.aim_gui_camera(eye, target)
            return None
        return self.world.render(eye, target)

    def close(self) -> None:
        self.world.close()
