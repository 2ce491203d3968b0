"""The emulated servo bus, driven by dynamixel-sdk itself (its packet handler and group classes).

The SDK talks to the bus through a loopback port that hands every written packet to
``ServoBus.handle`` and returns the reply bytes; the pseudo-terminal of the full emulator replaces this
port, the bytes on the wire are the same.
"""

from __future__ import annotations

import time

import dynamixel_sdk as dxl
import numpy as np
import pytest

from real import dynamixel
from real.dynamixel import MODEL_NUMBER, REGISTERS, ErrorCode, HardwareError, OperatingMode, TorqueEnable
from real.emulator.bus import ServoBus
from real.emulator.protocol import PacketError, parse_packet


class LoopbackPort:
    """The part of dynamixel-sdk's PortHandler the packet handler uses, wired to a ServoBus."""

    def __init__(self, bus: ServoBus) -> None:
        self.bus, self.rx, self.is_using, self.baudrate = bus, bytearray(), False, 4_000_000
        self.packet_start_time, self.packet_timeout = 0.0, 0.0

    def clearPort(self) -> None:  # noqa: N802 (the SDK's names)
        self.rx.clear()

    def writePort(self, packet) -> int:  # noqa: N802
        data = bytes(packet)
        while data:
            try:
                parsed, used = parse_packet(data)
            except PacketError as e:
                parsed, used = None, e.args[1]
            if parsed is not None:
                self.rx += self.bus.handle(parsed)
            if used == 0:
                break
            data = data[used:]
        return len(packet)

    def readPort(self, length: int) -> list[int]:  # noqa: N802
        out = list(self.rx[:length])
        del self.rx[:length]
        return out

    def getBaudRate(self) -> int:  # noqa: N802
        return self.baudrate

    def getBytesAvailable(self) -> int:  # noqa: N802
        return len(self.rx)

    def setPacketTimeout(self, packet_length: int) -> None:  # noqa: N802
        self.packet_start_time, self.packet_timeout = time.time(), 0.02

    def setPacketTimeoutMillis(self, msec: float) -> None:  # noqa: N802
        self.packet_start_time, self.packet_timeout = time.time(), msec / 1000.0

    def isPacketTimeout(self) -> bool:  # noqa: N802
        return time.time() - self.packet_start_time > self.packet_timeout

    def getCurrentTime(self) -> float:  # noqa: N802
        return time.time() * 1000.0

    def getTimeSinceStart(self) -> float:  # noqa: N802
        return (time.time() - self.packet_start_time) * 1000.0


@pytest.fixture()
def hand():
    bus = ServoBus(range(16))
    return bus, LoopbackPort(bus), dxl.PacketHandler(2.0)


def test_ping_and_broadcast_ping(hand):
    bus, port, packets = hand
    model, result, error = packets.ping(port, 3)
    assert (model, result, error) == (MODEL_NUMBER, dxl.COMM_SUCCESS, 0)
    found, result = packets.broadcastPing(port)
    assert result == dxl.COMM_SUCCESS and sorted(found) == list(range(16))
    _, result, _ = packets.ping(port, 40)
    assert result != dxl.COMM_SUCCESS  # nobody answers for an absent ID


def test_leap_startup_sequence_and_eeprom_lock(hand):
    bus, port, packets = hand
    mode, torque = REGISTERS["operating_mode"].address, REGISTERS["torque_enable"].address
    assert packets.write1ByteTxRx(port, 0, mode, OperatingMode.CURRENT_BASED_POSITION)[:2] == (dxl.COMM_SUCCESS, 0)
    assert packets.write1ByteTxRx(port, 0, torque, TorqueEnable.ON)[:2] == (dxl.COMM_SUCCESS, 0)
    # EEPROM is locked while torque is on
    result, error = packets.write1ByteTxRx(port, 0, REGISTERS["operating_mode"].address, OperatingMode.POSITION)
    assert error == ErrorCode.ACCESS and bus.tables[0].get("operating_mode") == OperatingMode.CURRENT_BASED_POSITION
    assert packets.write2ByteTxRx(port, 0, REGISTERS["position_p_gain"].address, 800)[:2] == (dxl.COMM_SUCCESS, 0)
    assert packets.read2ByteTxRx(port, 0, REGISTERS["position_p_gain"].address) == (800, dxl.COMM_SUCCESS, 0)
    # Goal Current above Current Limit, a bad mode and read-only registers are refused
    assert packets.write2ByteTxRx(port, 1, REGISTERS["goal_current"].address, 3000)[1] == ErrorCode.DATA_LIMIT
    assert packets.write1ByteTxRx(port, 1, REGISTERS["operating_mode"].address, 2)[1] == ErrorCode.DATA_RANGE
    assert packets.write4ByteTxRx(port, 1, REGISTERS["present_position"].address, 7)[1] == ErrorCode.ACCESS


