"""``DexNDM/LeapRotateReal-v0``: the real (or virtual) LEAP hand behind LeapRotate's interface."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from dexndm_envs import interface
from dexndm_envs.metrics import CONTROL_HZ
from dexndm_envs.poses import WRISTS, parse_axis, parse_wrist, sample_axis
from real.leap_hand import LeapHand
from real.rate import RateKeeper


class LeapRotateRealEnv(gym.Env):
    """In-hand rotation on a real LEAP hand on a serial port.

    ## Action Space / Observation Space
    Exactly LeapRotate's (``dexndm_envs.interface``: the same functions build both): relative targets
    ``Box(-1, 1, (16,))`` and the 327-float proprioceptive observation.

    ## Timing
    ``step`` sends the new targets, sleeps until the next 20 Hz tick, then reads the joints: the newest
    observation pair is (q_{t+1}, target_t), as in simulation. ``info`` has the loop ``period_s`` and
    ``overrun_s`` (> 0 when the loop could not keep 20 Hz).

    ## Rewards and Episode End
    No object state is measured here: the reward is 0 and episodes end only by the 400-step TimeLimit.

    ## Arguments
    port (serial device or the emulator's pseudo-terminal), wrist (one of the six names or a
    quaternion: how the hand is mounted), axis, goal_current_ma, p_gain, d_gain.
    """

    metadata = {"render_modes": [], "render_fps": CONTROL_HZ}

    def __init__(self, port: str, wrist: str | Any = "palm_down", axis: str | Any = "+z",
                 goal_current_ma: int = 350, p_gain: int = 800, d_gain: int = 200) -> None:
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
        self.hand = LeapHand(port, goal_current_ma=goal_current_ma, p_gain=p_gain, d_gain=d_gain)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.axis = sample_axis(self.axis_spec, self.np_random)
        q, _, _ = self.hand.read()
        self.target = self.hand.command(q)
        self._history.reset(q, self.target)
        self._rate.reset()
        return self._history.observation(self.wrist_quat, self.axis), {"axis": self.axis.copy()}

    def step(self, action):
        a = interface.validate_action(action)
        self.target = self.hand.command(interface.next_target(self.target, a))
        period, overrun = self._rate.wait()
        q, qdot, current = self.hand.read()
        self._history.push(q, self.target)
        info = {"period_s": period, "overrun_s": overrun, "target": self.target.copy(), "current_ma": current}
        return self._history.observation(self.wrist_quat, self.axis), 0.0, False, False, info

    def close(self) -> None:
        if getattr(self, "hand", None) is not None:
            self.hand.close()
            self.hand = None
