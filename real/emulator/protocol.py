"""Dynamixel Protocol 2.0 packets: CRC, byte stuffing, building and parsing
(https://emanual.robotis.com/docs/en/dxl/protocol2/; error codes are in :mod:`real.dynamixel`).

Instruction packet: ``FF FF FD 00 | ID | LEN_L LEN_H | INST | params | CRC_L CRC_H`` and status packet:
``... | 0x55 | ERR | params | CRC``. LEN counts the bytes after itself (instruction or 0x55, the
stuffed parameters, the CRC). Byte stuffing inserts an ``FD`` after every ``FF FF FD`` inside the
instruction and parameters; the CRC (polynomial 0x8005, initial 0, no reflection) covers the stuffed
packet from the first ``FF`` to the last parameter byte.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
STATUS = 0x55


class Instruction:
    """Instruction codes."""

    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    FACTORY_RESET = 0x06
    REBOOT = 0x08
    CLEAR = 0x10
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83
    FAST_SYNC_READ = 0x8A
    BULK_READ = 0x92
    BULK_WRITE = 0x93
    FAST_BULK_READ = 0x9A


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc_table()


def crc16(data: bytes, crc: int = 0) -> int:
    """Protocol 2.0 CRC-16 of ``data`` (continuing from ``crc``); crc16(b"123456789") == 0xFEE8."""
    for byte in data:
        crc = ((crc << 8) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Insert ``FD`` after every ``FF FF FD`` in an instruction/parameter body."""
    out = bytearray()
    for byte in body:
        out.append(byte)
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    """Remove the ``FD`` that follows every ``FF FF FD`` (the inverse of :func:`stuff`)."""
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd" and i + 1 < len(body) and body[i + 1] == 0xFD:
            i += 1
        i += 1
    return bytes(out)


def _packet(device_id: int, body: bytes) -> bytes:
    if not 0 <= device_id <= 0xFE:
        raise ValueError(f"device id must be 0-252 or 254 (broadcast), got {device_id}")
    stuffed = stuff(body)
    head = HEADER + bytes([device_id]) + (len(stuffed) + 2).to_bytes(2, "little")
    crc = crc16(head + stuffed)
    return head + stuffed + crc.to_bytes(2, "little")


def instruction_packet(device_id: int, instruction: int, params: bytes = b"") -> bytes:
    """An instruction packet, stuffed and with its CRC."""
    return _packet(device_id, bytes([instruction]) + bytes(params))


def status_packet(device_id: int, error: int = 0, params: bytes = b"") -> bytes:
    """A status (reply) packet, stuffed and with its CRC."""
    return _packet(device_id, bytes([STATUS, error]) + bytes(params))


def fast_sync_read_status(blocks: list[tuple[int, int, bytes]]) -> bytes:
    """The single status packet that answers FAST_SYNC_READ: ID 0xFE, 0x55, then per device
    ``ERR, ID, data, CRC`` where each block's CRC covers the packet up to the end of that block's
    data (so the last block's CRC is the packet CRC). ``blocks``: (device id, error, data)."""
    size = 1 + sum(len(data) + 4 for _, _, data in blocks)
    packet = bytearray(HEADER + bytes([BROADCAST_ID]) + size.to_bytes(2, "little") + bytes([STATUS]))
    for device_id, error, data in blocks:
        packet += bytes([error, device_id]) + bytes(data)
        packet += crc16(bytes(packet)).to_bytes(2, "little")
    return bytes(packet)


@dataclass(frozen=True)
class Packet:
    """A parsed packet: for instructions ``code`` is the instruction, for status packets it is 0x55
    and ``error`` is the ERR byte; ``params`` are unstuffed."""

    device_id: int
    code: int
    params: bytes
    error: int = 0


class PacketError(ValueError):
    """A packet with a bad CRC or an impossible length."""


def parse_packet(buffer: bytes) -> tuple[Packet | None, int]:
    """Parse the first complete packet in ``buffer``.

    Returns (packet, bytes consumed). Bytes before a header are skipped (consumed, packet None); an
    incomplete packet returns (None, bytes skipped so far). Raises PacketError, with the number of bytes
    to drop as ``args[1]``, for a CRC mismatch.
    """
    start = buffer.find(HEADER)
    if start < 0:
        keep = next((k for k in (3, 2, 1) if buffer.endswith(HEADER[:k])), 0)
        return None, len(buffer) - keep
    if len(buffer) < start + 7:
        return None, start
    length = int.from_bytes(buffer[start + 5:start + 7], "little")
    end = start + 7 + length
    if length < 3:
        raise PacketError(f"packet length field {length} is too short", start + 7)
    if len(buffer) < end:
        return None, start
    packet = buffer[start:end]
    if crc16(packet[:-2]) != int.from_bytes(packet[-2:], "little"):
        raise PacketError(f"CRC mismatch in packet for id {packet[4]}", end)
    body = unstuff(packet[7:-2])
    if body[0] == STATUS:
        return Packet(packet[4], STATUS, body[2:], body[1] if len(body) > 1 else 0), end
    return Packet(packet[4], body[0], body[1:]), end
