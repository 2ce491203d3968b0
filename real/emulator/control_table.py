"""The XC330-M288 control table as the emulator serves it (reference/dynamixel.md).

Registers are little-endian in one byte array per servo. What matters for the LEAP hand is modelled:
EEPROM registers (address < 64) are writable only with torque off; read-only registers refuse writes;
values outside their range are refused with a data-range error; Goal Current may not exceed Current
Limit; Operating Mode accepts the XC330's modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from real.emulator.protocol import ErrorCode

VELOCITY_UNIT = 0.229 * 2.0 * math.pi / 60.0
"""Present Velocity register unit, rad/s (0.229 rpm)."""
MODEL_NUMBER = 1240
FIRMWARE_VERSION = 52
EEPROM_END = 64


@dataclass(frozen=True)
class Register:
    """One control-table entry: address, size in bytes, default, signedness, access, allowed range."""

    address: int
    size: int
    default: int = 0
    signed: bool = False
    read_only: bool = False
    low: int | None = None
    high: int | None = None


REGISTERS: dict[str, Register] = {
    "model_number": Register(0, 2, MODEL_NUMBER, read_only=True),
    "firmware_version": Register(6, 1, FIRMWARE_VERSION, read_only=True),
    "id": Register(7, 1, 1, low=0, high=252),
    "baud_rate": Register(8, 1, 1, low=0, high=6),
    "return_delay_time": Register(9, 1, 250, low=0, high=254),
    "operating_mode": Register(11, 1, 3),
    "current_limit": Register(38, 2, 2352, low=0, high=2352),
    "shutdown": Register(63, 1, 52),
    "torque_enable": Register(64, 1, 0, low=0, high=1),
    "hardware_error_status": Register(70, 1, 0, read_only=True),
    "position_d_gain": Register(80, 2, 500, low=0, high=16383),
    "position_i_gain": Register(82, 2, 0, low=0, high=16383),
    "position_p_gain": Register(84, 2, 1100, low=0, high=16383),
    "goal_current": Register(102, 2, 2352, signed=True),
    "goal_position": Register(116, 4, 2048, signed=True, low=-1_048_575, high=1_048_575),
    "present_current": Register(126, 2, 0, signed=True, read_only=True),
    "present_velocity": Register(128, 4, 0, signed=True, read_only=True),
    "present_position": Register(132, 4, 2048, signed=True, read_only=True),
    "present_input_voltage": Register(144, 2, 50, read_only=True),
    "present_temperature": Register(146, 1, 30, read_only=True),
}
OPERATING_MODES = (0, 1, 3, 4, 5, 16)
TABLE_SIZE = 147


class ControlTable:
    """The registers of one servo."""

    def __init__(self, device_id: int) -> None:
        self.memory = bytearray(TABLE_SIZE)
        for name, reg in REGISTERS.items():
            self.set(name, reg.default)
        self.set("id", device_id)

    # -- typed access (the emulator's own side) ------------------------------------------------------------
    def get(self, name: str) -> int:
        reg = REGISTERS[name]
        return int.from_bytes(self.memory[reg.address:reg.address + reg.size], "little", signed=reg.signed)

    def set(self, name: str, value: int) -> None:
        """Set a register regardless of access rules (present values, errors, reboots)."""
        reg = REGISTERS[name]
        self.memory[reg.address:reg.address + reg.size] = int(value).to_bytes(reg.size, "little", signed=reg.signed)

    # -- the bus side -----------------------------------------------------------------------------------
    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """(error code, data) for a READ of ``length`` bytes at ``address``."""
        if address < 0 or length < 1 or address + length > TABLE_SIZE:
            return ErrorCode.DATA_LENGTH, b""
        return 0, bytes(self.memory[address:address + length])

    def write(self, address: int, data: bytes) -> int:
        """Apply a WRITE of ``data`` at ``address``; returns the error code (0: done, nothing on error)."""
        if address < 0 or not data or address + len(data) > TABLE_SIZE:
            return ErrorCode.DATA_LENGTH
        touched = [(n, r) for n, r in REGISTERS.items()
                   if r.address < address + len(data) and address < r.address + r.size]
        staged = bytearray(self.memory)
        staged[address:address + len(data)] = data
        torque_on = self.get("torque_enable") == 1
        for name, reg in touched:
            if reg.read_only:
                return ErrorCode.ACCESS
            if reg.address < EEPROM_END and torque_on:
                return ErrorCode.ACCESS
            value = int.from_bytes(staged[reg.address:reg.address + reg.size], "little", signed=reg.signed)
            if (reg.low is not None and value < reg.low) or (reg.high is not None and value > reg.high):
                return ErrorCode.DATA_RANGE
            if name == "operating_mode" and value not in OPERATING_MODES:
                return ErrorCode.DATA_RANGE
            if name == "goal_current" and abs(value) > self.get("current_limit"):
                return ErrorCode.DATA_LIMIT
        self.memory = staged
        return 0
