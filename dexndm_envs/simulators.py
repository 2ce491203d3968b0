"""The physics engines a hand env can run in, and the one function that builds a hand in either.

``pybullet`` (the default, the engine the policies train in) and ``mujoco`` (the optional extra
``pip install "dexndm-envs[mujoco]"``: a simulator gap no one here tuned, see
:mod:`dexndm_envs.mujoco_world`). A gap profile's ``simulator`` key chooses.
"""

from __future__ import annotations

from dexndm_envs.robot import ActuatedHand, SimHand
from dexndm_envs.world import World

SIMULATORS = ("pybullet", "mujoco")
DEFAULT_SIMULATOR = "pybullet"


def make_simulation(simulator: str, position, gui: bool = False) -> tuple[World, ActuatedHand]:
    """A new world holding just the hand, its palm at world ``position`` (m), in ``simulator``: the
    PyBullet :class:`~dexndm_envs.world.World` and :class:`~dexndm_envs.robot.SimHand`, or their MuJoCo
    counterparts (same methods). ``gui`` opens PyBullet's GUI (MuJoCo has none here)."""
    if simulator == "pybullet":
        world = World(gui=gui)
        return world, SimHand(world, position)
    if simulator == "mujoco":
        try:
            from dexndm_envs.mujoco_world import MujocoHand, MujocoWorld
        except ImportError as e:
            raise ValueError(f"the MuJoCo hand needs the mujoco package ({e}); install it with "
                             "pip install \"dexndm-envs[mujoco]\"") from None
        world = MujocoWorld(gui=gui)
        return world, MujocoHand(world, position)
    raise ValueError(f"unknown simulator {simulator!r}; allowed: {', '.join(SIMULATORS)}")
