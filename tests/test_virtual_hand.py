"""The virtual hand end to end: dynamixel-sdk on the pseudo-terminal, physics behind the registers."""

from __future__ import annotations

import time

import dynamixel_sdk as dxl
import numpy as np
import pytest

from dexndm_envs.interface import latest_joint_positions, latest_target
from real.dynamixel import REGISTERS as R
from real.dynamixel import OperatingMode, TorqueEnable
from real.emulator.virtual_hand import VirtualHand


@pytest.fixture()
def sdk_hand(warm_grasps):
    with VirtualHand(wrist="palm_down") as hand:
        port = dxl.PortHandler(hand.port)
        assert port.openPort() and port.setBaudRate(4_000_000)
        yield hand, port, dxl.PacketHandler(2.0)
        port.closePort()


def _positions(port, packets) -> np.ndarray:
    read = dxl.GroupSyncRead(port, packets, R["present_current"].address, 10)
    for i in range(16):
        read.addParam(i)
    assert read.txRxPacket() == dxl.COMM_SUCCESS
    return np.array([read.getData(i, R["present_position"].address, 4) for i in range(16)])


def test_the_hand_holds_still_until_torque_is_enabled_then_follows_goals(sdk_hand):
    hand, port, packets = sdk_hand
    assert packets.ping(port, 7) == (1240, dxl.COMM_SUCCESS, 0)
    before = _positions(port, packets)
    time.sleep(0.2)
    assert np.array_equal(_positions(port, packets), before)  # frozen: no torque yet, nothing drops

    for i in range(16):  # the LEAP client's start-up sequence
        mode = OperatingMode.CURRENT_BASED_POSITION
        assert packets.write1ByteTxRx(port, i, R["operating_mode"].address, mode)[:2] == (dxl.COMM_SUCCESS, 0)
        packets.write2ByteTxRx(port, i, R["position_p_gain"].address, 800)
        packets.write2ByteTxRx(port, i, R["position_d_gain"].address, 200)
        packets.write2ByteTxRx(port, i, R["goal_current"].address, 350)
    goal = before.copy()
    goal[5] -= 150  # open the middle finger's flexion by ~0.23 rad, away from the object
    write = dxl.GroupSyncWrite(port, packets, R["goal_position"].address, 4)
    for i in range(16):
        write.addParam(i, list(int(goal[i]).to_bytes(4, "little", signed=True)))
    assert write.txPacket() == dxl.COMM_SUCCESS
    for i in range(16):
        packets.write1ByteTxRx(port, i, R["torque_enable"].address, TorqueEnable.ON)
    time.sleep(0.6)
    after = _positions(port, packets)
    # The 350 mA Goal Current limits the torque, so under load the finger may stop short of the goal:
    # it must move most of the way towards it and not past it.
    assert -150 - 30 < after[5] - before[5] < -60, f"joint 5 moved {after[5] - before[5]} ticks towards -150"


@pytest.mark.parametrize("scene, signal_name", [("rotate", "SIGTERM"), ("chaos_box", "SIGTERM"), ("rotate", "SIGINT")])
def test_dexndm_emulate_prints_its_port_and_stops_on_a_signal(warm_grasps, tmp_path, scene, signal_name):
    """`dexndm emulate` serves until SIGTERM or Ctrl-C, then closes the hand and exits with 0 (it once
    deadlocked in its SIGTERM handler; a hung emulator is killed here so it does not outlive the test)."""
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "baselines.cli", "emulate", "--wrist", "palm_up", "--scene", scene],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("port: /dev/pts/"), line
        tracker_line = proc.stdout.readline().strip()
        assert tracker_line.startswith("tracker: 127.0.0.1:"), tracker_line
        port = dxl.PortHandler(line.split(": ", 1)[1])
        assert port.openPort()
        assert dxl.PacketHandler(2.0).ping(port, 15)[1] == dxl.COMM_SUCCESS
        port.closePort()
    finally:
        proc.send_signal(getattr(signal, signal_name))
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert code == 0


