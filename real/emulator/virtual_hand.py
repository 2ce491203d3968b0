"""The virtual LEAP hand: an emulated servo bus on a pseudo-terminal, moved by a physics world.

The physics is one of the sim envs' own worlds, driven through a reality-gap profile's actuator and
stepped at 120 Hz in real time: scene ``rotate`` is LeapRotate's (hand, object, cached grasp),
``chaos_box`` LeapChaosBox's (the hand in its box of soft balls, or palm up its strapped ball). Every
physics step reads the servos' goal registers (Torque Enable, Operating Mode, gains, Goal Current,
Goal Position) and writes back Present Position / Velocity / Current, so a driver on the serial
device sees a hand that behaves like the gap profile says. Until the first Torque Enable the world is
held still, so the grasped object does not drop before a driver has started.

A tracker server on 127.0.0.1 (``tracker_address``) answers each line ``pose`` with the object's
pose as one JSON line, like a camera tracker would (:class:`real.tracker.TcpTracker` reads it); in
the Chaos Box there is no object to track and it answers ``"visible": false``.

Operating modes: current-based position (5, the LEAP hand's; the cap is Goal Current) and position
(3: the cap is Current Limit) drive the joint; a servo with torque off or in another mode applies no
torque.

The register bridge is vectorised: a physics step copies all 16 control tables in one operation
(:attr:`ServoBus.registers`), reads the goal registers from that copy as arrays, and writes the three
present registers of every servo with one array assignment each.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
import tty

import numpy as np

from dexndm_envs.actuators import DynamixelXC330
from dexndm_envs.envs.leap_chaos_box_v0 import LeapChaosBoxEnv
from dexndm_envs.envs.leap_rotate_v0 import LeapRotateEnv
from dexndm_envs.gap import DEFAULT_HAND
from dexndm_envs.hand import NUM_JOINTS, ticks_to_urdf, urdf_to_ticks
from dexndm_envs.world import PHYSICS_HZ
from real.dynamixel import REGISTERS, VELOCITY_UNIT, HardwareError, OperatingMode, TorqueEnable
from real.emulator.bus import ServoBus
from real.emulator.faults import LATE_S, Faults, parse_faults
from real.emulator.protocol import PacketError, parse_packet

SCENES = ("rotate", "chaos_box")
DRIVING_MODES = (OperatingMode.POSITION, OperatingMode.CURRENT_BASED_POSITION)
"""Operating modes in which the emulated servos drive their joints."""
_DRIVES = np.isin(np.arange(256), DRIVING_MODES)
"""Whether each Operating Mode register value (one byte) drives the joint: one lookup per step."""
_CURRENT_BOUNDS = REGISTERS["present_current"].bounds


class VirtualHand:
    """16 emulated XC330 servos (IDs 0-15) on a pseudo-terminal.

    Args:
        gap: a gap profile whose actuator is ``xc330`` (name, path or GapProfile).
        object, wrist: as LeapRotate's arguments (the Chaos Box ignores ``object``).
        seed: which cached grasp the hand starts in (the reset seed of the scene's env).
        scene: ``rotate`` (LeapRotate's world) or ``chaos_box`` (LeapChaosBox's).
        faults: a fault spec (:mod:`real.emulator.faults`) or Faults.
    """

    def __init__(self, gap=DEFAULT_HAND, object: str = "cylinder_d55_ar20", wrist: str = "palm_down",
                 seed: int = 0, faults: str | Faults | None = None, scene: str = "rotate") -> None:
        if scene not in SCENES:
            raise ValueError(f"unknown scene {scene!r}; allowed: {', '.join(SCENES)}")
        self.faults = faults if isinstance(faults, Faults) else parse_faults(faults)
        self.scene = scene
        self.env = (LeapRotateEnv(object=object, wrist=wrist, gap=gap) if scene == "rotate"
                    else LeapChaosBoxEnv(wrist=wrist, gap=gap))
        if not isinstance(self.env.actuator, DynamixelXC330):
            raise ValueError("the virtual hand needs a gap profile with actuator 'xc330'")
        self.env.reset(seed=seed)
        self.bus = ServoBus(range(NUM_JOINTS))
        self.lock = threading.Lock()  # the registers
        self._physics_lock = threading.Lock()  # the world: one physics step, or a placement, at a time
        self._held = True  # physics frozen until the first Torque Enable
        q, _ = self.env.hand.joint_state()
        self._publish(q, np.zeros(NUM_JOINTS))
        self._server = socket.create_server(("127.0.0.1", 0))
        self.tracker_address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._running = threading.Event()
        self._busy_s, self._steps = 0.0, 0
        self._threads: list[threading.Thread] = []

    @property
    def driver_settings(self) -> dict:
        """The driver keyword arguments (:class:`real.leap_hand.LeapHand`, ``DexNDM/LeapRotateReal-v0``)
        that write the registers this hand's gap profile assumes: Goal Current (mA), the P and D
        registers and the side joints' scale. As on a real hand, the servos run whatever the driver
        writes; with these the virtual hand is the in-process gap env's hand."""
        gap = self.env.gap
        return {"goal_current_ma": int(round(gap.goal_current_ma)), "p_gain": int(round(gap.kp)),
                "d_gain": int(round(gap.kd)), "side_gain_scale": gap.side_gain_scale}

    # -- physics ----------------------------------------------------------------------------------------
    def _publish(self, q: np.ndarray, qdot: np.ndarray) -> None:
        """Write Present Position / Velocity / Current of every servo (joint angles q in rad, URDF, and
        velocities qdot in rad/s, motor order; the current is the actuator's last, mA). Hold ``lock``."""
        self.bus.set("present_position", urdf_to_ticks(self.env.actuator.measure(q)))
        self.bus.set("present_velocity", np.rint(qdot / VELOCITY_UNIT).astype(np.int64))
        current = np.rint(self.env.actuator.current_ma).astype(np.int64)
        self.bus.set("present_current", np.clip(current, *_CURRENT_BOUNDS))

    def _inject_overload(self) -> None:
        f = self.faults
        if f.overload_motor is None or time.perf_counter() - self._started < f.overload_at:
            return
        table = self.bus.tables[f.overload_motor]
        if not table.get("hardware_error_status") & HardwareError.OVERLOAD and not self._overloaded:
            table.set("hardware_error_status", HardwareError.OVERLOAD)
            table.set("torque_enable", TorqueEnable.OFF)  # the servo's shutdown on an overload error
            self._overloaded = True

    def physics_step(self) -> None:
        """One 1/120 s step: goal registers in, physics, present registers out."""
        with self._physics_lock:
            self._physics_step()

    def place_object(self, seed: int) -> None:
        """What the person at a real hand does between evaluation episodes: put the object back in the
        hand. The scene becomes LeapRotate's starting state for reset ``seed`` (the same object, grasp
        and joint positions as ``LeapRotate-v0(gap=...).reset(seed=seed)``), and the servos' goal
        positions are set to that grasp's targets, so the hand holds it until the driver commands.
        The driver's next reset then starts from it, holding the joints it reads (LeapRotateReal's
        reset), which squeezes less than the simulator's grasp target, as on a real hand."""
        if self.scene != "rotate":
            raise RuntimeError("place_object is for the rotate scene; the Chaos Box holds no object")
        with self._physics_lock:
            self.env.reset(seed=seed)
            goal = urdf_to_ticks(self.env.target)
            q, qdot = self.env.hand.joint_state()
            with self.lock:
                self.bus.set("goal_position", goal)
                self._publish(q, qdot)

    def _physics_step(self) -> None:
        with self.lock:
            self._inject_overload()
            reg = self.bus.registers.copy()  # all 16 control tables at once
        mode = reg["operating_mode"]
        driving = (reg["torque_enable"] == TorqueEnable.ON) & _DRIVES[mode]
        if self._held and not driving.any():
            return
        self._held = False
        actuator = self.env.actuator
        cap = np.where(mode == OperatingMode.CURRENT_BASED_POSITION,
                       np.abs(reg["goal_current"].astype(np.float64)), reg["current_limit"])  # mA
        actuator.set_registers(reg["position_p_gain"], reg["position_i_gain"], reg["position_d_gain"], cap)
        _, q, qdot = self.env.hand.actuated_step(actuator, ticks_to_urdf(reg["goal_position"]),
                                                 enabled=driving, loads=self.env.apply_loads)
        with self.lock:
            self._publish(q, qdot)

    def _physics_loop(self) -> None:
        period, next_time = 1.0 / PHYSICS_HZ, time.perf_counter()
        while self._running.is_set():
            start = time.perf_counter()
            self.physics_step()
            busy = time.perf_counter() - start
            self._busy_s += busy
            self._steps += 1
            next_time += period
            delay = next_time - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                next_time = time.perf_counter()  # behind: do not try to catch up in a burst

    # -- serial -----------------------------------------------------------------------------------------
    def _serial_loop(self) -> None:
        buffer = b""
        while self._running.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            buffer += os.read(self._master, 4096)
            while buffer:
                try:
                    packet, used = parse_packet(buffer)
                except PacketError as e:  # a corrupted instruction gets no answer, as on a real bus
                    packet, used = None, e.args[1]
                if packet is not None:
                    with self.lock:
                        reply = self.bus.handle(packet)
                    if reply:
                        self._send(reply)
                buffer = buffer[used:]
                if packet is None and used == 0:
                    break

    def object_pose(self) -> dict:
        """The object's world pose now, as the tracker server reports it."""
        if self.scene != "rotate":
            return {"visible": False, "time": time.perf_counter() - self._started}
        with self._physics_lock:  # not halfway through a placement
            position, quaternion = self.env.object_pose()
        return {"visible": True, "time": time.perf_counter() - self._started,
                "position": position.tolist(), "quaternion": quaternion.tolist()}

    def _tracker_loop(self) -> None:
        clients: list[socket.socket] = []
        while self._running.is_set():
            ready, _, _ = select.select([self._server, *clients], [], [], 0.05)
            for sock in ready:
                if sock is self._server:
                    clients.append(self._server.accept()[0])
                    continue
                try:
                    data = sock.recv(256)
                except OSError:
                    data = b""
                if not data:
                    clients.remove(sock)
                    sock.close()
                    continue
                for _ in range(data.count(b"\n")):
                    sock.sendall((json.dumps(self.object_pose()) + "\n").encode())
        for sock in clients:
            sock.close()

    def _send(self, reply: bytes) -> None:
        fate = self.faults.reply_fate()
        if fate == "drop":
            return
        if fate == "crc":
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        elif fate == "late":
            time.sleep(LATE_S)
        os.write(self._master, reply)

    def physics_stats(self) -> dict:
        """Steps run and the mean time one took (s); ``real_time_factor`` = (1/120 s) / that mean: how
        many times faster than real time the physics could run (>= 1 keeps real time)."""
        mean = self._busy_s / self._steps if self._steps else float("nan")
        return {"steps": self._steps, "mean_step_s": mean, "real_time_factor": (1.0 / PHYSICS_HZ) / mean}

    def start(self) -> VirtualHand:
        """Start the physics and serial threads; returns self."""
        self._started = time.perf_counter()
        self._busy_s, self._steps = 0.0, 0
        self._overloaded = False
        self._running.set()
        self._threads = [threading.Thread(target=f, daemon=True)
                         for f in (self._physics_loop, self._serial_loop, self._tracker_loop)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop the threads and close the pseudo-terminal and the physics world; safe twice."""
        self._running.clear()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads = []
        self._server.close()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.env.close()

    def __enter__(self) -> VirtualHand:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