def test_sync_write_then_fast_sync_read_of_position_velocity_current(hand):
    bus, port, packets = hand
    write = dxl.GroupSyncWrite(port, packets, REGISTERS["goal_position"].address, 4)
    for i in range(16):
        assert write.addParam(i, list((1000 + i).to_bytes(4, "little")))
    assert write.txPacket() == dxl.COMM_SUCCESS
    assert [bus.tables[i].get("goal_position") for i in range(16)] == [1000 + i for i in range(16)]

    for i in range(16):  # what the physics side would publish
        bus.tables[i].set("present_position", 2048 + i)
        bus.tables[i].set("present_velocity", -i)
        bus.tables[i].set("present_current", 10 * i)
    start = REGISTERS["present_current"].address
    read = dxl.GroupSyncRead(port, packets, start, 10)  # current + velocity + position in one read
    for i in range(16):
        read.addParam(i)
    assert read.txRxPacket() == dxl.COMM_SUCCESS  # the SDK sends FAST SYNC READ
    for i in range(16):
        assert read.getData(i, REGISTERS["present_position"].address, 4) == 2048 + i
        assert read.getData(i, REGISTERS["present_current"].address, 2) == 10 * i
        velocity = read.getData(i, REGISTERS["present_velocity"].address, 4)
        assert velocity == (-i) & 0xFFFFFFFF


def test_bulk_read_and_reboot_clear_a_hardware_error(hand):
    bus, port, packets = hand
    bus.tables[4].set("hardware_error_status", HardwareError.OVERLOAD)
    _, _, error = packets.read1ByteTxRx(port, 4, REGISTERS["hardware_error_status"].address)
    assert error & ErrorCode.HARDWARE_ALERT
    bulk = dxl.GroupBulkRead(port, packets)
    assert bulk.addParam(2, REGISTERS["present_position"].address, 4)
    assert bulk.addParam(5, REGISTERS["model_number"].address, 2)
    assert bulk.txRxPacket() == dxl.COMM_SUCCESS
    assert bulk.getData(2, REGISTERS["present_position"].address, 4) == 2048
    assert bulk.getData(5, REGISTERS["model_number"].address, 2) == MODEL_NUMBER
    assert packets.reboot(port, 4)[0] == dxl.COMM_SUCCESS
    assert bus.tables[4].get("hardware_error_status") == 0 and bus.tables[4].get("torque_enable") == 0


# -- register encoding (real.dynamixel) and the driver's decoding ----------------------------------------