def _wait_for(condition, timeout: float = 2.0) -> bool:
    """Poll: writes without a reply (SYNC WRITE) reach the emulator a moment after the SDK returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_real_env_on_the_virtual_hand(warm_grasps):
    import gymnasium as gym

    with VirtualHand(wrist="palm_down") as hand:
        env = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_down")
        sim = gym.make("DexNDM/LeapRotate-v0", object="cylinder_d55_ar20")
        try:
            assert env.action_space == sim.action_space and env.observation_space == sim.observation_space
            obs, _ = env.reset(seed=0)
            assert obs.shape == sim.observation_space.shape
            q0 = latest_joint_positions(obs)
            action = np.zeros(16, np.float32)
            action[5] = -1.0  # open the middle finger's flexion by 1/24 rad per step
            overruns = []
            for _ in range(40):
                obs, reward, terminated, truncated, info = env.step(action)
                overruns.append(info["overrun_s"])
            q, target = latest_joint_positions(obs), latest_target(obs)
            assert target[5] < q0[5] - 0.1
            assert q[5] < q0[5] - 0.15, "the finger follows its falling target"
            assert np.median(overruns) == 0.0
            with pytest.raises(ValueError, match="NaN"):
                env.step(np.full(16, np.nan, np.float32))
        finally:
            env.close()
            sim.close()
        assert _wait_for(lambda: all(hand.bus.tables[i].get("torque_enable") == 0 for i in range(16)))


def test_real_env_refuses_a_random_wrist(warm_grasps):
    import gymnasium as gym

    with VirtualHand(wrist="palm_down") as hand:
        with pytest.raises(ValueError, match="mounted one way"):
            gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="random")


def test_driver_refuses_unsafe_settings_and_missing_ports(tmp_path):
    from real.bus import BusError
    from real.leap_hand import LeapHand

    with pytest.raises(ValueError, match="goal_current_ma"):
        LeapHand(str(tmp_path / "nowhere"), goal_current_ma=900)
    with pytest.raises(BusError, match="cannot open serial port"):
        LeapHand(str(tmp_path / "nowhere"))


def test_driver_clamps_targets_to_the_joint_limits(warm_grasps):
    from dexndm_envs.hand import LOWER_LIMITS, UPPER_LIMITS
    from real.leap_hand import LeapHand

    with VirtualHand(wrist="palm_down") as hand, LeapHand(hand.port) as leap:
        sent = leap.command(np.full(16, 10.0))
        assert np.array_equal(sent, UPPER_LIMITS)
        sent = leap.command(np.full(16, -10.0))
        assert np.array_equal(sent, LOWER_LIMITS)


@pytest.mark.parametrize("spec", ["drop=1", "crc=1", "late=1"])
def test_under_bus_faults_the_driver_retries_raises_and_switches_torque_off(warm_grasps, spec):
    from real.bus import BusError
    from real.emulator.faults import parse_faults
    from real.leap_hand import LeapHand

    with VirtualHand(wrist="palm_down") as hand, LeapHand(hand.port, retries=2) as leap:
        leap.read()
        hand.faults = parse_faults(spec)  # from now on every reply is lost, corrupted or late
        with pytest.raises(BusError, match=r"failed 3 times for motor\(s\) \[0, 1, .*15\]"):
            leap.read()
        assert _wait_for(lambda: all(hand.bus.tables[i].get("torque_enable") == 0 for i in range(16)))


def test_an_overloaded_motor_is_named_and_torque_goes_off(warm_grasps):
    from real.bus import BusError
    from real.leap_hand import LeapHand

    with VirtualHand(wrist="palm_down", faults="overload=3@0.3") as hand, LeapHand(hand.port) as leap:
        leap.read()
        time.sleep(0.5)
        with pytest.raises(BusError, match="motor 3: overload") as err:
            leap.read()
        assert err.value.motors == [3]
        assert _wait_for(lambda: all(hand.bus.tables[i].get("torque_enable") == 0 for i in range(16)))


def test_fault_specs_are_checked():
    from real.emulator.faults import parse_faults

    assert parse_faults("crc=0.1,drop=0.2,late=0.05,overload=3@5,seed=4").overload_motor == 3
    with pytest.raises(ValueError, match="unknown fault 'noise'"):
        parse_faults("noise=0.1")
    with pytest.raises(ValueError, match="probability"):
        parse_faults("drop=2")


def test_real_env_with_the_tracker_reports_the_metrics(warm_grasps):
    import gymnasium as gym

    with VirtualHand(wrist="palm_up", object="cylinder_d55_ar20") as hand:
        env = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_up",
                       tracker=hand.tracker_address)
        try:
            env.reset(seed=0)
            for _ in range(20):
                _, _, terminated, _, info = env.step(np.zeros(16, np.float32))
            assert {"rot", "rot_step", "rotr_step", "rotp_step", "fell"} <= set(info)
            metrics = env.unwrapped.episode_metrics()
            assert metrics["steps"] == 20 and np.isfinite(metrics["rot_rad"])
            assert not terminated, "a held object does not fall in one second of zero actions"
        finally:
            env.close()


def test_place_object_puts_the_object_back_where_the_simulators_reset_starts(warm_grasps):
    """Between evaluation episodes on a hand the object goes back in: the virtual hand's placement for a
    seed is the gap env's reset with that seed (object, pose, joints), seen by the tracker."""
    import gymnasium as gym

    from dexndm_envs.interface import latest_joint_positions
    from real.tracker import TcpTracker

    scene = dict(object="cylinder_d55_ar20", wrist="palm_up")
    sim = gym.make("DexNDM/LeapRotate-v0", gap="leap_xc330", **scene)
    try:
        sim.reset(seed=5)
        obj = sim.unwrapped.objects.body
        position, quaternion = sim.unwrapped.world.body_pose(obj)
        q_sim = sim.unwrapped.hand.joint_state()[0]
    finally:
        sim.close()
    with VirtualHand(gap="leap_xc330", seed=0, **scene) as hand:
        real = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_up", tracker=hand.tracker_address)
        try:
            real.reset(seed=0)
            for _ in range(10):  # move the fingers away from the grasp first
                real.step(np.full(16, -1.0, np.float32))
            hand.place_object(5)
            tracker = TcpTracker(hand.tracker_address)
            seen = tracker.pose()
            tracker.close()
            obs, _ = real.reset(seed=0)
        finally:
            real.close()
    np.testing.assert_allclose(seen[0], position, atol=2e-3)
    assert abs(float(np.dot(seen[1], quaternion))) > 0.999
    np.testing.assert_allclose(latest_joint_positions(obs), q_sim, atol=0.03)  # the grasp's joints
    with VirtualHand(wrist="palm_up", scene="chaos_box") as box, pytest.raises(RuntimeError, match="rotate scene"):
        box.place_object(0)


