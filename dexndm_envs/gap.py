"""Reality-gap profiles: what differs between the training simulator and a (virtual) real hand, as data.

A profile is a JSON object. Every key is checked by :func:`load_gap`; unknown keys and bad values are
errors that name the file and the key. Keys (the servo's are read by the ``xc330`` actuator only):

============================  ======================================================================
``actuator``                  ``"xc330"`` (:class:`~dexndm_envs.actuators.DynamixelXC330`) or ``"ideal_pd"``
``kp``, ``ki``, ``kd``        xc330: the Position P / I / D gain registers the driver writes (read as
                              ``pd_units`` says); ideal_pd: N m/rad, -, N m s/rad
``goal_current_ma``           xc330: Goal Current, mA (caps the torque); ideal_pd: torque clip = this x
                              the torque constant
``pd_units``                  how the servo reads P and D: ``"register"`` (default: the registers'
                              internal scaling, P/128 mA per tick) or ``"current"`` (P in mA/rad, D in
                              mA s/rad)
``torque_constant_nm_per_a``  output torque per ampere, N m/A (default 0.517)
``stiffness_scale``           factor on P per joint: one number or 16 in motor order (default 1)
``damping_scale``             factor on D per joint: one number or 16 in motor order (default 1)
``side_gain_scale``           P and D the driver writes on the side joints 0, 4, 8, relative to the
                              others (default 1; the official client writes 0.75)
``latency_s``                 command latency, s: a number, or ``[min, max]`` drawn per episode
``backlash_rad``              gear backlash, rad
``coulomb_friction_nm``       gear Coulomb friction, N m
``viscous_friction_nms``      gear viscous friction, N m s/rad
``encoder_noise_rad``         standard deviation of the joint reading noise, rad
``object_friction_scale``     factor on the object's friction coefficient
``object_mass_scale``         factor on the object's mass
``simulator``                 the physics engine that plays the hand: ``"pybullet"`` (default, the
                              policies' training simulator) or ``"mujoco"`` (the ``mujoco`` extra;
                              MuJoCo's own contact model at its defaults)
``extends``                   another profile (a built-in name, or a file relative to this one)
                              whose keys this one takes where it does not set them
``name``, ``description``     free text (say where the numbers come from)
============================  ======================================================================

Built-in profiles live in ``dexndm_envs/gaps/``:

* ``leap_sysid``: the servo as the public system identification of LEAP hand servos reads it
  (current units, its fitted stiffness and damping factors, 0.53 N m/A, 550 mA, 50 ms of latency (the
  middle of the 0-100 ms its simulator draws), Coulomb friction at 10 % of the maximum torque, side
  joints at 0.75 x the gains); the default hand of ``dexndm demo``.
* ``leap_xc330``: the register reading of the same registers (P 800 / D 200 through the internal
  scaling: a stiff servo with little damping), the pseudo-real hand the project was developed against.
* ``leap_xc330_worn``: a second register-reading hand written once from the references and never tuned
  on (slower bus, worn gears, heavier and more slippery objects; the sim-to-real benchmark's check).

How a Dynamixel's gain registers turn into torque is not settled in public: the two readings differ
by 5x in stiffness and 25x in damping for the same register values. The in-process gap env and the
emulator both turn a profile into physics through :meth:`GapProfile.make_actuator` and
:meth:`GapProfile.object_params` (on the virtual hand the gain and Goal Current registers then come
from the driver on the wire).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from dexndm_envs.actuators import (
    PD_UNITS,
    TORQUE_CONSTANT,
    Actuator,
    DynamixelXC330,
    IdealPD,
    joint_values,
    latency_range,
)
from dexndm_envs.hand import check_side_gain_scale
from dexndm_envs.simulators import DEFAULT_SIMULATOR, SIMULATORS

BUILTIN_DIR = Path(__file__).parent / "gaps"
DEFAULT_HAND = "leap_sysid"
"""The built-in profile a pseudo-real hand uses when none is named (``dexndm demo``, ``dexndm emulate``)."""
_NUMBERS = ("kp", "ki", "kd", "goal_current_ma", "backlash_rad", "coulomb_friction_nm",
            "viscous_friction_nms", "encoder_noise_rad", "object_friction_scale", "object_mass_scale")
_REQUIRED = ("actuator", "kp", "kd", "goal_current_ma", "latency_s", "backlash_rad", "coulomb_friction_nm",
             "viscous_friction_nms", "encoder_noise_rad", "object_friction_scale", "object_mass_scale")
_SERVO_KEYS = ("pd_units", "torque_constant_nm_per_a", "stiffness_scale", "damping_scale", "side_gain_scale")
"""The optional servo keys; their defaults (the register reading, as before they existed) are
:class:`GapProfile`'s."""
_POSITIVE = ("goal_current_ma", "object_friction_scale", "object_mass_scale", "torque_constant_nm_per_a",
             "side_gain_scale")


