"""Throughput of ``DexNDM/LeapRotate-v0`` against a Gymnasium-Robotics peer, on one core.

Measured, in one process on this machine (the main thread pinned to one CPU when the OS allows it),
``--repeats`` times, interleaved, and reported as the median over the repeats:

* **LeapRotate steps/s**: ``env.step`` with seeded random actions for the palm-up hand holding the
  ``cylinder_d55_ar20`` cylinder, rotating about +z, proprioceptive observations. Episodes that end
  are reset, but reset time is excluded from step time.
* **Peer steps/s**: the same loop for Gymnasium-Robotics ``HandManipulateBlockRotateZ-v1`` (MuJoCo
  Shadow hand; skipped with a message when ``gymnasium-robotics`` is not installed).
* **Ratio LeapRotate / peer** (target >= 2.5 per core).
* **LeapRotate in MuJoCo steps/s**: the same loop with ``gap="mujoco_ideal_pd"`` (the same hand, object,
  grasps and ideal PD, played by MuJoCo), and its ratio to the PyBullet env's; skipped with a message
  when ``mujoco`` is not installed.
* **Step overhead**: time per ``env.step`` over time per six bare ``pybullet.stepSimulation`` calls
  in the same scene (target <= 1.6). Both are timed from the same simulator states along the env's
  trajectory: before each env step the state is saved, six bare steps are timed from it and the
  state is restored (not timed). The bare steps command no torques (PyBullet clears them after every
  step), so the fingers go limp for those 50 ms and the contact set differs a little from the env's.
* **Reset time**: median and p90 of ``env.reset()`` (target median <= 2 ms), after warm-up resets.
  A reset restores a saved simulator state; the first reset of each grasp builds that state and the
  very first reset may generate the grasp cache (about a second, once per ``$DEXNDM_CACHE``), so both
  happen in the untimed warm-up.

The output is a plain-text table (paste it into BENCHMARKS.md); ``--json PATH`` also writes the
numbers.

    python benchmarks/throughput.py [--steps 3000] [--repeats 3] [--json results.json]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata

import gymnasium as gym
import numpy as np
import pybullet as pb

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from dexndm_envs.fileio import write_json

LEAP_ID = "DexNDM/LeapRotate-v0"
LEAP_KWARGS = dict(object="cylinder_d55_ar20", wrist="palm_up", axis="+z", obs_mode="proprio")
PEER_ID = "HandManipulateBlockRotateZ-v1"
MUJOCO_GAP = "mujoco_ideal_pd"
"""The training actuator in MuJoCo: the same env as LeapRotate's default but for the engine."""
BARE_STEPS_PER_ENV_STEP = 6
SEED = 0

MIN_PEER_RATIO = 2.5
MAX_STEP_OVERHEAD = 1.6
MAX_RESET_MEDIAN_MS = 2.0


