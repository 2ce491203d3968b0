"""The LEAP hand in MuJoCo (:mod:`dexndm_envs.mujoco_world`): the same hand, objects, grasps and
interface as in PyBullet, played by another engine."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from conftest import OBJECT

from dexndm_envs import hand
from dexndm_envs.gap import builtin_gaps, load_gap
from dexndm_envs.objects import create_body, get_object
from dexndm_envs.poses import WRISTS
from dexndm_envs.robot import SimHand
from dexndm_envs.simulators import make_simulation
from dexndm_envs.world import World

mujoco = pytest.importorskip("mujoco")
from dexndm_envs.mujoco_world import MujocoHand, MujocoWorld  # noqa: E402  (needs the extra)

ROTATE, BOX = "DexNDM/LeapRotate-v0", "DexNDM/LeapChaosBox-v0"


def test_the_mujoco_hand_refuses_a_gui_and_an_unknown_engine_is_named():
    with pytest.raises(ValueError, match="no GUI"):
        MujocoWorld(gui=True)
    with pytest.raises(ValueError, match="unknown simulator 'bullet'; allowed: pybullet, mujoco"):
        make_simulation("bullet", (0.0, 0.0, 0.5))


def test_the_builtin_mujoco_hands_say_what_they_are():
    sysid, ideal, pybullet = load_gap("mujoco_leap_sysid"), load_gap("mujoco_ideal_pd"), load_gap("leap_sysid")
    assert {"mujoco_leap_sysid", "mujoco_ideal_pd"} <= set(builtin_gaps())
    assert sysid.simulator == ideal.simulator == "mujoco" and pybullet.simulator == "pybullet"
    # the identified servo, every setting inherited from leap_sysid
    assert sysid.make_actuator().key() == pybullet.make_actuator().key()
    assert sysid.name == "mujoco_leap_sysid" and "leap_sysid" in sysid.description
    # the training actuator: the env's default ideal PD
    assert (ideal.actuator, ideal.kp, ideal.kd, ideal.torque_cap_nm) == ("ideal_pd", 3.0, 0.1, 0.5)
    for profile in (sysid, ideal):
        assert "MuJoCo" in profile.description and "default" in profile.description


def test_a_profile_extends_another_and_overrides_what_it_sets(tmp_path):
    (tmp_path / "base.json").write_text(json.dumps({"extends": "leap_xc330", "kp": 600, "name": "base"}))
    (tmp_path / "hand.json").write_text(json.dumps({"extends": "base.json", "simulator": "mujoco"}))
    profile = load_gap(tmp_path / "hand.json")
    xc330 = load_gap("leap_xc330")
    assert (profile.kp, profile.kd, profile.simulator) == (600, xc330.kd, "mujoco")
    assert profile.name == "hand" and profile.description == ""  # name and description are the file's own
    (tmp_path / "loop.json").write_text(json.dumps({"extends": "loop.json"}))
    with pytest.raises(ValueError, match="without a cycle"):
        load_gap(tmp_path / "loop.json")


def test_the_mujoco_hand_has_the_pybullet_hands_kinematics():
    """Same joint angles, same palm pose: the same fingertip points (the URDF, the joint order by name
    and the palm frame all carried over)."""
    rng = np.random.default_rng(0)
    pb_world, mj_world = World(), MujocoWorld()
    try:
        pb_hand, mj_hand = SimHand(pb_world, (0.0, 0.0, 0.5)), MujocoHand(mj_world, (0.0, 0.0, 0.5))
        for wrist in ("palm_up", "thumb_down", "base_up"):
            q = rng.uniform(hand.LOWER_LIMITS, hand.UPPER_LIMITS)
            for robot in (pb_hand, mj_hand):
                robot.set_palm_pose((0.1, -0.2, 0.5), WRISTS[wrist])
                robot.set_joint_state(q)
            np.testing.assert_allclose(mj_hand.joint_state()[0], q)
            np.testing.assert_allclose(mj_hand.fingertip_positions(), pb_hand.fingertip_positions(), atol=1e-6)
    finally:
        pb_world.close()
        mj_world.close()


def test_the_paper_pd_drives_the_mujoco_hand_to_a_target_and_holds_it():
    from dexndm_envs.actuators import IdealPD

    world, robot = make_simulation("mujoco", (0.0, 0.0, 0.5))
    robot.set_palm_pose((0.0, 0.0, 0.5), WRISTS["palm_down"])
    actuator, target = IdealPD(), np.clip(0.5 * hand.WRAP_POSE, hand.LOWER_LIMITS, hand.UPPER_LIMITS)
    actuator.reset(np.zeros(16))
    for _ in range(240):
        _, q, qdot = robot.actuated_step(actuator, target)
    assert np.max(np.abs(q - target)) < 0.05 and np.max(np.abs(qdot)) < 0.2


def test_a_mesh_object_is_its_convex_hulls_with_its_own_mass_and_inertia():
    spec = get_object("bunny")
    world = MujocoWorld()
    MujocoHand(world, (0.0, 0.0, 0.5))
    body = create_body(world, spec, position=(0.5, 0.0, 0.5))
    m = world.m
    geoms = np.flatnonzero(m.geom_bodyid == body)
    assert len(geoms) == 4 and (m.geom_type[geoms] == mujoco.mjtGeom.mjGEOM_MESH).all()  # 4 hulls in its OBJ
    assert m.body_mass[body] == pytest.approx(spec.mass)
    np.testing.assert_allclose(m.body_inertia[body], spec.inertia)


def test_bodies_added_later_keep_the_palm_pose_and_dynamics_set_before():
    world = MujocoWorld()
    robot = MujocoHand(world, (0.0, 0.0, 0.5))
    first = world.create_primitive("box", [0.05] * 3, 0.1, position=(0.5, 0.0, 0.5))
    robot.set_palm_pose((0.0, 0.0, 0.5), WRISTS["thumb_up"])
    world.set_dynamics(first, mass=0.2, lateralFriction=0.3)
    tips = robot.fingertip_positions()
    world.create_primitive("sphere", [0.02] * 3, 0.01, position=(1.0, 0.0, 0.5))  # a recompile
    np.testing.assert_allclose(robot.fingertip_positions(), tips)
    assert world.m.body_mass[first] == pytest.approx(0.2)
    assert world.m.geom_friction[np.flatnonzero(world.m.geom_bodyid == first), 0] == pytest.approx(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("wrist", list(WRISTS))
def test_grasps_hold_400_steps_of_zero_actions_on_the_identified_mujoco_hand(wrist, dexndm_cache):
    """Grasps made in PyBullet, settled in MuJoCo: the servo holds the object for a whole episode."""
    env = gym.make(ROTATE, object=OBJECT, wrist=wrist, gap="mujoco_leap_sysid")
    try:
        env.reset(seed=0)
        start = env.unwrapped.object_pose()[0]
        for step in range(400):
            obs, _, terminated, _, info = env.step(np.zeros(16, np.float32))
            assert not terminated, f"dropped at step {step}"
        assert np.linalg.norm(env.unwrapped.object_pose()[0] - start) < 0.03
        assert env.unwrapped.episode_metrics()["ttf"] == 1.0
    finally:
        env.close()


def test_the_mujoco_env_observes_its_fingertip_contacts(warm_grasps):
    """The privileged observation's contact flags are the fingertips among the links touching the object
    (a held object touches some link of the hand)."""
    from dexndm_envs.interface import PRIVILEGED_LAYOUT

    env = gym.make(ROTATE, object=OBJECT, wrist="palm_up", gap="mujoco_ideal_pd", obs_mode="privileged")
    try:
        env.reset(seed=0)
        obs, *_ = env.step(np.zeros(16, np.float32))
        u = env.unwrapped
        touching = u.world.touching_links(u.objects.body, u.hand.body)
        assert touching and touching <= set(u.hand.link_index.values())
        flags = [float(tip in touching) for tip in u.hand.tip_ids]
        np.testing.assert_array_equal(obs[PRIVILEGED_LAYOUT["fingertip_contacts"]], flags)
    finally:
        env.close()


def _episode(env_id: str, seed: int, before: int | None = None, **kwargs) -> np.ndarray:
    """Episode ``seed`` of a new env, after an episode ``before`` in it if given."""
    env = gym.make(env_id, **kwargs)
    try:
        actions = np.random.default_rng(1).uniform(-0.5, 0.5, (30, 16)).astype(np.float32)
        if before is not None:
            env.reset(seed=before)
            for a in actions[:10]:
                env.step(a)
        obs, _ = env.reset(seed=seed)
        return np.array([obs, *[env.step(a)[0] for a in actions]])
    finally:
        env.close()


@pytest.mark.parametrize("env_id, kwargs", [
    (ROTATE, dict(object=OBJECT, wrist="palm_down", obs_mode="privileged")),
    (ROTATE, dict(object=OBJECT, wrist="palm_up", randomize=True)),  # drawn mass, friction, gains and pushes
    (BOX, dict(wrist="palm_down", balls=12)),
    (BOX, dict(wrist="palm_up")),
])
def test_same_seed_same_episode_on_the_mujoco_hand(warm_grasps, env_id, kwargs):
    """Whatever ran before it: a grasp first used after another episode settles into the same state as
    in a new env (the solver's warm start once carried the other episode into it)."""
    first = _episode(env_id, 3, gap="mujoco_leap_sysid", **kwargs)
    np.testing.assert_array_equal(first, _episode(env_id, 3, before=4, gap="mujoco_leap_sysid", **kwargs))
    assert np.isfinite(first).all()


def test_an_episode_on_the_virtual_hand_backed_by_mujoco(warm_grasps):
    """The virtual LEAP hand with a MuJoCo world behind its servo bus: the real-hand env drives it
    through dynamixel-sdk and reads the metrics from its tracker, as with PyBullet behind it."""
    from real.emulator.virtual_hand import VirtualHand

    with VirtualHand(gap="mujoco_leap_sysid", wrist="palm_up", object=OBJECT) as hand:
        assert isinstance(hand.env.world, MujocoWorld)
        env = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_up", tracker=hand.tracker_address)
        try:
            env.reset(seed=0)
            for _ in range(20):
                _, _, terminated, _, _ = env.step(np.zeros(16, np.float32))
            metrics = env.unwrapped.episode_metrics()
        finally:
            env.close()
    assert metrics["steps"] == 20 and np.isfinite(metrics["rot_rad"]) and not terminated
