"""Actuator models: how a commanded joint target becomes joint torque, once per physics step.

Every actuator works on arrays in motor order (16 joints, radians, N m) and is called once per
physics substep (1/120 s) with the current joint state. The training default is :class:`IdealPD`, the
torque PD of the paper's simulator; :class:`DynamixelXC330` models the real hand's servos.
"""

from __future__ import annotations

import inspect
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dexndm_envs.hand import NUM_JOINTS, TICKS_PER_RAD, check_side_gain_scale, side_scaled
from dexndm_envs.world import PHYSICS_HZ


class Actuator(ABC):
    """Turns joint targets into joint torques.

    Life cycle: :meth:`reset` at the start of an episode, then :meth:`torque` once per physics step.
    ``gain_scale`` lets domain randomization perturb the gains per joint for one episode; ``rng`` is
    the env's generator, for actuators with noise. :meth:`measure` turns true joint angles into what
    the hand's encoders would report.
    """

    @abstractmethod
    def reset(self, target: np.ndarray, gain_scale: np.ndarray | None = None,
              rng: np.random.Generator | None = None) -> None:
        """Start an episode with ``target`` (rad, motor order) the joint target already in effect;
        clear internal state."""

    @abstractmethod
    def torque(self, target: np.ndarray, q: np.ndarray, qdot: np.ndarray) -> np.ndarray:
        """Joint torques (N m, motor order) for targets ``target`` (rad) at state (q rad, qdot rad/s)."""

    def measure(self, q: np.ndarray) -> np.ndarray:
        """Joint angles as the hand reports them (rad); exact unless the model says otherwise."""
        return q

    def key(self) -> dict:
        """The parameters that change the physics (for grasp-cache keys)."""
        return {"type": type(self).__name__}

    @property
    @abstractmethod
    def torque_cap_nm(self) -> float:
        """The most torque any joint gets, N m."""


class IdealPD(Actuator):
    """tau = clip(kp (target - q) - kd qdot, -limit, limit): the paper's simulated actuator.

    Args:
        kp: proportional gain, N m / rad (default 3.0).
        kd: derivative gain, N m s / rad (default 0.1).
        torque_limit: symmetric torque clip, N m (default 0.5).
    """

    def __init__(self, kp: float = 3.0, kd: float = 0.1, torque_limit: float = 0.5) -> None:
        if kp < 0 or kd < 0 or torque_limit <= 0:
            raise ValueError(f"IdealPD needs kp >= 0, kd >= 0, torque_limit > 0; got {kp}, {kd}, {torque_limit}")
        self.kp_nominal, self.kd_nominal, self.torque_limit = float(kp), float(kd), float(torque_limit)
        self.kp = np.full(NUM_JOINTS, self.kp_nominal)
        self.kd = np.full(NUM_JOINTS, self.kd_nominal)

    def reset(self, target: np.ndarray, gain_scale: np.ndarray | None = None,
              rng: np.random.Generator | None = None) -> None:
        scale = np.ones(NUM_JOINTS) if gain_scale is None else np.asarray(gain_scale, dtype=np.float64)
        self.kp = self.kp_nominal * scale
        self.kd = self.kd_nominal * scale

    def torque(self, target: np.ndarray, q: np.ndarray, qdot: np.ndarray) -> np.ndarray:
        tau = self.kp * (target - q) - self.kd * qdot
        np.minimum(tau, self.torque_limit, out=tau)
        return np.maximum(tau, -self.torque_limit, out=tau)

    def key(self) -> dict:
        return {"type": "IdealPD", "kp": self.kp_nominal, "kd": self.kd_nominal, "torque_limit": self.torque_limit}

    @property
    def torque_cap_nm(self) -> float:
        """The clip, N m."""
        return self.torque_limit


TORQUE_CONSTANT = 0.93 / 1.80
"""Output torque per ampere of an XC330-M288, N m / A: stall torque over stall current at 5 V."""
PD_UNITS = ("register", "current")
"""How :class:`DynamixelXC330` reads the Position P / I / D registers (see its docstring)."""
_MA_PER_REGISTER = {
    # (P, I, D) -> current demand in mA per (tick, tick ms, tick/ms) of error; the controller works on ticks.
    "register": (1.0 / 128.0, 1.0 / 65536.0, 1.0 / 16.0),
    "current": (1.0 / TICKS_PER_RAD, 1.0 / (1000.0 * TICKS_PER_RAD), 1000.0 / TICKS_PER_RAD),
}


