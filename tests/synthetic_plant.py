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
        targets = np.asarray(targets, dtype=np.float64)
        return feedback_rollout(self, len(targets), lambda t, _: targets[t], q0)[0]

    def random_targets(self, steps: int) -> np.ndarray:
        """Smooth random target sequences: per joint, a sum of two sines with random periods."""
        t = np.arange(steps)[:, None] * DT
        f = self.rng.uniform(0.1, 1.5, (2, J))
        a = self.rng.uniform(0.1, 0.5, (2, J))
        p = self.rng.uniform(0, 2 * np.pi, (2, J))
        return a[0] * np.sin(2 * np.pi * f[0] * t + p[0]) + a[1] * np.sign(np.sin(2 * np.pi * f[1] * t + p[1]))


# -- helpers for the dynamics tests -------------------------------------------------------------------------
def episodes(plant: SyntheticPlant, count: int, steps: int = 200, offset: np.ndarray | None = None) -> list[dict]:
    """``count`` episodes of ``plant`` under its random targets (shifted by ``offset``, starting there):
    dicts with ``q`` [T+1, 16], ``targets`` [T, 16] and ``timestamps`` [T+1] (s), as the dataset stores them."""
    off = np.zeros(J) if offset is None else np.asarray(offset, dtype=np.float64)
    out = []
    for _ in range(count):
        targets = off + plant.random_targets(steps)
        out.append({"q": plant.rollout(targets, off), "targets": targets, "timestamps": DT * np.arange(steps + 1)})
    return out


def feedback_rollout(plant: SyntheticPlant, steps: int, target_fn,
                     q0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Closed loop: before period t, ``target_fn(t, q[:t+1])`` gives the target held during it.

    Returns the readings [T+1, 16] and the executed targets [T, 16]; :meth:`SyntheticPlant.rollout` is
    this with open-loop targets. Semi-implicit Euler with ``SUBSTEPS`` steps per period.
    """
    q = np.zeros(J) if q0 is None else np.array(q0, dtype=np.float64)
    v = np.zeros(J)
    z, zd = np.zeros(2), np.zeros(2)
    qs, executed = [q.copy()], []
    h = DT / SUBSTEPS
    for t in range(steps):
        target = np.asarray(target_fn(t, np.array(qs)), dtype=np.float64)
        executed.append(target)
        for _ in range(SUBSTEPS):
            load = plant.couple_out @ z
            acc = plant.kp * (target - q) - plant.kd * v + load
            zacc = 30.0 * (plant.couple_in @ q - z) - 3.0 * zd
            v += h * acc
            q += h * v
            zd += h * zacc
            z += h * zd
        qs.append(q.copy())
    return np.array(qs), np.array(executed)