@dataclass(frozen=True)
class GapProfile:
    """A validated reality-gap profile (units in the module docstring)."""

    name: str
    actuator: str
    kp: float
    kd: float
    goal_current_ma: float
    latency_s: float | tuple[float, float]
    backlash_rad: float
    coulomb_friction_nm: float
    viscous_friction_nms: float
    encoder_noise_rad: float
    object_friction_scale: float
    object_mass_scale: float
    ki: float = 0.0
    pd_units: str = "register"
    torque_constant_nm_per_a: float = TORQUE_CONSTANT
    stiffness_scale: float | tuple[float, ...] = 1.0
    damping_scale: float | tuple[float, ...] = 1.0
    side_gain_scale: float = 1.0
    simulator: str = DEFAULT_SIMULATOR
    description: str = ""

    @property
    def torque_cap_nm(self) -> float:
        """The most torque a joint gets at this profile's Goal Current: Goal Current x torque constant, N m."""
        return self.torque_constant_nm_per_a * self.goal_current_ma / 1000.0

    def make_actuator(self) -> Actuator:
        """The actuator this profile describes."""
        if self.actuator == "ideal_pd":
            return IdealPD(self.kp, self.kd, self.torque_cap_nm)
        return DynamixelXC330(p_gain=self.kp, i_gain=self.ki, d_gain=self.kd, goal_current_ma=self.goal_current_ma,
                              latency_s=self.latency_s, backlash_rad=self.backlash_rad,
                              coulomb_friction_nm=self.coulomb_friction_nm,
                              viscous_friction_nms=self.viscous_friction_nms,
                              encoder_noise_rad=self.encoder_noise_rad, pd_units=self.pd_units,
                              torque_constant_nm_per_a=self.torque_constant_nm_per_a,
                              stiffness_scale=self.stiffness_scale, damping_scale=self.damping_scale,
                              side_gain_scale=self.side_gain_scale)

    def object_params(self, mass: float, friction: float) -> tuple[float, float]:
        """An object's (mass kg, friction) under this profile."""
        return mass * self.object_mass_scale, friction * self.object_friction_scale


_SERVO_DEFAULTS = {f.name: f.default for f in fields(GapProfile) if f.name in _SERVO_KEYS}


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
    path, data = _read(spec)
    allowed = {"name", "description", "simulator", *_REQUIRED, *_NUMBERS, *_SERVO_KEYS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"gap profile {path}: unknown keys {unknown}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(set(_REQUIRED) - set(data))
    if missing:
        raise ValueError(f"gap profile {path}: missing keys {missing}")
    if data["actuator"] not in ("xc330", "ideal_pd"):
        raise ValueError(f"gap profile {path}: actuator {data['actuator']!r} is not one of xc330, ideal_pd")
    values: dict = {}
    for key in (*_NUMBERS, "torque_constant_nm_per_a", "side_gain_scale"):
        value = data.get(key, _SERVO_DEFAULTS.get(key, 0.0))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"gap profile {path}: {key} must be a finite number >= 0, got {value!r}")
        if key in _POSITIVE and value == 0:
            raise ValueError(f"gap profile {path}: {key} must be > 0")
        values[key] = float(value)
    try:
        check_side_gain_scale(values["side_gain_scale"])
    except ValueError as e:
        raise ValueError(f"gap profile {path}: {e}") from None
    pd_units = data.get("pd_units", _SERVO_DEFAULTS["pd_units"])
    if pd_units not in PD_UNITS:
        raise ValueError(f"gap profile {path}: pd_units must be one of {', '.join(PD_UNITS)}, got {pd_units!r}")
    simulator = data.get("simulator", DEFAULT_SIMULATOR)
    if simulator not in SIMULATORS:
        raise ValueError(f"gap profile {path}: simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    latency = _parse(path, "latency_s", data["latency_s"], latency_range,
                     "a number >= 0 (s) or a range [min, max] with 0 <= min <= max")
    scales = {key: _parse(path, key, data.get(key, _SERVO_DEFAULTS[key]), joint_values,
                          "a number >= 0 or 16 of them in motor order")
              for key in ("stiffness_scale", "damping_scale")}
    values["latency_s"] = latency[0] if latency[0] == latency[1] else latency
    for key, scale in scales.items():
        values[key] = float(scale[0]) if np.all(scale == scale[0]) else tuple(float(x) for x in scale)
    return GapProfile(name=str(data.get("name", path.stem)), actuator=data["actuator"], pd_units=pd_units,
                      simulator=simulator,
                      description=str(data.get("description", "")), **values)


def _read(spec: str | Path, extended: tuple[Path, ...] = ()) -> tuple[Path, dict]:
    """The file of a built-in name or path, and its settings with those of the profile it ``extends``
    (a built-in name or a path relative to it) filled in, its own name and description kept."""
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
    if "extends" not in data:
        return path, data
    base = data.pop("extends")
    if not isinstance(base, str) or path.resolve() in extended:
        raise ValueError(f"gap profile {path}: extends must name another profile (a built-in or a JSON file), "
                         f"without a cycle; got {base!r}")
    base_path = base if base in builtin_gaps() else path.parent / base
    try:
        _, inherited = _read(base_path, (*extended, path.resolve()))
    except ValueError as e:
        raise ValueError(f"gap profile {path}: extends {base!r}: {e}") from None
    inherited.pop("name", None)
    inherited.pop("description", None)
    return path, {**inherited, **data}


def _parse(path: Path, key: str, value, parse, allowed: str):
    """``parse(value, key)`` for a number or a list of numbers; a ValueError naming the file, the key,
    what is allowed and the value otherwise (booleans and strings are not numbers here)."""
    items = value if isinstance(value, list) else [value]
    try:
        if not items or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in items):
            raise ValueError
        return parse(value, key)
    except ValueError:
        raise ValueError(f"gap profile {path}: {key} must be {allowed}; got {value!r}") from None