def joint_values(value: float | Any, name: str) -> np.ndarray:
    """A per-joint parameter (16, motor order) from one number or 16 numbers; ValueError otherwise
    (non-finite or negative entries included)."""
    try:
        arr = np.asarray(value, dtype=np.float64) if not isinstance(value, str) else np.array(np.nan)
    except (TypeError, ValueError):
        arr = np.array(np.nan)
    if arr.shape not in ((), (NUM_JOINTS,)) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be a number >= 0 or {NUM_JOINTS} of them in motor order; got {value!r}")
    return np.broadcast_to(arr, (NUM_JOINTS,)).copy()


def latency_range(value: float | Any, name: str = "latency_s") -> tuple[float, float]:
    """``latency_s`` as a ``(min, max)`` range in s: a number is a fixed latency, ``[min, max]`` a range
    drawn uniformly per episode; ValueError for anything else."""
    try:
        arr = np.asarray(value, dtype=np.float64) if not isinstance(value, str) else np.array(np.nan)
    except (TypeError, ValueError):
        arr = np.array(np.nan)
    if arr.shape == ():
        arr = np.array([arr, arr])
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or arr[0] < 0 or arr[1] < arr[0]:
        raise ValueError(f"{name} must be a number >= 0 (s) or a range [min, max] with 0 <= min <= max; "
                         f"got {value!r}")
    return float(arr[0]), float(arr[1])
NO_LOAD_SPEED = 8.48
"""XC330-M288 no-load speed at 5 V, rad/s (81 rpm)."""


