"""A synthetic 16-joint plant whose joints interact only through a low-dimensional load.

Each joint is a unit-inertia second-order system driven by a PD actuator towards its target, with
viscous damping; a two-dimensional "object" state ``z`` is pushed by a weighted sum of the joint
positions and pushes back on every joint with a joint-specific coupling. Eliminating the other joints
leaves each joint with its own dynamics plus a smooth low-dimensional load: the situation in which the
paper argues a joint-wise model needs far fewer samples than a whole-hand one.
"""

from __future__ import annotations

import numpy as np

J = 16
DT = 0.05
SUBSTEPS = 10


class SyntheticPlant:
    """Joint positions q (rad), velocities, and a 2-d load state; ``gain`` scales every actuator."""

    def __init__(self, gain: float = 1.0, seed: int = 0) -> None:
        rng = np.random.default_rng(1234)  # the plant's structure is fixed; ``seed`` drives episodes
        self.kp = gain * rng.uniform(20.0, 60.0, J)
        self.kd = rng.uniform(2.0, 6.0, J)
        self.couple_in = rng.normal(0.0, 1.0, (2, J)) / np.sqrt(J)
        self.couple_out = rng.normal(0.0, 4.0, (J, 2))
        self.rng = np.random.default_rng(seed)

    def rollout(self, targets: np.ndarray, q0: np.ndarray | None = None) -> np.ndarray:
        """Joint positions [T+1, 16] under the targets [T, 16] held for one period each."""
        q = np.zeros(J) if q0 is None else q0.copy()
        v = np.zeros(J)
        z, zd = np.zeros(2), np.zeros(2)
        out = [q.copy()]
        h = DT / SUBSTEPS
        for target in targets:
            for _ in range(SUBSTEPS):
                load = self.couple_out @ z
                acc = self.kp * (target - q) - self.kd * v + load
                zacc = 30.0 * (self.couple_in @ q - z) - 3.0 * zd
                v += h * acc
                q += h * v
                zd += h * zacc
                z += h * zd
            out.append(q.copy())
        return np.array(out)

    def random_targets(self, steps: int) -> np.ndarray:
        """Smooth random target sequences: per joint, a sum of two sines with random periods."""
        t = np.arange(steps)[:, None] * DT
        f = self.rng.uniform(0.1, 1.5, (2, J))
        a = self.rng.uniform(0.1, 0.5, (2, J))
        p = self.rng.uniform(0, 2 * np.pi, (2, J))
        return a[0] * np.sin(2 * np.pi * f[0] * t + p[0]) + a[1] * np.sign(np.sin(2 * np.pi * f[1] * t + p[1]))
