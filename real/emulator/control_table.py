"""The emulated servos' control tables: byte-exact registers, and the write rules the XC330 enforces.

The registers of all servos on a bus live in one numpy array of :data:`real.dynamixel.CONTROL_TABLE`
records (:func:`register_bank`): the packet side reads and writes bytes of one servo's record
(:class:`ControlTable`), the physics side reads and writes a whole register of every servo at once
(``bank["goal_position"]``). What matters for the LEAP hand is modelled: EEPROM registers are writable
only with torque off; read-only registers refuse writes; values outside their range are refused with a
data-range error; Goal Current may not exceed Current Limit; Operating Mode accepts the XC330's modes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from real.dynamixel import (
    CONTROL_TABLE,
    REGISTERS,
    TABLE_SIZE,
    ErrorCode,
    OperatingMode,
    TorqueEnable,
    check_fits,
    register,
)

_MODES = frozenset(OperatingMode)


def register_bank(ids: Iterable[int]) -> np.ndarray:
    """Factory-fresh control tables for servos ``ids``: one CONTROL_TABLE record per servo, in order."""
    ids = list(ids)
    bank = np.zeros(len(ids), dtype=CONTROL_TABLE)
    for name, reg in REGISTERS.items():
        bank[name] = reg.default
    bank["id"] = ids
    return bank


class ControlTable:
    """The registers of one servo: a view of one record of a register bank (writes go to the bank).

    ``record`` is a one-element slice of a :func:`register_bank` array.
    """

    def __init__(self, record: np.ndarray) -> None:
        if record.dtype != CONTROL_TABLE or record.shape != (1,):
            raise ValueError("a ControlTable views one record of a register bank (bank[k:k + 1])")
        self._record = record
        self.memory = record.view(np.uint8)
        """The TABLE_SIZE bytes of the table, little-endian, as the bus sees them."""

    # -- typed access (the emulator's own side) ------------------------------------------------------------
    def get(self, name: str) -> int:
        """The value of register ``name`` (negative where a signed register holds one)."""
        return int(self._record[register(name).name][0])

    def set(self, name: str, value: int) -> None:
        """Set a register regardless of access rules (present values, errors, reboots); ValueError if
        the value does not fit the register."""
        reg = register(name)
        self._record[reg.name] = check_fits(reg, value)

    # -- the bus side -----------------------------------------------------------------------------------
    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """(error code, data) for a READ of ``length`` bytes at ``address``."""
        if address < 0 or length < 1 or address + length > TABLE_SIZE:
            return ErrorCode.DATA_LENGTH, b""
        return 0, self.memory[address:address + length].tobytes()

    def write(self, address: int, data: bytes) -> int:
        """Apply a WRITE of ``data`` at ``address``; returns the error code (0: done, nothing on error)."""
        if address < 0 or not data or address + len(data) > TABLE_SIZE:
            return ErrorCode.DATA_LENGTH
        staged = self._record.copy()
        staged.view(np.uint8)[address:address + len(data)] = np.frombuffer(data, dtype=np.uint8)
        torque_on = self.get("torque_enable") == TorqueEnable.ON
        for reg in REGISTERS.values():
            if not (reg.address < address + len(data) and address < reg.address + reg.size):
                continue
            if reg.read_only or (reg.eeprom and torque_on):
                return ErrorCode.ACCESS
            value = int(staged[reg.name][0])
            if (reg.low is not None and value < reg.low) or (reg.high is not None and value > reg.high):
                return ErrorCode.DATA_RANGE
            if reg.name == "operating_mode" and value not in _MODES:
                return ErrorCode.DATA_RANGE
            if reg.name == "goal_current" and abs(value) > self.get("current_limit"):
                return ErrorCode.DATA_LIMIT
        self.memory[:] = staged.view(np.uint8)
        return 0
