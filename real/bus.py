"""A Dynamixel Protocol 2.0 bus on dynamixel-sdk, addressed by control-table names.

One :class:`DynamixelBus` per serial port. Reads of the whole hand are one GroupSyncRead (which
dynamixel-sdk sends as FAST SYNC READ) of Present Current + Velocity + Position; writes to all motors
are one GroupSyncWrite. Communication failures are retried ``retries`` times (after a pause that lets
late replies pass, then a flush) and then raised as a :class:`BusError` naming the motors; servo
error bytes are decoded into words. Register values are encoded and decoded by :mod:`real.dynamixel`:
reads return signed registers (Present Current / Velocity / Position, Goal Current / Position) as
signed values, and a value that does not fit its register is refused (ValueError) before anything is sent.
"""

from __future__ import annotations

import time

import dynamixel_sdk as dxl
import numpy as np
import serial

from real.dynamixel import REGISTERS, Register, check_fits, decode, describe_error, encode, register, to_bytes

SETTLE_S = 0.08
"""Pause before a retry, s: longer than a late reply takes, so it is discarded rather than misread."""
_STATE = (REGISTERS["present_current"], REGISTERS["present_velocity"], REGISTERS["present_position"])
"""Adjacent registers, read in one exchange by :meth:`DynamixelBus.read_state`."""
_STATE_START = _STATE[0].address
_STATE_SIZE = _STATE[-1].address + _STATE[-1].size - _STATE_START


class BusError(RuntimeError):
    """A communication or servo error, naming the motor IDs involved."""

    def __init__(self, message: str, motors: list[int]) -> None:
        super().__init__(message)
        self.motors = motors


class DynamixelBus:
    """Motors ``ids`` on serial ``port`` (e.g. /dev/ttyUSB0 or the emulator's /dev/pts/N).

    Raises BusError if the port cannot be opened.
    """

    def __init__(self, port: str, ids=range(16), baudrate: int = 4_000_000, retries: int = 3) -> None:
        self.ids = list(ids)
        self.retries = retries
        self.retried = 0
        """Failed exchanges that a retry recovered or retried, since the bus was opened."""
        self.port = dxl.PortHandler(port)
        try:
            opened = self.port.openPort()
        except (OSError, serial.SerialException) as e:
            raise BusError(f"cannot open serial port {port}: {e}", self.ids) from e
        if not opened:
            raise BusError(f"cannot open serial port {port}", self.ids)
        if not self.port.setBaudRate(baudrate):
            self.port.closePort()
            raise BusError(f"cannot set {baudrate} baud on {port}", self.ids)
        self.packets = dxl.PacketHandler(2.0)
        self._read = dxl.GroupSyncRead(self.port, self.packets, _STATE_START, _STATE_SIZE)
        for i in self.ids:
            self._read.addParam(i)

    def _retry(self, what: str, motors: list[int], call):
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                # A reply that was only late would otherwise be taken for the answer to the retry.
                time.sleep(SETTLE_S)
                self.port.clearPort()
            result = call()
            if result[0] == dxl.COMM_SUCCESS:
                return result
        raise BusError(f"{what} failed {self.retries + 1} times for motor(s) {motors}: "
                       f"{self.packets.getTxRxResult(result[0])}", motors)

    def ping(self, motor: int) -> int:
        """The model number of one motor; BusError if it does not answer."""
        def once():
            model, comm, error = self.packets.ping(self.port, motor)
            return comm, model, error

        return self._retry("ping", [motor], once)[1]

    def scan(self) -> list[int]:
        """The IDs of ``ids`` that answer a ping."""
        return [i for i in self.ids if self.packets.ping(self.port, i)[1] == dxl.COMM_SUCCESS]

    def write(self, name: str, motor: int, value: int) -> None:
        """Write one register of one motor (with its reply checked); ValueError, with nothing sent, if
        the value does not fit the register."""
        reg = register(name)
        write = {1: self.packets.write1ByteTxRx, 2: self.packets.write2ByteTxRx, 4: self.packets.write4ByteTxRx}
        data = int(encode(reg, value))
        _, error = self._retry(f"write {name}", [motor], lambda: write[reg.size](self.port, motor, reg.address, data))
        if error:
            raise BusError(f"motor {motor} refused {name} = {value}: {describe_error(error)}", [motor])

    def sync_write(self, name: str, values: np.ndarray) -> None:
        """Write one register of every motor in one packet (``values`` in ``ids`` order); ValueError,
        with nothing sent, for a wrong number of values or one that does not fit the register."""
        reg = register(name)
        if len(values) != len(self.ids):
            raise ValueError(f"sync write {name}: {len(values)} values for motors {self.ids}")
        values = check_fits(reg, values)  # every value, before anything is sent
        group = dxl.GroupSyncWrite(self.port, self.packets, reg.address, reg.size)
        for motor, value in zip(self.ids, values):
            group.addParam(motor, list(to_bytes(reg, int(value))))
        self._retry(f"sync write {name}", self.ids, lambda: (group.txPacket(),))

    def _column(self, group: dxl.GroupSyncRead, reg: Register) -> np.ndarray:
        """Register ``reg`` of every motor from a group read that has been answered, decoded (int64)."""
        return decode(reg, [group.getData(i, reg.address, reg.size) for i in self.ids])

    def read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Present Position (ticks), Velocity (0.229 rpm units) and Current (mA) of every motor, signed
        int64 in ``ids`` order, from one FAST SYNC READ."""
        self._retry("state read", self.ids, lambda: (self._read.txRxPacket(),))
        current, velocity, position = (self._column(self._read, reg) for reg in _STATE)
        return position, velocity, current

    def sync_read(self, name: str) -> np.ndarray:
        """One register of every motor (``ids`` order), in one FAST SYNC READ: int64 values, negative
        where a signed register holds one."""
        reg = register(name)
        group = dxl.GroupSyncRead(self.port, self.packets, reg.address, reg.size)
        for i in self.ids:
            group.addParam(i)
        self._retry(f"read {name}", self.ids, lambda: (group.txRxPacket(),))
        return self._column(group, reg)

    def close(self) -> None:
        """Release the serial port."""
        self.port.closePort()
