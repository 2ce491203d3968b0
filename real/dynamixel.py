"""Dynamixel XC330-M288 facts: the control table, error codes, modes, and how register values are encoded.

The one place these live: the driver (:mod:`real.bus`, :mod:`real.leap_hand`) and the emulator
(:mod:`real.emulator`) both import them. Sources: the ROBOTIS e-manuals for the XC330-M288
(https://emanual.robotis.com/docs/en/dxl/x/xc330-m288/) and Protocol 2.0
(https://emanual.robotis.com/docs/en/dxl/protocol2/).

Registers are little-endian; a signed register holds its value in two's complement over its size.
:func:`encode` turns values into the unsigned contents that go on the wire, :func:`decode` turns
contents read back into values, and :func:`to_bytes` gives the little-endian bytes of one value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Literal

import numpy as np

VELOCITY_UNIT = 0.229 * 2.0 * math.pi / 60.0
"""Present Velocity register unit, rad/s (0.229 rpm)."""
MODEL_NUMBER = 1240
"""The XC330-M288's model number (what a PING answers)."""
FIRMWARE_VERSION = 52
EEPROM_END = 64
"""Registers below this address are EEPROM: writable only while Torque Enable is off."""
TABLE_SIZE = 147
"""Bytes of the control table that are modelled (through Present Temperature)."""


class OperatingMode(IntEnum):
    """Operating Mode register values the XC330 accepts."""

    CURRENT = 0
    VELOCITY = 1
    POSITION = 3
    EXTENDED_POSITION = 4
    CURRENT_BASED_POSITION = 5
    """The LEAP hand's mode: position control with the torque capped by Goal Current."""
    PWM = 16


class TorqueEnable(IntEnum):
    """Torque Enable register values."""

    OFF = 0
    ON = 1


class ErrorCode(IntEnum):
    """Low 7 bits of a status packet's ERR byte; ``HARDWARE_ALERT`` (bit 7) is a flag on top."""

    RESULT_FAIL = 1
    INSTRUCTION = 2
    CRC = 3
    DATA_RANGE = 4
    DATA_LENGTH = 5
    DATA_LIMIT = 6
    ACCESS = 7
    HARDWARE_ALERT = 0x80


ERROR_WORDS: dict[ErrorCode, str] = {
    ErrorCode.RESULT_FAIL: "result fail", ErrorCode.INSTRUCTION: "instruction error", ErrorCode.CRC: "CRC error",
    ErrorCode.DATA_RANGE: "data range error", ErrorCode.DATA_LENGTH: "data length error",
    ErrorCode.DATA_LIMIT: "data limit error", ErrorCode.ACCESS: "access error",
}


class HardwareError(IntFlag):
    """Hardware Error Status register bits."""

    INPUT_VOLTAGE = 1 << 0
    OVERHEATING = 1 << 2
    MOTOR_ENCODER = 1 << 3
    ELECTRICAL_SHOCK = 1 << 4
    OVERLOAD = 1 << 5


HARDWARE_WORDS: dict[HardwareError, str] = {
    HardwareError.INPUT_VOLTAGE: "input voltage error", HardwareError.OVERHEATING: "overheating",
    HardwareError.MOTOR_ENCODER: "motor encoder error", HardwareError.ELECTRICAL_SHOCK: "electrical shock",
    HardwareError.OVERLOAD: "overload",
}


def describe_error(error: int) -> str:
    """A servo status ERR byte in words ("no error" for 0)."""
    code = error & 0x7F
    words = [ERROR_WORDS.get(code, f"error {code}")] if code else []
    if error & ErrorCode.HARDWARE_ALERT:
        words.append("hardware alert (see Hardware Error Status)")
    return ", ".join(words) or "no error"


def describe_hardware_error(status: int) -> str:
    """A Hardware Error Status register value in words."""
    return ", ".join(text for bit, text in HARDWARE_WORDS.items() if status & bit) or f"status {status:#x}"


@dataclass(frozen=True)
class Register:
    """One control-table entry.

    ``address`` and ``size`` in bytes; ``default`` is the factory value; ``signed``: two's complement
    over ``size`` bytes; ``access``: "R" (read only) or "RW"; ``low`` / ``high``: the range the servo
    accepts on a write (None: any value the size holds).
    """

    name: str
    address: int
    size: Literal[1, 2, 4]
    default: int = 0
    signed: bool = False
    access: Literal["R", "RW"] = "RW"
    low: int | None = None
    high: int | None = None

    @property
    def read_only(self) -> bool:
        return self.access == "R"

    @property
    def eeprom(self) -> bool:
        """Whether the register is in EEPROM (writable only with torque off)."""
        return self.address < EEPROM_END

    @property
    def bounds(self) -> tuple[int, int]:
        """The smallest and largest value the register's size holds (signed or not)."""
        bits = 8 * self.size
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.signed else (0, (1 << bits) - 1)

    @property
    def dtype(self) -> np.dtype:
        """The little-endian numpy integer type of the register (``<i4``, ``<u2``, ...)."""
        return np.dtype(f"<{'i' if self.signed else 'u'}{self.size}")


