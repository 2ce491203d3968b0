"""The LEAP hand model against the public LEAP hand facts (joint order, limits, motor ticks)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pybullet as pb
import pytest

from dexndm_envs import hand, urdf
from dexndm_envs.actuators import IdealPD
from dexndm_envs.poses import WRISTS
from dexndm_envs.robot import SimHand
from dexndm_envs.rotations import quat_to_matrix
from dexndm_envs.world import PHYSICS_HZ, World

PI2 = np.pi / 2

# Joint limits table of the reference, motor order.
REFERENCE_LIMITS = {
    **{j: (-0.314, 2.23) for j in (1, 5, 9)},
    **{j: (-1.047, 1.047) for j in (0, 4, 8)},
    **{j: (-0.506, 1.885) for j in (2, 6, 10)},
    **{j: (-0.366, 2.042) for j in (3, 7, 11)},
    12: (-0.349, 2.094),
    13: (-0.47, 2.443),
    14: (-1.20, 1.90),
    15: (-1.34, 1.88),
}

# Joint origins (xyz, rpy) of the reference table.
REFERENCE_ORIGINS = {
    "1": ((-0.00710, 0.02306, -0.01872), (PI2, PI2, 0)),
    "5": ((-0.00710, -0.02239, -0.01872), (PI2, PI2, 0)),
    "9": ((-0.00710, -0.06784, -0.01872), (PI2, PI2, 0)),
    **{j: ((-0.0122, 0.0381, 0.0145), (-PI2, 0, PI2)) for j in ("0", "4", "8")},
    **{j: ((0.0150, 0.0143, -0.0130), (PI2, -PI2, 0)) for j in ("2", "6", "10")},
    **{j: ((0.0, -0.0361, 0.0002), (0, 0, 0)) for j in ("3", "7", "11")},
    "12": ((-0.06940, -0.00124, -0.02162), (0, PI2, 0)),
    "13": ((0.0, 0.0143, -0.0130), (PI2, -PI2, 0)),
    "14": ((0.0, 0.0145, -0.0170), (-PI2, 0, 0)),
    "15": ((0.0, 0.0466, 0.0002), (0, 0, np.pi)),
}

# Kinematic chains of the reference, palm outwards (joint names).
REFERENCE_CHAINS = [("1", "0", "2", "3"), ("5", "4", "6", "7"), ("9", "8", "10", "11"), ("12", "13", "14", "15")]

REFERENCE_TIPS_AT_ZERO = np.array([
    [0.130, 0.0077, -0.0195],   # index
    [0.130, -0.0378, -0.0195],  # middle
    [0.130, -0.0832, -0.0195],  # ring
    [-0.082, 0.137, -0.022],    # thumb
])


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def sim_hand(world):
    """A hand with its palm frame at the world origin, identity orientation."""
    return SimHand(world, position=(0.0, 0.0, 0.0), orientation=(0.0, 0.0, 0.0, 1.0))


def joint_infos(sim_hand) -> dict[str, tuple]:
    """PyBullet getJointInfo of every joint of the loaded hand, by joint name."""
    c = sim_hand.world.client
    count = pb.getNumJoints(sim_hand.body, physicsClientId=c)
    infos = [pb.getJointInfo(sim_hand.body, i, physicsClientId=c) for i in range(count)]
    return {info[1].decode(): info for info in infos}


# -- facts in hand.py -----------------------------------------------------------------------------------
def test_joint_names_are_motor_ids():
    assert hand.NUM_JOINTS == 16
    assert hand.JOINT_NAMES == tuple(str(i) for i in range(16))


def test_joint_limits_in_motor_order_match_reference():
    expected = np.array([REFERENCE_LIMITS[i] for i in range(16)])
    assert hand.JOINT_LIMITS.shape == (16, 2)
    np.testing.assert_allclose(hand.JOINT_LIMITS, expected, atol=1e-12)
    np.testing.assert_array_equal(hand.LOWER_LIMITS, expected[:, 0])
    np.testing.assert_array_equal(hand.UPPER_LIMITS, expected[:, 1])


def test_fingers_group_motor_ids():
    assert hand.FINGERS == {"index": (0, 1, 2, 3), "middle": (4, 5, 6, 7), "ring": (8, 9, 10, 11),
                            "thumb": (12, 13, 14, 15)}


def test_kinematic_tree_origins_match_reference():
    specs = {j.name: j for j in hand.KINEMATIC_TREE}
    assert sorted(specs, key=int) == list(hand.JOINT_NAMES)
    for name, (xyz, rpy) in REFERENCE_ORIGINS.items():
        np.testing.assert_allclose(specs[name].xyz, xyz, atol=1e-9, err_msg=f"joint {name} xyz")
        np.testing.assert_allclose(specs[name].rpy, rpy, atol=1e-9, err_msg=f"joint {name} rpy")


def test_kinematic_tree_chains_match_reference():
    specs = {j.name: j for j in hand.KINEMATIC_TREE}
    for chain in REFERENCE_CHAINS:
        assert specs[chain[0]].parent == "palm"
        for parent, child in zip(chain, chain[1:]):
            assert specs[child].parent == specs[parent].child, f"joint {child} should follow joint {parent}"


def test_effort_velocity_and_axis():
    assert hand.EFFORT_LIMIT == pytest.approx(0.95)
    assert hand.VELOCITY_LIMIT == pytest.approx(8.48)
    assert hand.JOINT_AXIS == (0.0, 0.0, -1.0)


def test_total_link_mass_is_reference_mass():
    assert sum(hand.LINK_MASSES.values()) == pytest.approx(0.746, abs=1e-9)
    assert len(hand.LINK_MASSES) == 17  # palm + 16 links


def test_palm_box_is_reference_size():
    extents = [hi - lo for lo, hi in hand.PALM_BOX]
    np.testing.assert_allclose(extents, [0.103, 0.125, 0.046], atol=1e-3)


def test_canonical_pose_is_reference_pose_and_within_limits():
    reference = [-1.047, 0.1458, 1.7247, -0.2187, 0.029, -0.1054, 1.6039, 0.1227,
                 0.9652, -0.1084, 1.7317, 0.1071, 1.2985, 1.6139, 0.9757, 1.0728]
    np.testing.assert_allclose(hand.CANONICAL_POSE, reference, atol=1e-12)
    for pose in (hand.CANONICAL_POSE, hand.WRAP_POSE):
        assert pose.shape == (16,)
        assert np.all(pose >= hand.LOWER_LIMITS) and np.all(pose <= hand.UPPER_LIMITS)


# -- sim <-> real angles ----------------------------------------------------------------------------------
def test_flat_hand_is_2048_ticks():
    ticks = hand.urdf_to_ticks(np.zeros(16))
    assert ticks.shape == (16,)
    assert np.issubdtype(ticks.dtype, np.integer)
    np.testing.assert_array_equal(ticks, 2048)
    np.testing.assert_allclose(hand.ticks_to_urdf(np.full(16, 2048)), 0.0, atol=1e-12)


def test_ticks_convention_no_sign_flip():
    # motor = urdf + pi, 4096 ticks per turn: +pi/2 -> 3072, -pi/2 -> 1024.
    np.testing.assert_array_equal(hand.urdf_to_ticks(np.array([np.pi / 2, -np.pi / 2])), [3072, 1024])
    np.testing.assert_allclose(hand.ticks_to_urdf(np.array([3072, 1024, 0])), [np.pi / 2, -np.pi / 2, -np.pi])


def test_ticks_round_trip():
    ticks = np.arange(0, 4096)
    np.testing.assert_array_equal(hand.urdf_to_ticks(hand.ticks_to_urdf(ticks)), ticks)
    rng = np.random.default_rng(0)
    q = rng.uniform(hand.LOWER_LIMITS, hand.UPPER_LIMITS, (200, 16))
    back = hand.ticks_to_urdf(hand.urdf_to_ticks(q))
    assert np.max(np.abs(back - q)) <= np.pi / 4096 + 1e-12  # half a tick


# -- the URDF -------------------------------------------------------------------------------------------
def test_shipped_urdf_equals_generator_output():
    assert urdf.URDF_PATH.name == "leap_hand.urdf"
    assert urdf.URDF_PATH.read_text() == urdf.generate_urdf(), (
        "assets/leap_hand.urdf is stale: regenerate it with `python -m dexndm_envs.urdf`")


def test_generate_urdf_is_deterministic():
    assert urdf.generate_urdf() == urdf.generate_urdf()


def test_loaded_joint_ids_map_names_to_motor_order(sim_hand):
    c = sim_hand.world.client
    assert len(sim_hand.joint_ids) == 16
    assert len(set(sim_hand.joint_ids)) == 16
    for motor, index in enumerate(sim_hand.joint_ids):
        name = pb.getJointInfo(sim_hand.body, index, physicsClientId=c)[1].decode()
        assert name == hand.JOINT_NAMES[motor], f"motor {motor} is mapped to PyBullet joint {name!r}"
    # File order differs from motor order, so the mapping is not the identity.
    assert sim_hand.joint_ids != list(range(16))


def test_loaded_joint_limits_effort_velocity_axis(sim_hand):
    infos = joint_infos(sim_hand)
    assert sorted(infos, key=int) == list(hand.JOINT_NAMES)
    for motor, name in enumerate(hand.JOINT_NAMES):
        info = infos[name]
        assert info[2] == pb.JOINT_REVOLUTE
        assert (info[8], info[9]) == pytest.approx(tuple(hand.JOINT_LIMITS[motor]), abs=1e-9), f"joint {name}"
        assert info[10] == pytest.approx(0.95)
        assert info[11] == pytest.approx(8.48)


def test_urdf_joint_axes_and_limits():
    """Every joint: axis (0 0 -1) in its frame, effort 0.95 N m, velocity 8.48 rad/s, table limits."""
    root = ET.fromstring(urdf.URDF_PATH.read_text())
    joints = {j.get("name"): j for j in root.iter("joint")}
    assert sorted(joints, key=int) == list(hand.JOINT_NAMES)
    for motor, name in enumerate(hand.JOINT_NAMES):
        joint = joints[name]
        assert joint.get("type") == "revolute"
        np.testing.assert_allclose([float(x) for x in joint.find("axis").get("xyz").split()], [0, 0, -1])
        limit = joint.find("limit")
        assert float(limit.get("effort")) == pytest.approx(0.95)
        assert float(limit.get("velocity")) == pytest.approx(8.48)
        assert (float(limit.get("lower")), float(limit.get("upper"))) == pytest.approx(REFERENCE_LIMITS[motor])


def test_loaded_tree_follows_reference_chains(sim_hand):
    infos = joint_infos(sim_hand)
    index_of = {name: info[0] for name, info in infos.items()}
    for chain in REFERENCE_CHAINS:
        assert infos[chain[0]][16] == -1, f"joint {chain[0]} should sit in the palm"
        for parent, child in zip(chain, chain[1:]):
            assert infos[child][16] == index_of[parent], f"joint {child} should follow joint {parent}"


def test_loaded_masses_total_reference_mass():
    c = pb.connect(pb.DIRECT)
    try:  # a free base: PyBullet reports a fixed base's mass as 0
        body = pb.loadURDF(str(urdf.URDF_PATH), useFixedBase=False, flags=pb.URDF_USE_INERTIA_FROM_FILE,
                           physicsClientId=c)
        names = [pb.getJointInfo(body, i, physicsClientId=c)[12].decode() for i in range(16)]
        masses = {"palm": pb.getDynamicsInfo(body, -1, physicsClientId=c)[0]}
        masses.update({name: pb.getDynamicsInfo(body, i, physicsClientId=c)[0] for i, name in enumerate(names)})
    finally:
        pb.disconnect(c)
    assert masses == pytest.approx(hand.LINK_MASSES, abs=1e-9)
    assert sum(masses.values()) == pytest.approx(0.746, abs=1e-6)


def test_fingertip_contact_points_at_zero_match_reference(sim_hand):
    sim_hand.set_palm_pose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    sim_hand.set_joint_state(np.zeros(16))
    tips = sim_hand.fingertip_positions()
    assert tips.shape == (4, 3)
    np.testing.assert_allclose(tips, REFERENCE_TIPS_AT_ZERO, atol=2e-3)
    # Finger pitch 45.45 mm.
    np.testing.assert_allclose(np.diff(tips[:3, 1]), -0.04545, atol=5e-4)


def test_fingertips_follow_the_palm_pose(sim_hand):
    position = np.array([0.1, -0.2, 0.3])
    for quat in (WRISTS["palm_up"], WRISTS["thumb_down"], WRISTS["base_up"]):
        sim_hand.set_palm_pose(position, quat)
        sim_hand.set_joint_state(np.zeros(16))
        expected = position + REFERENCE_TIPS_AT_ZERO @ quat_to_matrix(quat).T
        np.testing.assert_allclose(sim_hand.fingertip_positions(), expected, atol=2e-3)
    sim_hand.set_palm_pose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))


@pytest.mark.parametrize("finger", ["index", "middle", "ring"])
def test_flexion_moves_only_its_fingertip_towards_the_palm_side(sim_hand, finger):
    sim_hand.set_palm_pose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    sim_hand.set_joint_state(np.zeros(16))
    before = sim_hand.fingertip_positions()
    f = hand.FINGERTIP_NAMES.index(finger)
    side, flex, pip, dip = hand.FINGERS[finger]
    for joint in (flex, pip, dip):
        q = np.zeros(16)
        q[joint] = 0.5
        sim_hand.set_joint_state(q)
        after = sim_hand.fingertip_positions()
        assert after[f, 2] < before[f, 2] - 0.005, f"positive joint {joint} should move the {finger} tip to -z"
        others = [i for i in range(4) if i != f]
        np.testing.assert_allclose(after[others], before[others], atol=1e-9)
    # The side joint moves the tip sideways (along y), not towards the palm.
    q = np.zeros(16)
    q[side] = 0.3
    sim_hand.set_joint_state(q)
    after = sim_hand.fingertip_positions()
    assert abs(after[f, 1] - before[f, 1]) > 0.02
    assert abs(after[f, 2] - before[f, 2]) < 1e-3
    sim_hand.set_joint_state(np.zeros(16))


def test_thumb_joints_move_only_the_thumb(sim_hand):
    sim_hand.set_palm_pose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    sim_hand.set_joint_state(np.zeros(16))
    # Bend the thumb a little first: at q = 0 the tip lies on joint 13's axis.
    bent = np.zeros(16)
    bent[[14, 15]] = 0.5
    sim_hand.set_joint_state(bent)
    before = sim_hand.fingertip_positions()
    for joint in hand.FINGERS["thumb"]:
        q = bent.copy()
        q[joint] += 0.3
        sim_hand.set_joint_state(q)
        after = sim_hand.fingertip_positions()
        np.testing.assert_allclose(after[:3], before[:3], atol=1e-9)
        assert np.linalg.norm(after[3] - before[3]) > 0.005, f"joint {joint} should move the thumb tip"
    sim_hand.set_joint_state(np.zeros(16))


def test_joint_state_round_trip_in_motor_order(sim_hand):
    q = np.linspace(-0.2, 0.9, 16)
    sim_hand.set_joint_state(q)
    got, qdot = sim_hand.joint_state()
    np.testing.assert_allclose(got, q, atol=1e-12)
    np.testing.assert_allclose(qdot, 0.0, atol=1e-12)
    # Read through PyBullet by name: motor m is the joint named str(m).
    infos = joint_infos(sim_hand)
    c = sim_hand.world.client
    for motor in range(16):
        state = pb.getJointState(sim_hand.body, infos[str(motor)][0], physicsClientId=c)
        assert state[0] == pytest.approx(q[motor])
    sim_hand.set_joint_state(np.zeros(16))


# -- stability of the explicit 120 Hz torque PD ---------------------------------------------------------
@pytest.mark.parametrize("pose_name", ["zero", "canonical"])
def test_armature_keeps_explicit_pd_stable(pose_name):
    """The check documented in hand.JOINT_ARMATURE: dt Kd max eig(M^-1) < 1."""
    pose = np.zeros(16) if pose_name == "zero" else hand.CANONICAL_POSE
    c = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(urdf.URDF_PATH), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE,
                           physicsClientId=c)
        n = pb.getNumJoints(body, physicsClientId=c)
        assert n == 16
        index_of = {pb.getJointInfo(body, i, physicsClientId=c)[1].decode(): i for i in range(n)}
        q_pybullet = [0.0] * n
        for motor, name in enumerate(hand.JOINT_NAMES):
            q_pybullet[index_of[name]] = float(pose[motor])
        mass_matrix = np.array(pb.calculateMassMatrix(body, q_pybullet, physicsClientId=c))
    finally:
        pb.disconnect(c)
    assert mass_matrix.shape == (16, 16)
    max_eig = np.max(np.linalg.eigvalsh(np.linalg.inv(mass_matrix)))
    assert (1.0 / 120.0) * 0.1 * max_eig < 1.0


@pytest.mark.parametrize("wrist", ["palm_up", "palm_down"])
def test_ideal_pd_tracks_a_target_without_blowing_up(wrist):
    """The paper's PD (Kp 3, Kd 0.1, 0.5 N m) at 120 Hz drives the bare hand to a target and holds it."""
    world = World()
    try:
        robot = SimHand(world, (0.0, 0.0, 0.5), WRISTS[wrist])
        actuator = IdealPD()
        robot.set_joint_state(np.zeros(16))
        actuator.reset(np.zeros(16))
        target = np.clip(0.5 * hand.WRAP_POSE, hand.LOWER_LIMITS, hand.UPPER_LIMITS)
        peak_speed = 0.0
        for _ in range(2 * PHYSICS_HZ):
            q, qdot = robot.joint_state()
            robot.apply_torques(actuator.torque(target, q, qdot))
            world.step()
            peak_speed = max(peak_speed, float(np.max(np.abs(qdot))))
        q, qdot = robot.joint_state()
    finally:
        world.close()
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(qdot))
    assert np.max(np.abs(q - target)) < 0.05
    assert np.max(np.abs(qdot)) < 0.2
    assert peak_speed < 20.0


