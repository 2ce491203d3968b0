"""CPU time of a run and of the worker processes it started, for the CPU hours a policy took."""

from __future__ import annotations

import multiprocessing
import os
import resource
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time (user + system, s) of this process and of its child processes, finished or running
    (a running one is read from ``/proc``; where there is none, only the finished ones count)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime in ticks
    return total
