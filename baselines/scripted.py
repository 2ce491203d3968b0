"""A scripted finger-gaiting policy: a baseline that needs no training.

Each finger's flexion joints follow a cosine of the step count, the four fingers a quarter period
apart, so the fingers take turns pressing and releasing. It does not know the object or the axis; it
exists so that the pipeline and the metrics can be exercised before a trained policy exists.
"""

from __future__ import annotations

import numpy as np

from dexndm_envs.hand import FINGERS, NUM_JOINTS


class FingerGaitPolicy:
    """Open-loop relative-target actions in [-1, 1] (motor order).

    Args:
        amplitude: action amplitude on the flexion joints (1.0 = 1/24 rad per step).
        period: steps per gait cycle.
    """

    def __init__(self, amplitude: float = 0.6, period: int = 20) -> None:
        self.amplitude, self.period = amplitude, period
        self.phase = np.zeros(NUM_JOINTS)
        self.mask = np.zeros(NUM_JOINTS)
        for k, joints in enumerate(FINGERS.values()):
            flexion = joints[1:] if k < 3 else joints[::2]
            self.mask[list(flexion)] = 1.0
            self.phase[list(joints)] = k * np.pi / 2
        self.t = 0

    def reset(self) -> None:
        self.t = 0

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """The action for this step (the observation is unused: the gait is open loop)."""
        a = self.amplitude * self.mask * np.cos(2 * np.pi * self.t / self.period + self.phase)
        self.t += 1
        return a.astype(np.float32)
