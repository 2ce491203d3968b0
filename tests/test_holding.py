"""The cached grasps hold the object: with zero actions a cylinder survives a whole episode."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_env

EPISODES = 50


@pytest.mark.slow
@pytest.mark.parametrize("wrist", ["palm_up", "palm_down"])
def test_zero_action_holds_cylinder_for_a_full_episode(warm_grasps, wrist):
    env = make_env(wrist=wrist)  # gym.make: the registered TimeLimit ends episodes at 400 steps
    try:
        held, lengths = 0, []
        zero = np.zeros(16, np.float32)
        for episode in range(EPISODES):
            if episode == 0:
                env.reset(seed=2024)
            else:
                env.reset()
            steps, terminated, truncated = 0, False, False
            while not (terminated or truncated):
                _, _, terminated, truncated, info = env.step(zero)
                steps += 1
                assert steps <= 400
            lengths.append(steps)
            if truncated and not terminated:
                assert steps == 400
                metrics = env.unwrapped.episode_metrics()
                assert metrics["ttf_s"] == pytest.approx(20.0) and metrics["ttf"] == pytest.approx(1.0)
                held += 1
    finally:
        env.close()
    assert held >= 0.9 * EPISODES, f"{wrist}: held {held}/{EPISODES}; episode lengths {lengths}"


@pytest.mark.parametrize("wrist", ["palm_up", "palm_down"])
def test_held_object_does_not_sink_into_the_hand(warm_grasps, wrist):
    """Grasps hold the object by contact, not by interpenetration: after a reset and half a second of
    zero actions the deepest object-hand contact is typically under 2 mm (median over grasps) and never
    8 mm (the grasp generator rejects > 3 mm; PyBullet contacts are soft under a squeezing grip)."""
    env = make_env(wrist=wrist)
    u = env.unwrapped
    deepest = []
    try:
        for seed in range(16):
            env.reset(seed=seed)
            for _ in range(10):
                env.step(np.zeros(16, np.float32))
            contacts = u.world.contacts(u.objects.body, u.hand.body)
            deepest.append(min([c[8] for c in contacts], default=0.0))  # c[8]: signed distance, m
    finally:
        env.close()
    assert -np.median(deepest) < 0.002 and -min(deepest) < 0.008, (
        f"{wrist}: object up to {-min(deepest) * 1000:.1f} mm inside the hand "
        f"(median over grasps {-np.median(deepest) * 1000:.1f} mm)")