def test_ideal_pd_torque_law_and_clip():
    pd = IdealPD(kp=3.0, kd=0.1, torque_limit=0.5)
    pd.reset(np.zeros(16))
    target = np.zeros(16)
    q = np.full(16, -0.1)
    qdot = np.full(16, 0.5)
    np.testing.assert_allclose(pd.torque(target, q, qdot), 3.0 * 0.1 - 0.1 * 0.5)
    np.testing.assert_allclose(pd.torque(target, np.full(16, -1.0), np.zeros(16)), 0.5)
    np.testing.assert_allclose(pd.torque(target, np.full(16, 1.0), np.zeros(16)), -0.5)
    pd.reset(np.zeros(16), gain_scale=np.full(16, 2.0))
    np.testing.assert_allclose(pd.torque(target, q, np.zeros(16)), 0.5)  # 6 * 0.1 clipped
    with pytest.raises(ValueError):
        IdealPD(kp=-1.0)


class RecordingPD(IdealPD):
    """The paper's PD, remembering the joint state each call was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def torque(self, target, q, qdot):
        self.seen.append(np.array(q))
        return super().torque(target, q, qdot)


def test_actuated_step_reuses_the_last_reading_until_the_simulation_changes():
    """A substep's actuator sees the joints as they are: the previous substep's reading while nothing
    happened in between, a fresh read after a teleport, a restored state or a bare physics step."""
    world = World()
    try:
        robot = SimHand(world, (0.0, 0.0, 0.5), WRISTS["palm_up"])
        pd = RecordingPD()
        robot.set_joint_state(np.zeros(16))
        target = np.full(16, 0.3)
        _, q1, _ = robot.actuated_step(pd, target)
        saved = world.save_state()
        robot.actuated_step(pd, target)
        np.testing.assert_array_equal(pd.seen[1], q1)  # reused: the same reading
        robot.set_joint_state(np.full(16, 0.1))
        robot.actuated_step(pd, target)
        np.testing.assert_allclose(pd.seen[2], 0.1, atol=1e-12)  # after a teleport: read again
        world.restore_state(saved)
        _, q4, _ = robot.actuated_step(pd, target)
        np.testing.assert_array_equal(pd.seen[3], q1)  # after a restore: the restored joints
        world.step()
        moved = robot.joint_state()[0]
        robot.actuated_step(pd, target)
        assert not np.array_equal(moved, q4)
        np.testing.assert_array_equal(pd.seen[4], moved)  # after a bare physics step: read again
    finally:
        world.close()
