"""dexndm-envs: LEAP hand in-hand rotation environments and the DexNDM sim-to-real toolkit.

Importing the package registers the Gymnasium ids::

    import gymnasium as gym
    import dexndm_envs  # noqa: F401  (registers DexNDM/*)

    env = gym.make("DexNDM/LeapRotate-v0", object="cylinder", wrist="palm_down", axis="+z")
"""

from gymnasium.envs.registration import register

from dexndm_envs.metrics import EPISODE_STEPS

__version__ = "0.1.0"

register(
    id="DexNDM/LeapRotate-v0",
    entry_point="dexndm_envs.envs.leap_rotate_v0:LeapRotateEnv",
    max_episode_steps=EPISODE_STEPS,
)
register(
    id="DexNDM/LeapChaosBox-v0",
    entry_point="dexndm_envs.envs.leap_chaos_box_v0:LeapChaosBoxEnv",
    max_episode_steps=EPISODE_STEPS,
)
# The real hand lives in the `real` package; the entry point is a string, so importing dexndm_envs
# never imports `real` (dependencies point baselines -> real -> dexndm_envs).
register(
    id="DexNDM/LeapRotateReal-v0",
    entry_point="real.leap_rotate_real_v0:LeapRotateRealEnv",
    max_episode_steps=EPISODE_STEPS,
)