# -- machine ------------------------------------------------------------------------------------------
def pin_to_one_core() -> str:
    """Pin this (main) thread to the lowest allowed CPU; a line saying what happened."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (os.sched_setaffinity unavailable on this platform)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"main thread pinned to CPU {cpu} (os.sched_setaffinity)"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    return {
        "platform": platform.platform(),
        "cpu": f"{cpu_model()} ({os.cpu_count()} logical CPUs)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": package_version("gymnasium"),
        "pybullet": package_version("pybullet"),
        "mujoco": package_version("mujoco"),
        "gymnasium-robotics": package_version("gymnasium-robotics"),
        "dexndm-envs": dexndm_envs.__version__,
    }


# -- timing -------------------------------------------------------------------------------------------
@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the garbage collector out of timed loops (as ``timeit`` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def time_env_steps(env: gym.Env, steps: int) -> float:
    """Seconds spent inside ``env.step`` over ``steps`` seeded random actions (resets not counted)."""
    env.reset(seed=SEED)
    env.action_space.seed(SEED)
    clock = time.perf_counter
    total = 0.0
    with gc_paused():
        for _ in range(steps):
            action = env.action_space.sample()
            t0 = clock()
            _, _, terminated, truncated, _ = env.step(action)
            total += clock() - t0
            if terminated or truncated:
                env.reset()
    return total


def time_step_and_bare_physics(env: gym.Env, steps: int) -> tuple[float, float]:
    """Seconds in ``env.step`` and in six bare ``stepSimulation`` calls, from the same states.

    Before each env step the simulator state is saved, six bare ``stepSimulation`` calls are timed
    from it, and the state is restored (not timed); then the env step is timed from that same state,
    with the same seeded actions as :func:`time_env_steps`.
    """
    world = env.unwrapped.world
    env.reset(seed=SEED)
    env.action_space.seed(SEED)
    clock = time.perf_counter
    step_total = bare_total = 0.0
    with gc_paused():
        for _ in range(steps):
            action = env.action_space.sample()
            state = world.save_state()
            t0 = clock()
            for _ in range(BARE_STEPS_PER_ENV_STEP):
                pb.stepSimulation(physicsClientId=world.client)
            bare_total += clock() - t0
            world.restore_state(state)
            pb.removeState(state, physicsClientId=world.client)
            t0 = clock()
            _, _, terminated, truncated, _ = env.step(action)
            step_total += clock() - t0
            if terminated or truncated:
                env.reset()
    return step_total, bare_total


def time_resets(env: gym.Env, count: int, warmup: int) -> list[float]:
    """Seconds per ``env.reset()`` for ``count`` resets after ``warmup`` untimed ones."""
    for _ in range(warmup):
        env.reset()
    clock = time.perf_counter
    times = []
    with gc_paused():
        for _ in range(count):
            t0 = clock()
            env.reset()
            times.append(clock() - t0)
    return times


# -- envs ---------------------------------------------------------------------------------------------
def make_leap(**kwargs) -> tuple[gym.Env, float]:
    """The LeapRotate env (``kwargs`` added to :data:`LEAP_KWARGS`) and the seconds its first reset took
    (grasp cache load or generation)."""
    env = gym.make(LEAP_ID, **LEAP_KWARGS, **kwargs)
    t0 = time.perf_counter()
    env.reset(seed=SEED)
    return env, time.perf_counter() - t0


def make_peer() -> gym.Env | None:
    """The Gymnasium-Robotics peer env, or None (with a printed hint) when it is not installed."""
    try:
        import gymnasium_robotics
    except ImportError as e:
        print(f"gymnasium-robotics is not installed ({e}); install it with `pip install -e .[bench]` "
              f"to benchmark {PEER_ID}. Skipping the peer.")
        return None
    gym.register_envs(gymnasium_robotics)
    env = gym.make(PEER_ID)
    env.reset(seed=SEED)
    return env


# -- report -------------------------------------------------------------------------------------------
def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def verdict(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return "skipped"
    return "PASS" if ok(value) else "MISS"


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def spread(values: list[float], spec: str) -> str:
    return "-" if not values else f"{format(min(values), spec)} .. {format(max(values), spec)}"


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    header = ("metric", "median", "min .. max", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for row in [header, None, *rows]:
        if row is None:
            print(line)
            continue
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:]))]
        print("  ".join(cells).rstrip())
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="env steps per measurement (default 3000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians reported (default 3)")
    parser.add_argument("--resets", type=int, default=200, help="timed resets (default 200)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    args = parser.parse_args()

    command = shlex.join(["python", *sys.argv])
    pinning = pin_to_one_core()
    machine = machine_info()
    print(f"command: {command}")
    print(f"pinning: {pinning}")
    for key, value in machine.items():
        print(f"{key + ':':<20}{value}")

    leap, first_reset_s = make_leap()
    print(f"\nLeapRotate: {LEAP_KWARGS}; first reset {first_reset_s:.3f} s (grasp cache load or generation)")
    peer = make_peer()
    try:
        mujoco_leap, _ = make_leap(gap=MUJOCO_GAP)
    except ValueError as e:  # the mujoco extra is not installed
        print(f"{e}; skipping the MuJoCo hand")
        mujoco_leap = None
    print(f"{args.repeats} repeats x {args.steps} steps, random actions seeded {SEED}; resets excluded from "
          f"step time\n")

    leap_sps: list[float] = []
    bare_sps: list[float] = []
    peer_sps: list[float] = []
    overhead: list[float] = []
    peer_ratio: list[float] = []
    mujoco_sps: list[float] = []
    mujoco_ratio: list[float] = []
    for _ in range(args.repeats):
        leap_s = time_env_steps(leap, args.steps)
        paired_step_s, bare_s = time_step_and_bare_physics(leap, args.steps)
        leap_sps.append(args.steps / leap_s)
        bare_sps.append(args.steps / bare_s)
        overhead.append(paired_step_s / bare_s)
        if peer is not None:
            peer_s = time_env_steps(peer, args.steps)
            peer_sps.append(args.steps / peer_s)
            peer_ratio.append(peer_s / leap_s)
        if mujoco_leap is not None:
            mujoco_s = time_env_steps(mujoco_leap, args.steps)
            mujoco_sps.append(args.steps / mujoco_s)
            mujoco_ratio.append(leap_s / mujoco_s)
    reset_ms = [t * 1e3 for t in time_resets(leap, args.resets, warmup=100)]
    leap.close()
    for env in (peer, mujoco_leap):
        if env is not None:
            env.close()

    reset_median = statistics.median(reset_ms)
    reset_p90 = float(np.percentile(reset_ms, 90))
    results = {
        "leap_steps_per_s": median(leap_sps),
        "bare_6x_stepSimulation_per_s": median(bare_sps),
        "peer_steps_per_s": median(peer_sps),
        "leap_over_peer": median(peer_ratio),
        "step_over_6_bare": median(overhead),
        "reset_median_ms": reset_median,
        "reset_p90_ms": reset_p90,
        "mujoco_leap_steps_per_s": median(mujoco_sps),
        "mujoco_over_pybullet": median(mujoco_ratio),
    }
    checks = {
        "leap_over_peer": verdict(results["leap_over_peer"], lambda v: v >= MIN_PEER_RATIO),
        "step_over_6_bare": verdict(results["step_over_6_bare"], lambda v: v <= MAX_STEP_OVERHEAD),
        "reset_median_ms": verdict(reset_median, lambda v: v <= MAX_RESET_MEDIAN_MS),
    }
    rows = [
        ("LeapRotate env steps/s", fmt(results["leap_steps_per_s"], ".0f"), spread(leap_sps, ".0f"), "", ""),
        (f"{PEER_ID} steps/s", fmt(results["peer_steps_per_s"], ".0f"), spread(peer_sps, ".0f"), "", ""),
        ("LeapRotate / peer (per core)", fmt(results["leap_over_peer"], ".2f"), spread(peer_ratio, ".2f"),
         f">= {MIN_PEER_RATIO}", checks["leap_over_peer"]),
        ("bare 6x stepSimulation /s", fmt(results["bare_6x_stepSimulation_per_s"], ".0f"),
         spread(bare_sps, ".0f"), "", ""),
        ("env step / 6 bare steps", fmt(results["step_over_6_bare"], ".2f"), spread(overhead, ".2f"),
         f"<= {MAX_STEP_OVERHEAD}", checks["step_over_6_bare"]),
        (f"reset median ms ({args.resets} resets)", fmt(reset_median, ".3f"), spread(reset_ms, ".3f"),
         f"<= {MAX_RESET_MEDIAN_MS}", checks["reset_median_ms"]),
        ("reset p90 ms", fmt(reset_p90, ".3f"), "", "", ""),
        (f"LeapRotate in MuJoCo ({MUJOCO_GAP}) steps/s", fmt(results["mujoco_leap_steps_per_s"], ".0f"),
         spread(mujoco_sps, ".0f"), "", ""),
        ("MuJoCo / PyBullet LeapRotate", fmt(results["mujoco_over_pybullet"], ".2f"), spread(mujoco_ratio, ".2f"),
         "", ""),
    ]
    print_table(rows)

    if args.json:
        report = {
            "command": command, "pinning": pinning, "machine": machine,
            "settings": {"steps": args.steps, "repeats": args.repeats, "resets": args.resets, "seed": SEED,
                         "leap": {"id": LEAP_ID, **LEAP_KWARGS}, "peer": PEER_ID},
            "results": results, "checks": checks,
            "repeats": {"leap_steps_per_s": leap_sps, "bare_6x_stepSimulation_per_s": bare_sps,
                        "peer_steps_per_s": peer_sps, "leap_over_peer": peer_ratio,
                        "mujoco_leap_steps_per_s": mujoco_sps, "mujoco_over_pybullet": mujoco_ratio,
                        "step_over_6_bare": overhead},
        }
        write_json(args.json, report)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