class DynamixelXC330(Actuator):
    """A Dynamixel XC330-M288 in current-based position mode (Operating Mode 5), per joint.

    What is modelled, and from where (the ROBOTIS XC330 e-manual unless noted):

    * **Command latency** ``latency_s``: a Goal Position takes effect that long after it is written
      (USB adapter + bus + servo cycle; ~5-10 ms on a tuned LEAP hand). Targets are delayed in whole
      physics steps. A ``(min, max)`` range draws the latency per episode (at :meth:`reset`, from the
      generator it is given: the env's ``np_random``), as a system identification of LEAP hand servos
      found it varying between 0 and 100 ms.
    * **Encoder quantization**: the controller (and :meth:`measure`) sees the angle in 4096 ticks per
      revolution, plus Gaussian ``encoder_noise_rad`` on what is reported.
    * **Position PID** on the tick error, its output a current demand in mA. How the gain registers
      map to current is not published and is read one of two ways (``pd_units``):
      ``"register"``: the registers' internal scaling (P/128, I/65536, D/16) per tick of error and per
      tick/ms of its derivative (with P = 800 about 2.1 N m/rad below saturation, D = 200 about
      0.004 N m s/rad); ``"current"``: P in mA/rad, I in mA/(rad s), D in mA s/rad (with P = 800,
      D = 200 about 0.41 N m/rad and 0.10 N m s/rad), the reading of the public system identification
      of LEAP hand servos (in-hand-rotation-mjlab, fitted to a real hand's logs).
      ``stiffness_scale`` and ``damping_scale`` (a number or 16 in motor order) multiply P and D as
      that identification fits them per joint; ``side_gain_scale`` scales the P and D registers given
      here on the side joints 0, 4, 8 (what the official client writes; on the virtual hand the
      registers come from the driver instead, see :meth:`set_registers`).
    * **Current cap**: |I| <= ``goal_current_ma`` (the LEAP hand writes 350 mA, lite; 550 mA full).
    * **Torque** = ``torque_constant_nm_per_a`` x I (default 0.517 N m/A: stall torque / stall current;
      the identification uses 0.53).
    * **Gear friction**: Coulomb ``coulomb_friction_nm`` (smoothed over 0.05 rad/s) and viscous
      ``viscous_friction_nms`` opposing the joint velocity.
    * **Backlash** ``backlash_rad``: after the torque reverses, the motor has to cross the gear gap
      (at its no-load speed) before torque reaches the link again; the torque of that physics step is
      scaled by the fraction of the step spent engaged.
    * **Rotor inertia**: in the URDF (``hand.JOINT_ARMATURE``), the same for every actuator.

    Args:
        p_gain, i_gain, d_gain: Position P / I / D gain registers (LEAP: 800 / 0 / 200 on the ROS nodes).
        goal_current_ma, latency_s, backlash_rad, coulomb_friction_nm, viscous_friction_nms,
        encoder_noise_rad, pd_units, torque_constant_nm_per_a, stiffness_scale, damping_scale,
        side_gain_scale: as above. ``dt``: the physics step, s.
    """

    def __init__(self, p_gain: float = 800.0, i_gain: float = 0.0, d_gain: float = 200.0,
                 goal_current_ma: float = 350.0, latency_s: float | Sequence[float] = 0.008,
                 backlash_rad: float = 0.01, coulomb_friction_nm: float = 0.02, viscous_friction_nms: float = 0.005,
                 encoder_noise_rad: float = 0.0, pd_units: str = "register",
                 torque_constant_nm_per_a: float = TORQUE_CONSTANT, stiffness_scale: float | Sequence[float] = 1.0,
                 damping_scale: float | Sequence[float] = 1.0, side_gain_scale: float = 1.0,
                 dt: float = 1.0 / PHYSICS_HZ) -> None:
        values = dict(p_gain=p_gain, i_gain=i_gain, d_gain=d_gain, goal_current_ma=goal_current_ma,
                      backlash_rad=backlash_rad, coulomb_friction_nm=coulomb_friction_nm,
                      viscous_friction_nms=viscous_friction_nms, encoder_noise_rad=encoder_noise_rad,
                      torque_constant_nm_per_a=torque_constant_nm_per_a, side_gain_scale=side_gain_scale)
        bad = [k for k, v in values.items()
               if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (np.isfinite(v) and v >= 0)]
        if bad or dt <= 0 or torque_constant_nm_per_a == 0:
            raise ValueError(f"DynamixelXC330 parameters must be finite numbers >= 0 (torque_constant_nm_per_a "
                             f"and dt > 0); bad: {bad or ['torque_constant_nm_per_a or dt']}")
        check_side_gain_scale(side_gain_scale)
        if pd_units not in PD_UNITS:
            raise ValueError(f"pd_units must be one of {', '.join(PD_UNITS)}; got {pd_units!r}")
        self.latency_range = latency_range(latency_s)
        self._stiffness = joint_values(stiffness_scale, "stiffness_scale")
        self._damping = joint_values(damping_scale, "damping_scale")
        self.pd_units = pd_units
        self.params = {**values, "latency_s": float(latency_s) if np.ndim(latency_s) == 0 else list(self.latency_range),
                       "pd_units": pd_units, "stiffness_scale": self._stiffness.tolist(),
                       "damping_scale": self._damping.tolist()}
        self.dt = float(dt)
        self.delay_steps = int(round(self.latency_range[0] / dt))
        # Per-substep constants, computed once.
        self._dt_ms = self.dt * 1000.0
        self._half_gap = backlash_rad / 2.0
        self._gap_step = NO_LOAD_SPEED * self.dt  # rad the motor crosses of the gear gap per physics step
        self._torque_constant = float(torque_constant_nm_per_a)
        self._coulomb, self._viscous = float(coulomb_friction_nm), float(viscous_friction_nms)
        self.set_registers(side_scaled(p_gain, side_gain_scale), i_gain, side_scaled(d_gain, side_gain_scale),
                           goal_current_ma)
        self.current_ma = np.zeros(NUM_JOINTS)
        self.reset(np.zeros(NUM_JOINTS))

    def set_registers(self, p_gain, i_gain, d_gain, goal_current_ma) -> None:
        """Gains and Goal Current as written to the servos' registers (scalars or per-joint arrays, motor
        order), read in ``pd_units`` and scaled by the servo's ``stiffness_scale`` / ``damping_scale``.
        The virtual hand calls this with the registers its driver wrote (side-joint scaling included)."""
        per_p, per_i, per_d = _MA_PER_REGISTER[self.pd_units]
        self._kp = np.asarray(p_gain, dtype=np.float64) * per_p * self._stiffness  # mA per tick
        self._ki = np.asarray(i_gain, dtype=np.float64) * per_i  # mA per tick per ms of accumulation
        self._kd = np.asarray(d_gain, dtype=np.float64) * per_d * self._damping  # mA per (tick / ms)
        self._cap = np.asarray(goal_current_ma, dtype=np.float64)
        self._neg_cap = -self._cap
        self._uses_integral = bool(np.any(self._ki != 0.0))  # an all-zero I gain adds exactly nothing

    def pd_gains(self) -> tuple[np.ndarray, np.ndarray]:
        """Stiffness (N m/rad) and damping (N m s/rad) per joint below the current cap, motor order, as
        the gain registers are read now (units, per-joint scales, side joints, torque constant)."""
        nm_per_ma = self.params["torque_constant_nm_per_a"] / 1000.0
        stiffness = np.broadcast_to(self._kp * TICKS_PER_RAD * nm_per_ma, (NUM_JOINTS,))
        damping = np.broadcast_to(self._kd * TICKS_PER_RAD / 1000.0 * nm_per_ma, (NUM_JOINTS,))
        return stiffness.copy(), damping.copy()

    def reset(self, target: np.ndarray, gain_scale: np.ndarray | None = None,
              rng: np.random.Generator | None = None) -> None:
        self.scale = np.ones(NUM_JOINTS) if gain_scale is None else np.asarray(gain_scale, dtype=np.float64)
        self._scaled = bool(np.any(self.scale != 1.0))  # a unit scale changes exactly nothing
        self.rng = rng if rng is not None else np.random.default_rng(0)
        low, high = self.latency_range
        if high > low:  # a latency drawn per episode (the draw comes first: it sets the line's length)
            self.delay_steps = int(round(self.rng.uniform(low, high) / self.dt))
        # The latency line: a ring of delay_steps + 1 goals in ticks; each call writes the newest at the
        # head and reads the goal written delay_steps calls before. It starts full of the goal already
        # in the servos, so new targets queue behind it.
        self._goals = np.repeat(np.rint(np.asarray(target, dtype=np.float64) * TICKS_PER_RAD)[None],
                                self.delay_steps + 1, axis=0)
        self._head = 0
        self._integral = np.zeros(NUM_JOINTS)
        self._prev_error: np.ndarray | None = None
        self._slack = np.zeros(NUM_JOINTS)  # motor-side minus link-side angle within the gear gap, rad

    def torque(self, target: np.ndarray, q: np.ndarray, qdot: np.ndarray) -> np.ndarray:
        goals, head = self._goals, self._head
        newest = goals[head]
        np.multiply(target, TICKS_PER_RAD, out=newest)
        np.rint(newest, out=newest)
        head = head + 1 if head < self.delay_steps else 0
        self._head = head
        error = goals[head] - np.rint(q * TICKS_PER_RAD)
        self._integral += error * self._dt_ms
        current = self._kp * error
        if self._uses_integral:
            current += self._ki * self._integral
        if self._prev_error is not None:  # no derivative on the first call after a reset
            current += self._kd * ((error - self._prev_error) / self._dt_ms)
        self._prev_error = error
        if self._scaled:
            current *= self.scale
        np.minimum(current, self._cap, out=current)
        np.maximum(current, self._neg_cap, out=current)
        self.current_ma = current
        drive = self._torque_constant * current / 1000.0
        # Backlash: the motor crosses the gap at no-load speed before the torque reaches the link. Where
        # the drive is zero, nothing moves (|direction| = 0 zeroes the travel and the slack change).
        direction = np.sign(drive)
        travel = np.abs(direction * self._half_gap - self._slack)
        travel *= np.abs(direction)
        engaged = 1.0 - travel / self._gap_step
        np.maximum(engaged, 0.0, out=engaged)  # <= 1 already: the travel is >= 0
        self._slack += direction * np.minimum(travel, self._gap_step)
        friction = self._coulomb * np.tanh(qdot / 0.05) + self._viscous * qdot
        return drive * engaged - friction

    def measure(self, q: np.ndarray) -> np.ndarray:
        ticks = np.rint(q * TICKS_PER_RAD) / TICKS_PER_RAD
        noise = self.params["encoder_noise_rad"]
        return ticks + (self.rng.normal(0.0, noise, NUM_JOINTS) if noise > 0 else 0.0)

    def key(self) -> dict:
        return {"type": "DynamixelXC330", **self.params, "dt": self.dt}

    @property
    def torque_cap_nm(self) -> float:
        """Goal Current (the largest of the joints') times the torque constant, N m."""
        return float(np.max(self._cap)) * self._torque_constant / 1000.0


