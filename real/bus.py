"""A Dynamixel Protocol 2.0 bus on dynamixel-sdk, addressed by control-table names.

One :class:`DynamixelBus` per serial port. Reads of the whole hand are one GroupSyncRead (which
dynamixel-sdk sends as FAST SYNC READ) of Present Current + Velocity + Position; writes to all motors
are one GroupSyncWrite. Communication failures are retried ``retries`` times (after a pause that lets
late replies pass, then a flush) and then raised as a :class:`BusError` naming the motors; servo
error bytes and Hardware Error Status values are decoded into words.
"""

from __future__ import annotations

import time

import dynamixel_sdk as dxl
import numpy as np
import serial

from real.emulator.control_table import REGISTERS
from real.emulator.protocol import ErrorCode

SETTLE_S = 0.08
"""Pause before a retry, s: longer than a late reply takes, so it is discarded rather than misread."""
_ERRORS = {ErrorCode.RESULT_FAIL: "result fail", ErrorCode.INSTRUCTION: "instruction error",
           ErrorCode.CRC: "CRC error", ErrorCode.DATA_RANGE: "data range error",
           ErrorCode.DATA_LENGTH: "data length error", ErrorCode.DATA_LIMIT: "data limit error",
           ErrorCode.ACCESS: "access error"}
_STATE_START = REGISTERS["present_current"].address
_STATE_SIZE = REGISTERS["present_position"].address + 4 - _STATE_START


_HARDWARE = {0: "input voltage error", 2: "overheating", 3: "motor encoder error", 4: "electrical shock",
             5: "overload"}


def describe_hardware_error(status: int) -> str:
    """A Hardware Error Status register value in words."""
    return ", ".join(text for bit, text in _HARDWARE.items() if status & (1 << bit)) or f"status {status:#x}"


def describe_error(error: int) -> str:
    """A servo status ERR byte in words."""
    words = [_ERRORS.get(error & 0x7F, f"error {error & 0x7F}")] if error & 0x7F else []
    if error & ErrorCode.HARDWARE_ALERT:
        words.append("hardware alert (see Hardware Error Status)")
    return ", ".join(words) or "no error"


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
        """Write one register of one motor (with its reply checked)."""
        reg = REGISTERS[name]
        write = {1: self.packets.write1ByteTxRx, 2: self.packets.write2ByteTxRx, 4: self.packets.write4ByteTxRx}
        data = int(value) & ((1 << (8 * reg.size)) - 1)
        _, error = self._retry(f"write {name}", [motor], lambda: write[reg.size](self.port, motor, reg.address, data))
        if error:
            raise BusError(f"motor {motor} refused {name} = {value}: {describe_error(error)}", [motor])

    def sync_write(self, name: str, values: np.ndarray) -> None:
        """Write one register of every motor in one packet (``values`` in ``ids`` order)."""
        reg = REGISTERS[name]
        group = dxl.GroupSyncWrite(self.port, self.packets, reg.address, reg.size)
        for motor, value in zip(self.ids, values):
            group.addParam(motor, list(int(value).to_bytes(reg.size, "little", signed=reg.signed)))
        self._retry(f"sync write {name}", self.ids, lambda: (group.txPacket(),))

    def read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Present Position (ticks), Velocity (0.229 rpm units) and Current (mA) of every motor."""
        self._retry("state read", self.ids, lambda: (self._read.txRxPacket(),))

        def column(name: str) -> np.ndarray:
            reg = REGISTERS[name]
            raw = np.array([self._read.getData(i, reg.address, reg.size) for i in self.ids], dtype=np.int64)
            return np.where(raw >= 1 << (8 * reg.size - 1), raw - (1 << (8 * reg.size)), raw)

        return column("present_position"), column("present_velocity"), column("present_current")

    def sync_read(self, name: str) -> np.ndarray:
        """One register of every motor (``ids`` order), in one FAST SYNC READ."""
        reg = REGISTERS[name]
        group = dxl.GroupSyncRead(self.port, self.packets, reg.address, reg.size)
        for i in self.ids:
            group.addParam(i)
        self._retry(f"read {name}", self.ids, lambda: (group.txRxPacket(),))
        return np.array([group.getData(i, reg.address, reg.size) for i in self.ids], dtype=np.int64)

    def close(self) -> None:
        self.port.closePort()