def _registers(*registers: Register) -> dict[str, Register]:
    return {r.name: r for r in registers}


REGISTERS: dict[str, Register] = _registers(
    Register("model_number", 0, 2, MODEL_NUMBER, access="R"),
    Register("firmware_version", 6, 1, FIRMWARE_VERSION, access="R"),
    Register("id", 7, 1, 1, low=0, high=252),
    Register("baud_rate", 8, 1, 1, low=0, high=6),
    Register("return_delay_time", 9, 1, 250, low=0, high=254),
    Register("operating_mode", 11, 1, OperatingMode.POSITION),
    Register("current_limit", 38, 2, 2352, low=0, high=2352),
    Register("shutdown", 63, 1, 52),
    Register("torque_enable", 64, 1, TorqueEnable.OFF, low=TorqueEnable.OFF, high=TorqueEnable.ON),
    Register("hardware_error_status", 70, 1, 0, access="R"),
    Register("position_d_gain", 80, 2, 500, low=0, high=16383),
    Register("position_i_gain", 82, 2, 0, low=0, high=16383),
    Register("position_p_gain", 84, 2, 1100, low=0, high=16383),
    Register("goal_current", 102, 2, 2352, signed=True),
    Register("goal_position", 116, 4, 2048, signed=True, low=-1_048_575, high=1_048_575),
    Register("present_current", 126, 2, 0, signed=True, access="R"),
    Register("present_velocity", 128, 4, 0, signed=True, access="R"),
    Register("present_position", 132, 4, 2048, signed=True, access="R"),
    Register("present_input_voltage", 144, 2, 50, access="R"),
    Register("present_temperature", 146, 1, 30, access="R"),
)
"""The XC330-M288 registers the LEAP hand uses, by name."""

CONTROL_TABLE = np.dtype({
    "names": list(REGISTERS),
    "formats": [r.dtype for r in REGISTERS.values()],
    "offsets": [r.address for r in REGISTERS.values()],
    "itemsize": TABLE_SIZE,
})
"""One servo's control table as a numpy structured type: ``TABLE_SIZE`` bytes, one field per register
at its address with its size and signedness (an array of these is byte-exact control tables)."""


def register(name: str) -> Register:
    """The register called ``name``; ValueError listing the known names otherwise."""
    try:
        return REGISTERS[name]
    except KeyError:
        raise ValueError(f"unknown register {name!r}; known: {', '.join(REGISTERS)}") from None


def check_fits(reg: Register, values) -> np.ndarray:
    """``values`` as an int64 array; ValueError unless every one is an integer that ``reg`` holds
    (within :attr:`Register.bounds`)."""
    v = np.asarray(values)
    if v.dtype.kind not in "iub":
        v = v.astype(np.float64)  # exact: every register value has at most 32 bits
        if not np.array_equal(v, np.rint(v)):  # NaN and fractions
            _does_not_fit(reg, values)
    if v.size and (v.min() < reg.bounds[0] or v.max() > reg.bounds[1]):
        _does_not_fit(reg, values)
    return v.astype(np.int64)


def _does_not_fit(reg: Register, values) -> None:
    kind = "signed" if reg.signed else "unsigned"
    raise ValueError(f"{reg.name} is {kind} over {reg.size} byte(s): values must be integers in "
                     f"[{reg.bounds[0]}, {reg.bounds[1]}]; got {values!r}")


def encode(reg: Register, values) -> np.ndarray:
    """Register values -> unsigned register contents (int64; two's complement for a signed register).

    ValueError if a value is not an integer or does not fit the register's size.
    """
    return check_fits(reg, values) & ((1 << (8 * reg.size)) - 1)


def decode(reg: Register, raw) -> np.ndarray:
    """Unsigned register contents (as read off the bus) -> register values (int64; negative where a
    signed register's top bit is set)."""
    raw = np.asarray(raw, dtype=np.int64) & ((1 << (8 * reg.size)) - 1)
    if not reg.signed:
        return raw
    return np.where(raw >= 1 << (8 * reg.size - 1), raw - (1 << (8 * reg.size)), raw)


def to_bytes(reg: Register, value: int) -> bytes:
    """The little-endian bytes of one register value (ValueError if it does not fit)."""
    return int(encode(reg, value)).to_bytes(reg.size, "little")
