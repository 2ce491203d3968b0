"""``DexNDM/LeapRotateReal-v0``: the real (or virtual) LEAP hand behind LeapRotate's interface."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dexndm_envs import interface
from dexndm_envs.hand import SIDE_GAIN_SCALE
from dexndm_envs.metrics import CONTROL_HZ, EpisodeMetrics, rotation_vector
from dexndm_envs.poses import WRISTS, parse_axis, parse_wrist, sample_axis
from real.leap_hand import LeapHand
from real.rate import RateKeeper
from real.tracker import TcpTracker, Tracker


class LeapRotateRealEnv(gym.Env):
    """In-hand rotation on a real LEAP hand on a serial port; implements
    :class:`dexndm_envs.interface.RotationEnv`, the members the sim envs offer too.

    ## Action Space / Observation Space
    Exactly LeapRotate's (``dexndm_envs.interface``: the same functions build both): relative targets
    ``Box(-1, 1, (16,))`` and the 327-float proprioceptive observation; ``set_target_correction`` and
    ``executed_target()`` as there.

    ## Starting State
    Whatever the hand holds: ``reset`` reads the joints and holds them, or commands
    ``options["target"]`` (rad, motor order; clamped to the limits) when given, e.g. a grasp's target.

    ## Timing
    ``step`` sends the new targets, sleeps until the next 20 Hz tick, then reads the joints: the newest
    observation pair is (q_{t+1}, target_t), as in simulation. ``info`` has the loop ``period_s`` and
    ``overrun_s`` (> 0 when the loop could not keep 20 Hz), and ``bus_retries`` the bus exchanges
    retried since the hand was opened.

    ## Rewards, Metrics and Episode End
    The reward is 0: a real hand does not measure what the simulator's reward needs. With a
    ``tracker`` (a :class:`real.tracker.Tracker` or "host:port" of a tracker server, e.g. the virtual
    hand's) the paper's metrics are computed from the tracked orientation (angular velocity from
    consecutive poses) and put in ``info`` as in simulation, ``object_pose()`` is the tracker's last
    reading, and the episode terminates when the object is lost or more than ``fall_distance`` from
    where it started. Otherwise episodes end only by the 400-step TimeLimit.

    ## Arguments
    port (serial device or the emulator's pseudo-terminal), wrist (one of the six names or a
    quaternion: how the hand is mounted), axis, tracker, fall_distance (m), goal_current_ma, p_gain,
    d_gain, side_gain_scale (the driver's: :class:`real.leap_hand.LeapHand`).
    """

    metadata = {"render_modes": [], "render_fps": CONTROL_HZ}

    def __init__(self, port: str, wrist: str | Any = "palm_down", axis: str | Any = "+z",
                 tracker: str | Tracker | None = None, fall_distance: float = 0.06,
                 goal_current_ma: int = 350, p_gain: int = 800, d_gain: int = 200,
                 side_gain_scale: float = SIDE_GAIN_SCALE) -> None:
        spec = parse_wrist(wrist)
        if isinstance(spec, str) and spec == "random":
            raise ValueError("a real hand is mounted one way: give one of "
                             f"{', '.join(WRISTS)} or a quaternion, not 'random'")
        self.wrist_quat = WRISTS[spec] if isinstance(spec, str) else spec
        self.axis_spec = parse_axis(axis)
        self.action_space = interface.action_space()
        self.observation_space = interface.proprio_space()
        self._history = interface.ProprioHistory()
        self._rate = RateKeeper(CONTROL_HZ)
        self.tracker = TcpTracker(tracker) if isinstance(tracker, str) else tracker
        self.fall_distance = fall_distance
        self._metrics: EpisodeMetrics | None = None
        self._pose: tuple[np.ndarray, np.ndarray] | None = None
        self.hand = LeapHand(port, goal_current_ma=goal_current_ma, p_gain=p_gain, d_gain=d_gain,
                             side_gain_scale=side_gain_scale)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.axis = sample_axis(self.axis_spec, self.np_random)
        q, _, _ = self.hand.read()
        start = (options or {}).get("target")
        self.target = self.hand.command(q if start is None else start)
        self.target_correction = np.zeros(len(self.target))
        self._history.reset(q, self.target)
        self._rate.reset()
        self._metrics = None
        self._pose = None
        if self.tracker is not None:
            pose = self.tracker.pose()
            if pose is None:
                raise RuntimeError("the tracker does not see the object at reset; place it in the hand")
            self._start_position, self._last_quat, self._last_time = pose
            self._pose = (self._start_position, self._last_quat)
            self._metrics = EpisodeMetrics(self.axis)
            self._metrics.reset(self._last_quat)
        info = {"axis": self.axis.copy(), "bus_retries": self.hand.bus.retried}
        return self._history.observation(self.wrist_quat, self.axis), info

    def step(self, action):
        a = interface.validate_action(action)
        self.target = interface.next_target(self.target, a)
        executed = self.hand.command(interface.executed_target(self.target, self.target_correction))
        period, overrun = self._rate.wait()
        q, qdot, current = self.hand.read()
        self._history.push(q, self.target)
        info = {"period_s": period, "overrun_s": overrun, "target": executed,
                "policy_target": self.target.copy(), "current_ma": current, "bus_retries": self.hand.bus.retried}
        fell = self._track(info) if self._metrics is not None else False
        return self._history.observation(self.wrist_quat, self.axis), 0.0, fell, False, info

    def set_target_correction(self, correction) -> None:
        """Radians (motor order) added to the policy's target from the next step on (0 after reset)."""
        self.target_correction = interface.validate_correction(correction)

    def executed_target(self) -> np.ndarray:
        """What the motors are commanded: ``clip(target + target_correction, limits)`` (rad, motor order)."""
        return interface.executed_target(self.target, self.target_correction)

    def object_pose(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The object's position (3, m) and orientation (xyzw) in the world frame as the tracker read it
        at the end of the last step (or at reset); None without a tracker or when it lost the object."""
        return self._pose

    def _track(self, info: dict) -> bool:
        """Update the metrics from the tracker; returns whether the object fell (or was lost)."""
        pose = self.tracker.pose()
        if pose is None:
            fell, quat, angvel = True, self._last_quat, np.zeros(3)
            self._pose = None
        else:
            position, quat, stamp = pose
            self._pose = (position, quat)
            dt = max(stamp - self._last_time, 1e-3)
            angvel = np.array(rotation_vector(self._last_quat, quat)) / dt
            fell = bool(np.linalg.norm(position - self._start_position) > self.fall_distance)
            self._last_quat, self._last_time = quat, stamp
        info.update(self._metrics.update(quat, angvel, fell), fell=fell)
        return fell

    def episode_metrics(self) -> dict[str, float]:
        """Rot, TTF, RotR, RotP so far (needs a tracker)."""
        if self._metrics is None:
            raise RuntimeError("episode metrics need a tracker (tracker='host:port' or a Tracker)")
        return self._metrics.summary()

    def close(self) -> None:
        if getattr(self, "tracker", None) is not None and hasattr(self.tracker, "close"):
            self.tracker.close()
            self.tracker = None
        if getattr(self, "hand", None) is not None:
            self.hand.close()
            self.hand = None
