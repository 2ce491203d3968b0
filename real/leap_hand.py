"""The LEAP hand driver: the official start-up sequence and the safety rules, in URDF angles.

Policy-side code only ever sees URDF angles in motor order (radians); the conversion to Dynamixel
ticks (``urdf + pi``) happens here, with :func:`dexndm_envs.hand.urdf_to_ticks`.

Safety rules (for anything that commands a motor): targets are clamped to the joint limits; a NaN or
inf target is refused with ValueError before anything is sent; communication errors are retried and
then raised naming the motor (:class:`~real.bus.BusError`); torque is disabled on :meth:`close`, when
a command fails, and on leaving the context manager (exceptions and Ctrl-C included); Goal Current
never exceeds the cap.
"""

from __future__ import annotations

import numpy as np

from dexndm_envs import hand
from real.bus import BusError, DynamixelBus
from real.dynamixel import VELOCITY_UNIT, OperatingMode, TorqueEnable, describe_hardware_error

MAX_GOAL_CURRENT_MA = 600
"""Never command more than this (the LEAP hand's documented ceiling)."""


class LeapHand:
    """A connected LEAP hand.

    Args:
        port: serial device (/dev/ttyUSB0, or the emulator's /dev/pts/N).
        goal_current_ma: Goal Current for every motor, mA (350 lite hand, 550 full); at most 600.
        p_gain, d_gain: Position P / D gain registers (the paper's real hand: 800 / 200).
        side_gain_scale: P and D on the fingers' side joints (motors 0, 4, 8) relative to ``p_gain`` /
            ``d_gain`` (default 0.75, as the official LEAP client writes them; 1.0: the same gains on
            every joint). Written rounded to whole register values.
    """

    def __init__(self, port: str, goal_current_ma: int = 350, p_gain: int = 800, d_gain: int = 200,
                 side_gain_scale: float = hand.SIDE_GAIN_SCALE, baudrate: int = 4_000_000, retries: int = 3) -> None:
        if not 0 < goal_current_ma <= MAX_GOAL_CURRENT_MA:
            raise ValueError(f"goal_current_ma must be in (0, {MAX_GOAL_CURRENT_MA}] mA, got {goal_current_ma}")
        hand.check_side_gain_scale(side_gain_scale)
        self.bus = DynamixelBus(port, range(hand.NUM_JOINTS), baudrate=baudrate, retries=retries)
        self._torque_on = False
        try:
            missing = sorted(set(range(hand.NUM_JOINTS)) - set(self.bus.scan()))
            if missing:
                raise BusError(f"motors {missing} do not answer on {port}", missing)
            self._start(int(goal_current_ma), p_gain, d_gain, side_gain_scale)
        except BaseException:
            self.close()
            raise

    def _start(self, goal_current_ma: int, p_gain: int, d_gain: int, side_gain_scale: float) -> None:
        """The official client's sequence: current-based position mode, torque on, gains (the side
        joints' scaled by ``side_gain_scale``), Goal Current, hold the pose."""
        ones = np.ones(hand.NUM_JOINTS, dtype=np.int64)
        self.bus.sync_write("torque_enable", TorqueEnable.OFF * ones)
        self.bus.sync_write("operating_mode", OperatingMode.CURRENT_BASED_POSITION * ones)
        self.bus.sync_write("torque_enable", TorqueEnable.ON * ones)
        self._torque_on = True
        self.bus.sync_write("position_p_gain", np.rint(hand.side_scaled(p_gain, side_gain_scale)).astype(np.int64))
        self.bus.sync_write("position_i_gain", 0 * ones)
        self.bus.sync_write("position_d_gain", np.rint(hand.side_scaled(d_gain, side_gain_scale)).astype(np.int64))
        self.bus.sync_write("goal_current", min(goal_current_ma, MAX_GOAL_CURRENT_MA) * ones)
        q, _, _ = self.read()
        self.command(q)

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint angles (rad, URDF), velocities (rad/s) and currents (mA), motor order.

        Also checks every motor's Hardware Error Status (group reads drop the servos' error bytes): a
        motor in error switches the torque off and raises BusError naming it.
        """
        try:
            ticks, velocity, current = self.bus.read_state()
            status = self.bus.sync_read("hardware_error_status")
        except BusError:
            self.torque_off()
            raise
        if status.any():
            self.torque_off()
            bad = np.flatnonzero(status).tolist()
            words = "; ".join(f"motor {i}: {describe_hardware_error(int(status[i]))}" for i in bad)
            raise BusError(f"hardware error ({words}); torque switched off, reboot the motor(s)", bad)
        return hand.ticks_to_urdf(ticks), velocity * VELOCITY_UNIT, current.astype(np.float64)

    def command(self, target: np.ndarray) -> np.ndarray:
        """Send joint targets (rad, URDF, motor order), clamped to the limits; returns what was sent.

        Raises ValueError (nothing sent) for a wrong shape or a NaN / inf entry; on a bus failure the
        torque is switched off and the BusError re-raised.
        """
        target = np.asarray(target, dtype=np.float64)
        if target.shape != (hand.NUM_JOINTS,):
            raise ValueError(f"target must have shape ({hand.NUM_JOINTS},) in motor order, got {target.shape}")
        if not np.all(np.isfinite(target)):
            bad = np.flatnonzero(~np.isfinite(target)).tolist()
            raise ValueError(f"target has NaN or inf at motors {bad}; nothing was sent")
        safe = np.clip(target, hand.LOWER_LIMITS, hand.UPPER_LIMITS)
        try:
            self.bus.sync_write("goal_position", hand.urdf_to_ticks(safe))
        except BusError:
            self.torque_off()
            raise
        return safe

    def torque_off(self) -> None:
        """Disable torque on every motor (best effort: errors while switching off are swallowed)."""
        if self._torque_on:
            try:
                self.bus.sync_write("torque_enable", np.full(hand.NUM_JOINTS, TorqueEnable.OFF))
            except BusError:
                pass
            self._torque_on = False

    def close(self) -> None:
        """Torque off and release the port; safe to call twice."""
        self.torque_off()
        if self.bus is not None:
            self.bus.close()
            self.bus = None

    def __enter__(self) -> LeapHand:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
