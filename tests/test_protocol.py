"""Dynamixel Protocol 2.0 packets against the public manual and against dynamixel-sdk."""

from __future__ import annotations

import numpy as np
import pytest
from dynamixel_sdk import protocol2_packet_handler as sdk

from real.emulator.protocol import (
    BROADCAST_ID,
    STATUS,
    Instruction,
    PacketError,
    crc16,
    fast_sync_read_status,
    instruction_packet,
    parse_packet,
    status_packet,
    stuff,
    unstuff,
)


def test_manual_ping_example_and_crc_check_value():
    assert instruction_packet(1, Instruction.PING) == bytes.fromhex("FF FF FD 00 01 03 00 01 19 4E")
    assert crc16(b"123456789") == 0xFEE8


def test_crc_matches_the_sdk_on_random_data():
    rng = np.random.default_rng(0)
    handler = sdk.Protocol2PacketHandler()
    for n in (1, 7, 64, 300):
        data = rng.integers(0, 256, n).tolist()
        assert crc16(bytes(data)) == handler.updateCRC(0, data, n)


@pytest.mark.parametrize("body", [b"\x03\x74\x00\xff\xff\xfd\x00", b"\xff\xff\xfd\xff\xff\xfd", b"\xff\xff\xfd\xfd",
                                  b"\x01\x02\x03"])
def test_stuffing_round_trip_and_agrees_with_the_sdk(body):
    assert unstuff(stuff(body)) == body
    raw = list(b"\xff\xff\xfd\x00\x01") + list((len(body) + 2).to_bytes(2, "little")) + list(body) + [0, 0]
    stuffed_by_sdk = sdk.Protocol2PacketHandler().addStuffing(raw)
    ours = instruction_packet(1, body[0], body[1:])
    assert bytes(stuffed_by_sdk[:-2]) == ours[:-2]  # same header, length and stuffed body (the SDK adds its CRC later)


def test_random_bodies_round_trip_through_build_and_parse():
    rng = np.random.default_rng(1)
    for _ in range(200):
        params = bytes(rng.choice([0x00, 0xFD, 0xFF, 0x74], size=int(rng.integers(0, 20))).tolist())
        packet, used = parse_packet(instruction_packet(3, Instruction.WRITE, params))
        assert packet.device_id == 3 and packet.code == Instruction.WRITE and packet.params == params


def test_status_packet_parses_with_its_error_byte():
    packet, used = parse_packet(b"\x00\x12" + status_packet(5, 0x84, b"\x01\x02"))  # noise first
    assert (packet.device_id, packet.code, packet.error, packet.params, used) == (5, STATUS, 0x84, b"\x01\x02", 15)


def test_incomplete_and_corrupted_packets():
    packet = instruction_packet(1, Instruction.PING)
    assert parse_packet(packet[:6]) == (None, 0)
    corrupted = packet[:-1] + bytes([packet[-1] ^ 0xFF])
    with pytest.raises(PacketError, match="CRC"):
        parse_packet(corrupted)


def test_fast_sync_read_reply_parses_like_the_sdk_expects():
    blocks = [(1, 0, b"\x10\x00\x00\x00"), (2, 0, b"\x20\x00\x00\x00")]
    reply = fast_sync_read_status(blocks)
    assert reply[4] == BROADCAST_ID and reply[7] == STATUS
    assert int.from_bytes(reply[5:7], "little") == 1 + 2 * (4 + 4)
    assert crc16(reply[:-2]) == int.from_bytes(reply[-2:], "little")  # the last block's CRC is the packet's
    first_end = 8 + 2 + 4
    assert crc16(reply[:first_end]) == int.from_bytes(reply[first_end:first_end + 2], "little")
