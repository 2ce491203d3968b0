"""Reality-gap profiles: what differs between the training simulator and a (virtual) real hand, as data.

A profile is a JSON object. Every key is checked by :func:`load_gap`; unknown keys and bad values are
errors that name the file and the key. Keys:

=======================  ===========================================================================
``actuator``             ``"xc330"`` (:class:`~dexndm_envs.actuators.DynamixelXC330`) or ``"ideal_pd"``
``kp``, ``ki``, ``kd``   xc330: the Position P / I / D gain registers; ideal_pd: N m/rad, -, N m s/rad
``goal_current_ma``      xc330: Goal Current, mA (caps the torque); ideal_pd: torque clip = this x 0.517e-3
``latency_s``            command latency, s (xc330)
``backlash_rad``         gear backlash, rad (xc330)
``coulomb_friction_nm``  gear Coulomb friction, N m (xc330)
``viscous_friction_nms`` gear viscous friction, N m s/rad (xc330)
``encoder_noise_rad``    standard deviation of the joint reading noise, rad (xc330)
``object_friction_scale`` factor on the object's friction coefficient
``object_mass_scale``    factor on the object's mass
``name``, ``description`` free text
=======================  ===========================================================================

Built-in profiles live in ``dexndm_envs/gaps/``: ``leap_xc330`` (the pseudo-real hand everything is
developed against) and ``leap_xc330_worn`` (a second hand written once from the references and never
tuned on: slower bus, worn gears, heavier and more slippery objects; the sim-to-real benchmark's check).
The in-process gap env and the emulator both turn a profile into physics through
:meth:`GapProfile.make_actuator` and :meth:`GapProfile.object_params`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from dexndm_envs.actuators import TORQUE_CONSTANT, Actuator, DynamixelXC330, IdealPD

BUILTIN_DIR = Path(__file__).parent / "gaps"
_NUMBERS = ("kp", "ki", "kd", "goal_current_ma", "latency_s", "backlash_rad", "coulomb_friction_nm",
            "viscous_friction_nms", "encoder_noise_rad", "object_friction_scale", "object_mass_scale")
_POSITIVE = ("goal_current_ma", "object_friction_scale", "object_mass_scale")


@dataclass(frozen=True)
class GapProfile:
    """A validated reality-gap profile (units in the module docstring)."""

    name: str
    actuator: str
    kp: float
    kd: float
    goal_current_ma: float
    latency_s: float
    backlash_rad: float
    coulomb_friction_nm: float
    viscous_friction_nms: float
    encoder_noise_rad: float
    object_friction_scale: float
    object_mass_scale: float
    ki: float = 0.0
    description: str = ""

    def make_actuator(self) -> Actuator:
        """The actuator this profile describes."""
        if self.actuator == "ideal_pd":
            return IdealPD(self.kp, self.kd, TORQUE_CONSTANT * self.goal_current_ma / 1000.0)
        return DynamixelXC330(p_gain=self.kp, i_gain=self.ki, d_gain=self.kd, goal_current_ma=self.goal_current_ma,
                              latency_s=self.latency_s, backlash_rad=self.backlash_rad,
                              coulomb_friction_nm=self.coulomb_friction_nm,
                              viscous_friction_nms=self.viscous_friction_nms,
                              encoder_noise_rad=self.encoder_noise_rad)

    def object_params(self, mass: float, friction: float) -> tuple[float, float]:
        """An object's (mass kg, friction) under this profile."""
        return mass * self.object_mass_scale, friction * self.object_friction_scale


def builtin_gaps() -> list[str]:
    """Names of the built-in profiles."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))


def load_gap(spec: str | Path | GapProfile) -> GapProfile:
    """A profile from a built-in name, a JSON file path, or a GapProfile (returned as is).

    Raises ValueError naming the file and the problem: unreadable JSON, unknown or missing keys,
    non-numeric, negative or non-finite values, an unknown actuator.
    """
    if isinstance(spec, GapProfile):
        return spec
    path = Path(spec)
    if not path.suffix and str(spec) in builtin_gaps():
        path = BUILTIN_DIR / f"{spec}.json"
    if not path.is_file():
        raise ValueError(f"gap profile {spec!r} is neither a built-in ({', '.join(builtin_gaps())}) "
                         f"nor an existing JSON file")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"gap profile {path}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"gap profile {path}: expected a JSON object of settings")
    allowed = {"name", "description", "actuator", *_NUMBERS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"gap profile {path}: unknown keys {unknown}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted({"actuator", *_NUMBERS} - {"ki"} - set(data))
    if missing:
        raise ValueError(f"gap profile {path}: missing keys {missing}")
    if data["actuator"] not in ("xc330", "ideal_pd"):
        raise ValueError(f"gap profile {path}: actuator {data['actuator']!r} is not one of xc330, ideal_pd")
    values = {}
    for key in _NUMBERS:
        value = data.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"gap profile {path}: {key} must be a finite number >= 0, got {value!r}")
        if key in _POSITIVE and value == 0:
            raise ValueError(f"gap profile {path}: {key} must be > 0")
        values[key] = float(value)
    return GapProfile(name=str(data.get("name", path.stem)), actuator=data["actuator"],
                      description=str(data.get("description", "")), **values)
