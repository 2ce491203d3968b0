"""A bus of emulated XC330 servos: answers Protocol 2.0 instructions the way the servos do.

:meth:`ServoBus.handle` takes one parsed instruction packet and returns the bytes the servos would
send back (possibly several status packets, or nothing). Physics is not here: the emulator reads the
goal registers of all servos and writes their Present Position / Velocity / Current through
:attr:`ServoBus.registers`, one array operation per register.
"""

from __future__ import annotations

import numpy as np

from real.dynamixel import FIRMWARE_VERSION, MODEL_NUMBER, ErrorCode, TorqueEnable, check_fits, register
from real.emulator.control_table import ControlTable, register_bank
from real.emulator.protocol import BROADCAST_ID, Instruction, Packet, fast_sync_read_status, status_packet


def _u16(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset:offset + 2], "little")


class ServoBus:
    """Servos with the given IDs (the LEAP hand: 0..15) on one bus."""

    def __init__(self, ids: range | list[int] = range(16)) -> None:
        ids = list(ids)
        self.registers = register_bank(ids)
        """Every servo's control table, one CONTROL_TABLE record per servo in ``ids`` order:
        ``registers["goal_position"]`` is that register of all servos (a view; hold the lock that
        serialises packets while reading or writing it)."""
        self.tables: dict[int, ControlTable] = {i: ControlTable(self.registers[k:k + 1]) for k, i in enumerate(ids)}

    def get(self, name: str) -> np.ndarray:
        """Register ``name`` of every servo (``ids`` order), int64."""
        return self.registers[register(name).name].astype(np.int64)

    def set(self, name: str, values) -> None:
        """Set register ``name`` of every servo (``ids`` order) regardless of access rules (present
        values, errors); ValueError if a value does not fit the register."""
        reg = register(name)
        self.registers[reg.name] = check_fits(reg, values)

    def _error(self, table: ControlTable, code: int = 0) -> int:
        alert = ErrorCode.HARDWARE_ALERT if table.get("hardware_error_status") else 0
        return code | alert

    def _reply(self, device_id: int, code: int = 0, data: bytes = b"") -> bytes:
        return status_packet(device_id, self._error(self.tables[device_id], code), data)

    def handle(self, packet: Packet) -> bytes:
        """The reply bytes (possibly empty) to one instruction packet."""
        inst, params, target = packet.code, packet.params, packet.device_id
        if inst == Instruction.PING:
            ids = sorted(self.tables) if target == BROADCAST_ID else [target] if target in self.tables else []
            info = MODEL_NUMBER.to_bytes(2, "little") + bytes([FIRMWARE_VERSION])
            return b"".join(self._reply(i, 0, info) for i in ids)
        if inst in (Instruction.SYNC_READ, Instruction.FAST_SYNC_READ):
            if len(params) < 4:
                return b""
            address, length, ids = _u16(params, 0), _u16(params, 2), [i for i in params[4:] if i in self.tables]
            reads = {i: self.tables[i].read(address, length) for i in ids}
            if inst == Instruction.SYNC_READ:
                return b"".join(self._reply(i, code, data) for i, (code, data) in reads.items())
            return fast_sync_read_status([(i, self._error(self.tables[i], code), data.ljust(length, b"\0"))
                                          for i, (code, data) in reads.items()])
        if inst == Instruction.SYNC_WRITE:
            if len(params) < 4:
                return b""
            address, length = _u16(params, 0), _u16(params, 2)
            for k in range(4, len(params) - length, length + 1):
                if params[k] in self.tables:
                    self.tables[params[k]].write(address, params[k + 1:k + 1 + length])
            return b""
        if inst == Instruction.BULK_READ:
            replies = []
            for k in range(0, len(params) - 4, 5):
                i, address, length = params[k], _u16(params, k + 1), _u16(params, k + 3)
                if i in self.tables:
                    code, data = self.tables[i].read(address, length)
                    replies.append(self._reply(i, code, data))
            return b"".join(replies)
        targets = sorted(self.tables) if target == BROADCAST_ID else [target] if target in self.tables else []
        replies = []
        for i in targets:
            table = self.tables[i]
            if inst == Instruction.READ and len(params) == 4:
                code, data = table.read(_u16(params, 0), _u16(params, 2))
                replies.append(self._reply(i, code, data))
            elif inst == Instruction.WRITE and len(params) > 2:
                replies.append(self._reply(i, table.write(_u16(params, 0), params[2:])))
            elif inst == Instruction.REBOOT:
                table.set("torque_enable", TorqueEnable.OFF)
                table.set("hardware_error_status", 0)
                replies.append(self._reply(i))
            else:
                replies.append(self._reply(i, ErrorCode.INSTRUCTION))
        return b"" if target == BROADCAST_ID and inst != Instruction.PING else b"".join(replies)