def test_virtual_hand_agrees_with_the_in_process_gap_env(warm_grasps):
    """Same grasp, same actions: the emulator's joints track the gap env's far closer than the gap env
    tracks the ideal PD (benchmarks/emulator_vs_gap.py reports the numbers)."""
    import gymnasium as gym

    scene = dict(object="cylinder_d55_ar20", wrist="palm_up")
    actions = np.random.default_rng(0).uniform(-0.5, 0.5, (25, 16)).astype(np.float32)

    def run(env, options=None):
        obs, _ = env.reset(seed=0, options=options)
        return np.array([latest_joint_positions(env.step(a)[0]) for a in actions])

    gap, ideal = gym.make("DexNDM/LeapRotate-v0", gap="leap_xc330", **scene), gym.make("DexNDM/LeapRotate-v0", **scene)
    try:
        q_gap, q_ideal = run(gap), run(ideal)
        gap.reset(seed=0)
        start = gap.unwrapped.target.copy()
    finally:
        gap.close()
        ideal.close()
    with VirtualHand(gap="leap_xc330", seed=0, **scene) as hand:
        # The driver writes what the in-process hand assumes (leap_xc330: equal gains on every joint).
        real = gym.make("DexNDM/LeapRotateReal-v0", port=hand.port, wrist="palm_up", **hand.driver_settings)
        try:
            q_emu = run(real, {"target": start})
        finally:
            real.close()
    emu_vs_gap = np.sqrt(np.mean((q_emu - q_gap) ** 2))
    gap_vs_ideal = np.sqrt(np.mean((q_gap - q_ideal) ** 2))
    assert emu_vs_gap < 0.3 * gap_vs_ideal, (emu_vs_gap, gap_vs_ideal)


def test_unreachable_tracker_is_a_clear_error():
    from real.tracker import TcpTracker

    with pytest.raises(ValueError, match="cannot reach the tracker at '127.0.0.1:1'"):
        TcpTracker("127.0.0.1:1")
    with pytest.raises(ValueError, match="expected host:port"):
        TcpTracker("no-port-here")


def test_driver_refuses_a_target_of_the_wrong_shape(warm_grasps):
    from real.leap_hand import LeapHand

    with VirtualHand(wrist="palm_down") as hand, LeapHand(hand.port) as leap:
        with pytest.raises(ValueError, match=r"shape \(16,\)"):
            leap.command(np.zeros(15))


def test_driver_writes_the_official_clients_side_joint_gains(warm_grasps, tmp_path):
    from dexndm_envs.hand import SIDE_JOINTS
    from real.leap_hand import LeapHand

    side = np.isin(np.arange(16), SIDE_JOINTS)
    with VirtualHand(wrist="palm_down") as hand:
        with LeapHand(hand.port):  # default: 0.75 x P and D on motors 0, 4, 8, as the official client
            assert np.array_equal(hand.bus.get("position_p_gain"), np.where(side, 600, 800))
            assert np.array_equal(hand.bus.get("position_d_gain"), np.where(side, 150, 200))
        with LeapHand(hand.port, p_gain=600, side_gain_scale=1.0):
            assert np.array_equal(hand.bus.get("position_p_gain"), np.full(16, 600))
            assert np.array_equal(hand.bus.get("position_d_gain"), np.full(16, 200))
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"side_gain_scale must be in \(0, 1\]"):
            LeapHand(str(tmp_path / "nowhere"), side_gain_scale=bad)


def test_the_emulator_reads_the_wire_registers_as_its_profile_says(warm_grasps):
    """The identified hand on the virtual hand: the servos read P and D in current units with the
    profile's scales, and the side joints get what the driver wrote (0.75 x by default)."""
    from dexndm_envs.gap import load_gap
    from real.leap_hand import LeapHand

    expected, _ = load_gap("leap_sysid").make_actuator().pd_gains()
    with VirtualHand(gap="leap_sysid", wrist="palm_down") as hand:
        assert hand.driver_settings == {"goal_current_ma": 550, "p_gain": 800, "d_gain": 200, "side_gain_scale": 0.75}
        with LeapHand(hand.port, **hand.driver_settings) as leap:
            leap.command(leap.read()[0])
            time.sleep(0.1)  # a few physics steps: the servos have read the registers the driver wrote
            stiffness, _ = hand.env.actuator.pd_gains()
            assert hand.env.actuator.pd_units == "current"
            assert stiffness == pytest.approx(expected, rel=1e-3)  # P 600 on the side joints is 0.75 x 800 exactly
            assert np.array_equal(hand.bus.get("goal_current"), np.full(16, 550))
