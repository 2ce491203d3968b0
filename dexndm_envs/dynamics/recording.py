"""Recording episodes of any env with LeapRotate's interface into the dataset's arrays.

The same function records the sim env, the gap env and the real (or virtual) hand: joint readings
come from the proprio observation, executed targets from ``info["target"]``, and the time of each
reading from ``info["period_s"]`` where the env measures it (the real env) or the nominal control
period otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from dexndm_envs.hand import NUM_JOINTS
from dexndm_envs.interface import latest_joint_positions
from dexndm_envs.metrics import CONTROL_HZ


def record_episode(env: gym.Env, act: Callable[[np.ndarray], np.ndarray], steps: int, *,
                   seed: int | None = None, options: dict | None = None,
                   catch: tuple[type[BaseException], ...] = ()) -> dict:
    """Run one episode of at most ``steps`` steps with ``act(observation) -> action``.

    Returns ``q`` [T+1, 16], ``targets`` [T, 16] (executed), ``actions`` [T, 16], ``timestamps``
    [T+1] (s), ``terminated`` (the env ended it early), ``reset_info``, ``last_info`` and ``fault``:
    None, or the message of an exception of a type in ``catch`` (e.g. a bus error) that ended the
    episode early, with the steps before it kept (none if it happened at reset).
    """
    try:
        obs, reset_info = env.reset(seed=seed, options=options)
    except catch as e:
        empty = np.zeros((0, NUM_JOINTS))
        return {"q": empty, "targets": empty, "actions": empty, "timestamps": np.zeros(0), "terminated": False,
                "reset_info": {}, "last_info": {}, "fault": f"{type(e).__name__}: {e} (at reset)"}
    q, targets, actions, stamps = [latest_joint_positions(obs)], [], [], [0.0]
    info: dict = {}
    terminated, fault = False, None
    for _ in range(steps):
        action = np.asarray(act(obs), dtype=np.float32)
        try:
            obs, _, terminated, truncated, info = env.step(action)
        except catch as e:
            fault = f"{type(e).__name__}: {e}"
            break
        q.append(latest_joint_positions(obs))
        targets.append(info["target"])
        actions.append(action)
        stamps.append(stamps[-1] + info.get("period_s", 1.0 / CONTROL_HZ))
        if terminated or truncated:
            break
    return {"q": np.array(q), "targets": np.array(targets).reshape(-1, NUM_JOINTS),
            "actions": np.array(actions).reshape(-1, NUM_JOINTS), "timestamps": np.array(stamps),
            "terminated": bool(terminated), "reset_info": reset_info, "last_info": info, "fault": fault}