def test_encoding_round_trips_every_register_at_its_bounds_and_in_between():
    for reg in REGISTERS.values():
        low, high = reg.bounds
        values = np.array([low, low + 1, (low + high) // 2, high - 1, high])
        raw = dynamixel.encode(reg, values)
        assert raw.min() >= 0 and raw.max() < 1 << (8 * reg.size), reg.name
        assert np.array_equal(dynamixel.decode(reg, raw), values), reg.name
        for v in values:  # the bytes on the wire are Python's own two's complement, little-endian
            assert dynamixel.to_bytes(reg, int(v)) == int(v).to_bytes(reg.size, "little", signed=reg.signed)


def test_negative_values_are_twos_complement_over_the_registers_size():
    R = REGISTERS
    assert dynamixel.encode(R["goal_position"], -1) == 0xFFFF_FFFF
    assert dynamixel.encode(R["present_current"], [-1, -32768]).tolist() == [0xFFFF, 0x8000]
    assert dynamixel.decode(R["present_current"], [0xFFFF, 0x8000, 0x7FFF]).tolist() == [-1, -32768, 32767]
    assert dynamixel.decode(R["present_velocity"], 0x8000_0000) == -(1 << 31)
    assert dynamixel.decode(R["hardware_error_status"], 0xFF) == 255  # unsigned stays unsigned
    assert dynamixel.to_bytes(R["goal_current"], -2) == b"\xfe\xff"


@pytest.mark.parametrize("name, value", [("goal_current", 40_000), ("goal_current", -40_000),
                                         ("torque_enable", -1), ("goal_position", 1 << 31),
                                         ("position_p_gain", 1.5), ("goal_position", float("nan"))])
def test_a_value_that_does_not_fit_its_register_is_refused(name, value):
    with pytest.raises(ValueError, match=rf"{name} is (un)?signed over \d byte\(s\): values must be integers in"):
        dynamixel.encode(REGISTERS[name], value)


def test_modes_and_register_map_are_the_manuals():
    assert dynamixel.OperatingMode.CURRENT_BASED_POSITION == 5 and dynamixel.TorqueEnable.ON == 1
    assert dynamixel.describe_hardware_error(dynamixel.HardwareError.OVERLOAD) == "overload"
    assert dynamixel.describe_error(dynamixel.ErrorCode.ACCESS | dynamixel.ErrorCode.HARDWARE_ALERT) == (
        "access error, hardware alert (see Hardware Error Status)")
    table = dynamixel.CONTROL_TABLE
    assert table.itemsize == dynamixel.TABLE_SIZE
    for name, reg in REGISTERS.items():
        assert table.fields[name][1] == reg.address and table.fields[name][0] == reg.dtype
    with pytest.raises(ValueError, match="unknown register 'goal_speed'; known: model_number"):
        dynamixel.register("goal_speed")


def test_the_bank_and_the_packet_side_see_the_same_bytes():
    bus = ServoBus(range(3))
    bus.set("present_velocity", [-1, 0, 7])
    assert bus.tables[0].read(REGISTERS["present_velocity"].address, 4) == (0, b"\xff\xff\xff\xff")
    assert bus.tables[2].get("present_velocity") == 7 and bus.get("id").tolist() == [0, 1, 2]
    assert bus.tables[1].write(REGISTERS["goal_position"].address, (-5).to_bytes(4, "little", signed=True)) == 0
    assert bus.get("goal_position").tolist() == [2048, -5, 2048]
    with pytest.raises(ValueError, match="present_current is signed over 2 byte"):
        bus.set("present_current", [40_000, 0, 0])


@pytest.fixture()
def driver(monkeypatch):
    """real.bus.DynamixelBus talking to an emulated ServoBus through the loopback port."""
    from real.bus import DynamixelBus

    servos = ServoBus(range(16))

    class Port(LoopbackPort):
        def __init__(self, name: str) -> None:
            super().__init__(servos)

        def openPort(self) -> bool:  # noqa: N802
            return True

        def setBaudRate(self, baudrate: int) -> bool:  # noqa: N802
            return True

        def closePort(self) -> None:  # noqa: N802
            pass

    monkeypatch.setattr(dxl, "PortHandler", Port)
    bus = DynamixelBus("loopback")
    yield servos, bus
    bus.close()


def test_sync_read_and_read_state_return_signed_registers_as_signed_values(driver):
    servos, bus = driver
    k = np.arange(16)
    servos.set("present_position", k - 8)  # negative ticks: an extended-position servo past zero
    servos.set("present_velocity", -k - 1)
    servos.set("present_current", -10 * k)
    assert np.array_equal(bus.sync_read("present_velocity"), -k - 1)
    assert np.array_equal(bus.sync_read("present_current"), -10 * k)
    position, velocity, current = bus.read_state()
    assert np.array_equal(position, k - 8) and np.array_equal(velocity, -k - 1) and np.array_equal(current, -10 * k)
    bus.sync_write("goal_current", -20 * k)
    assert np.array_equal(bus.sync_read("goal_current"), -20 * k)
    bus.write("goal_position", 3, -5)
    assert bus.sync_read("goal_position")[3] == -5
    assert np.array_equal(bus.sync_read("model_number"), np.full(16, MODEL_NUMBER))


def test_the_driver_sends_nothing_that_does_not_fit(driver):
    servos, bus = driver
    with pytest.raises(ValueError, match="goal_position is signed over 4 byte"):
        bus.write("goal_position", 3, 1 << 31)
    with pytest.raises(ValueError, match="goal_current is signed over 2 byte"):
        bus.sync_write("goal_current", np.full(16, 40_000))
    with pytest.raises(ValueError, match="3 values for motors"):
        bus.sync_write("goal_current", np.zeros(3))
    assert servos.get("goal_position")[3] == 2048 and (servos.get("goal_current") == 2352).all()
