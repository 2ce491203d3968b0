"""Fault injection for the virtual hand: what goes wrong on real Dynamixel buses.

Spec (``dexndm emulate --faults``): comma-separated ``key=value``:

* ``crc=P``: each reply gets a corrupted CRC with probability P;
* ``drop=P``: each reply is lost with probability P;
* ``late=P``: each reply is sent 50 ms late (after dynamixel-sdk's timeout) with probability P;
* ``overload=ID@T``: motor ID enters an overload hardware error T seconds after start (its torque
  switches off and every reply carries the hardware-alert bit until a REBOOT);
* ``seed=N``: the random generator's seed (default 0).

Example: ``crc=0.01,drop=0.01,overload=3@5``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LATE_S = 0.05
"""How late a late reply comes, s (after dynamixel-sdk has given up waiting for it)."""


@dataclass
class Faults:
    """Parsed fault settings (probabilities in [0, 1], times in seconds)."""

    crc: float = 0.0
    drop: float = 0.0
    late: float = 0.0
    overload_motor: int | None = None
    overload_at: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def reply_fate(self) -> str:
        """What happens to the next reply: 'ok', 'crc', 'drop' or 'late'."""
        for fate in ("drop", "crc", "late"):
            if getattr(self, fate) > 0 and self.rng.random() < getattr(self, fate):
                return fate
        return "ok"


def parse_faults(spec: str | None) -> Faults:
    """Faults from a spec string (module docstring); ValueError saying which part is wrong."""
    faults = Faults()
    if not spec:
        return faults
    for part in spec.split(","):
        key, _, value = part.partition("=")
        key = key.strip()
        try:
            if key in ("crc", "drop", "late"):
                p = float(value)
                if not 0.0 <= p <= 1.0:
                    raise ValueError
                setattr(faults, key, p)
            elif key == "overload":
                motor, _, at = value.partition("@")
                faults.overload_motor, faults.overload_at = int(motor), float(at)
            elif key == "seed":
                faults.seed = int(value)
            else:
                raise KeyError(key)
        except KeyError:
            raise ValueError(f"unknown fault {key!r}; allowed: crc, drop, late, overload, seed") from None
        except ValueError:
            raise ValueError(f"bad fault setting {part!r}: crc/drop/late take a probability in [0, 1], "
                             "overload takes ID@SECONDS, seed an integer") from None
    faults.rng = np.random.default_rng(faults.seed)
    return faults
