"""The virtual hand end to end: dynamixel-sdk on the pseudo-terminal, physics behind the registers."""

from __future__ import annotations

import time

import dynamixel_sdk as dxl
import numpy as np
import pytest

from real.emulator.control_table import REGISTERS as R
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
        assert packets.write1ByteTxRx(port, i, R["operating_mode"].address, 5)[:2] == (dxl.COMM_SUCCESS, 0)
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
        packets.write1ByteTxRx(port, i, R["torque_enable"].address, 1)
    time.sleep(0.6)
    after = _positions(port, packets)
    # The 350 mA Goal Current limits the torque, so under load the finger may stop short of the goal:
    # it must move most of the way towards it and not past it.
    assert -150 - 30 < after[5] - before[5] < -60, f"joint 5 moved {after[5] - before[5]} ticks towards -150"


def test_dexndm_emulate_prints_its_port_and_stops_on_sigterm(warm_grasps, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "baselines.cli", "emulate", "--wrist", "palm_up"],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("port: /dev/pts/"), line
        port = dxl.PortHandler(line.split(": ", 1)[1])
        assert port.openPort()
        assert dxl.PacketHandler(2.0).ping(port, 15)[1] == dxl.COMM_SUCCESS
        port.closePort()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