ACTUATORS: dict[str, type[Actuator]] = {"ideal_pd": IdealPD, "xc330": DynamixelXC330}
"""Actuators by name, as accepted by the envs' ``actuator=`` argument and by gap profiles."""


ActuatorSpec = str | Mapping[str, Any] | Actuator
"""What the envs' ``actuator=`` takes: see :func:`make_actuator`."""


def make_actuator(spec: ActuatorSpec) -> Actuator:
    """An actuator from a name in :data:`ACTUATORS` (default parameters), a mapping ``{"name": NAME,
    **parameters}`` (JSON-friendly, e.g. ``{"name": "ideal_pd", "torque_limit": 0.18}``: a simulator
    whose torque clip is the hand's Goal Current), or an instance (as is)."""
    if isinstance(spec, Actuator):
        return spec
    params = dict(spec) if isinstance(spec, Mapping) else {"name": spec}
    name = params.pop("name", None)
    if not isinstance(name, str) or name not in ACTUATORS:
        raise ValueError(f"unknown actuator {name!r}; allowed: {', '.join(ACTUATORS)} (a name or a mapping "
                         "{'name': NAME, **parameters}) or an Actuator instance")
    allowed = list(inspect.signature(ACTUATORS[name]).parameters)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"actuator {name!r} has no parameter {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return ACTUATORS[name](**params)
