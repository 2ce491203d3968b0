"""The gymnasium environments, one module per env version."""

from dexndm_envs.envs.leap_rotate_v0 import LeapRotateEnv

__all__ = ["LeapRotateEnv"]
