"""Object-pose trackers for the real env: where the object is, so that the paper's metrics can be
computed on a real (or virtual) hand.

A tracker answers ``pose()`` with the object's world position (m) and orientation (xyzw quaternion)
and the time it was measured (s), or None when it has lost the object. :class:`TcpTracker` reads the
virtual hand's tracker server (one JSON line per request); a camera-based tracker implements the same
method.
"""

from __future__ import annotations

import json
import socket
from typing import Protocol

import numpy as np


class Tracker(Protocol):
    def pose(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(position m, quaternion xyzw, time s) of the object, or None if it is not seen."""


class TcpTracker:
    """Client of a tracker server at ``address`` ("host:port"), e.g. the one `dexndm emulate` prints."""

    def __init__(self, address: str, timeout_s: float = 0.05) -> None:
        host, _, port = address.rpartition(":")
        try:
            self._socket = socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s)
        except (OSError, ValueError) as e:
            raise ValueError(f"cannot reach the tracker at {address!r} (expected host:port): {e}") from e
        self._file = self._socket.makefile("rwb")

    def pose(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        try:
            self._file.write(b"pose\n")
            self._file.flush()
            reply = json.loads(self._file.readline())
        except (OSError, ValueError):
            return None
        if not reply.get("visible", False):
            return None
        return np.array(reply["position"]), np.array(reply["quaternion"]), float(reply["time"])

    def close(self) -> None:
        self._file.close()
        self._socket.close()
