"""The gymnasium environments, one module per env version."""

from dexndm_envs.envs.leap_chaos_box_v0 import LeapChaosBoxEnv
from dexndm_envs.envs.leap_rotate_v0 import LeapRotateEnv

__all__ = ["LeapChaosBoxEnv", "LeapRotateEnv"]
