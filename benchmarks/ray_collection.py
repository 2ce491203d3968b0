"""What ``dexndm collect --ray`` costs and gains on one machine: Chaos Box collection serially and over Ray.

* **Overhead**: the wall time of ``--episodes`` Chaos Box episodes (``--steps`` steps of waves each, the
  gap profile ``--gap``, wrist ``--wrist``) collected by ``dexndm collect``'s loop (baselines.collect)
  in this process, and the same collection with ``--ray local`` (a private Ray of each ``--cpus``
  count, started and shut down inside the timed call, as the command does); the ratio is Ray / serial.
  Every run writes the same files (checked: "same files" compares every array and the metadata with
  the serial run's).
* **Scaling**: for each Ray run, episodes/s and transitions/s, so 1 against 2 workers shows how far the
  episodes parallelise on this machine's cores (each Ray task is one episode in a worker's own
  simulator; the driver writes).
* **Ray start + stop**: the time of starting and shutting down the local Ray alone, part of every
  ``--ray local`` wall time (a cluster joined with ``--ray auto`` does not pay it).

    python benchmarks/ray_collection.py [--episodes 20] [--steps 400] [--cpus 1 2] [--wrist palm_down]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from report import header

from baselines.cluster import ray_session
from baselines.collect import collect
from baselines.episodes import env_factory
from baselines.sources import WaveSource
from dexndm_envs.dynamics.dataset import EpisodeDataset

ENV = "DexNDM/LeapChaosBox-v0"


def same_files(a: Path, b: Path) -> bool:
    """Whether two datasets hold the same episodes: every array byte for byte, and the metadata."""
    first, second = list(EpisodeDataset(a)), list(EpisodeDataset(b))
    return len(first) == len(second) and all(
        x["meta"] == y["meta"] and all(np.array_equal(x[k], y[k]) for k in ("q", "targets", "actions", "timestamps"))
        for x, y in zip(first, second))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--cpus", type=int, nargs="+", default=[1, 2], help="local Ray sizes to run (CPUs)")
    parser.add_argument("--wrist", default="palm_down")
    parser.add_argument("--gap", default="leap_xc330")
    args = parser.parse_args()
    header()
    print(f"cores: {os.cpu_count()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(1, 5, 15 min) at the start")
    print(f"{args.episodes} episodes x {args.steps} steps of waves, {ENV} wrist {args.wrist}, gap {args.gap}")
    make_env, meta, _ = env_factory(ENV, {"wrist": args.wrist, "gap": args.gap}, None)
    transitions = args.episodes * args.steps
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("serial (in-process)", None)] + [("--ray local", n) for n in args.cpus]
        rows = []
        for mode, cpus in runs:
            out = Path(tmp) / f"{mode.split()[0].strip('-')}_{cpus}"
            started = time.perf_counter()
            collect(make_env, WaveSource(), args.episodes, out, meta, steps=args.steps, progress=False,
                    ray_address=None if cpus is None else "local", num_cpus=cpus)
            rows.append((mode, cpus, time.perf_counter() - started, out))
        serial_s, serial_out = rows[0][2], rows[0][3]
        print("| mode | CPUs | wall time (s) | Ray / serial | episodes/s | transitions/s | same files |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for mode, cpus, seconds, out in rows:
            same = "(reference)" if out == serial_out else ("yes" if same_files(out, serial_out) else "NO")
            print(f"| {mode} | {cpus or 1} | {seconds:.1f} | {seconds / serial_s:.2f} | {args.episodes / seconds:.2f} "
                  f"| {transitions / seconds:.0f} | {same} |")
    for cpus in args.cpus:
        started = time.perf_counter()
        with ray_session("local", cpus):
            pass
        print(f"Ray start + stop alone, {cpus} CPUs: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
