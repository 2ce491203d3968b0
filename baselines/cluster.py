"""Ray for the project's heavy jobs: one way to reach a cluster, shared by every ``--ray`` command.

``--ray ADDRESS`` takes ``local`` (a private Ray started on this machine for the run and shut down after
it), ``auto`` (the cluster ``RAY_ADDRESS`` names, or the one ``ray start`` runs on this machine) or a
cluster's address (``host:6379``, ``ray://host:10001``). Every machine of the cluster needs this project
installed in the same Python environment with the ``cluster`` extra (``pip install -e ".[cluster]"``):
Ray runs the workers' code from there. Ray is imported only when a command is given ``--ray``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

RAY_HELP = ("run the pieces on Ray: 'local' (a private Ray on this machine for this run), 'auto' (the cluster "
            "RAY_ADDRESS names, or the one `ray start` runs here) or a cluster address host:port")


def add_ray_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray ADDRESS`` (default: none, the serial path) to a command's parser."""
    parser.add_argument("--ray", metavar="ADDRESS", default=None, help=RAY_HELP)


def import_ray() -> ModuleType:
    """The ``ray`` module, or a ValueError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: install the cluster extra, pip install -e \".[cluster]\"") from None
    return ray


def ray_lost_the_run(error: BaseException) -> bool:
    """Whether ``error`` is Ray losing a run (a node, the head, a task's worker beyond its retries), as
    opposed to an exception raised by the work itself (``RayTaskError``: a bug to show in full)."""
    if "ray" not in sys.modules:  # no Ray in this process: not its error
        return False
    from ray.exceptions import RayError, RayTaskError

    return isinstance(error, RayError) and not isinstance(error, RayTaskError)


def check_address(address: str) -> None:
    """A ValueError, before anything is started or written, for an address no Ray can be reached at: empty,
    malformed, or a cluster (given, or ``auto``'s ``RAY_ADDRESS``) where nothing answers
    (:func:`check_listening`). ``local`` and ``auto`` without ``RAY_ADDRESS`` pass (Ray finds a cluster
    ``ray start`` runs here, or says there is none)."""
    if not address:
        raise ValueError("--ray needs an address: local, auto or host:port")
    if address != "local" and (address != "auto" or os.environ.get("RAY_ADDRESS")):
        check_listening(os.environ["RAY_ADDRESS"] if address == "auto" else address)


def check_listening(address: str, timeout_s: float = 5.0) -> None:
    """A ValueError unless something accepts a TCP connection at a cluster address (``host:port`` or
    ``ray://host:port``) within ``timeout_s`` seconds: Ray itself retries a dead address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray {address}: give local, auto, or a cluster address host:port (e.g. 10.0.0.2:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ValueError(f"--ray {address}: nothing answers there ({e}); is `ray start --head --port={port}` "
                         f"running on {host}?") from None


@contextlib.contextmanager
def ray_session(address: str, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Connect to Ray for the block and yield the ``ray`` module.

    ``address``: ``"local"`` starts a private Ray (``num_cpus`` CPUs, default all of this machine's) that
    is shut down when the block ends; ``"auto"`` or an address joins a running cluster (``num_cpus`` must
    be None: the cluster's nodes say what they have), which the block's end only disconnects from. A Ray
    already initialised in this process (a test's, a notebook's) is used as it is and left running.
    SIGTERM keeps the handler the caller had (``ray.init`` installs one that exits at once, which would
    skip the caller's clean-up: a collection's message of what is on disk)."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address != "local" and num_cpus is not None:
        raise ValueError("num_cpus is for a local Ray; a cluster's nodes declare their own CPUs (ray start --num-cpus)")
    check_address(address)
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        if address == "local":
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except ConnectionError as e:
        raise ValueError(f"--ray {address}: no Ray cluster there, or one that refused us ({e}); start one with "
                         "`ray start --head`, give this machine the cluster's token (RAY_AUTH_MODE=token and the "
                         "head's ~/.ray/auth_token), or use --ray local") from None
    if threading.current_thread() is threading.main_thread() and previous_sigterm is not None:
        signal.signal(signal.SIGTERM, previous_sigterm)
    log.info("Ray %s: %s CPUs", address, ray.cluster_resources().get("CPU"))
    try:
        yield ray
    finally:
        ray.shutdown()


MAX_RETRIES = 3
"""How many times Ray runs a task again whose worker process or node died (a task that raises is not
run again: its exception reaches the caller)."""

_worker_objects: dict[str, object] = {}


def map_in_order(address: str, fn: Callable[..., T], indices: Sequence[int], *shared: object,
                 num_cpus: int | None = None) -> Iterator[T]:
    """Run ``fn(i, *shared)`` for every ``i`` of ``indices`` as Ray tasks of one CPU each (on the Ray that
    :func:`ray_session` gives for ``address`` and ``num_cpus``) and yield the results in the order of
    ``indices``, however the tasks finish; the caller can then write each one as it comes.

    ``fn`` must be a module-level function (workers import it); ``shared`` goes into Ray's object store
    once, not once per task. At most twice the cluster's CPUs tasks are queued, running, or finished but
    waiting for an earlier one, which bounds what the results hold in memory. A task whose worker or
    node dies is run again elsewhere (:data:`MAX_RETRIES` times), and each index's result is yielded
    once; an exception ``fn`` raises reaches the caller. When the caller stops early (an exception,
    KeyboardInterrupt, closing the generator), the tasks not finished yet are cancelled."""
    order = list(indices)
    if not order:  # nothing to do: no need to start or join a Ray
        return
    with ray_session(address, num_cpus) as ray:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise ValueError(f"--ray {address}: the cluster has no CPUs to run tasks on; add a node with CPUs "
                             "(ray start --address=HEAD:PORT --num-cpus=N)")
        limit = 2 * cpus
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(fn)
        refs = [ray.put(x) for x in shared]
        pending: dict = {}  # ObjectRef -> position in order
        finished: dict[int, T] = {}  # position -> result, until the ones before it are yielded
        submitted = 0
        log.info("Ray: %d tasks of %s on %d CPUs, at most %d at a time", len(order), fn.__name__, cpus, limit)
        try:
            for position in range(len(order)):
                while submitted < len(order) and len(pending) + len(finished) < limit:
                    pending[task.remote(order[submitted], *refs)] = submitted
                    submitted += 1
                while position not in finished:
                    (ready, *_), _ = ray.wait(list(pending), num_returns=1)
                    finished[pending.pop(ready)] = ray.get(ready)
                yield finished.pop(position)
        finally:
            for ref in pending:
                ray.cancel(ref)


def episode_task(index: int, run: str, make: Callable[[], object], episode: Callable[..., T], source: object,
                 seed: int, steps: int, meta: dict) -> T:
    """The Ray task of one episode (``dexndm collect`` and ``dexndm eval`` with ``--ray``, through
    :func:`map_in_order`): ``episode(env, source, index, meta, seed=seed, steps=steps)`` in the env this
    worker process keeps for the run ``run`` (:func:`worker_local`, built by ``make``)."""
    return episode(worker_local(run, make), source, index, meta, seed=seed, steps=steps)


def worker_local(key: str, make: Callable[[], T]) -> T:
    """The object ``make()`` built for ``key`` in this process: built by the first call with ``key`` and
    kept for the later ones, so a Ray worker builds one simulator per run (``key``: the run's unique id)
    however many of its tasks it runs. Only the latest key's object is kept; the previous one is closed
    (``close()``) when another key comes."""
    if key not in _worker_objects:
        for old in _worker_objects.values():
            close = getattr(old, "close", None)
            if close is not None:
                close()
        _worker_objects.clear()
        _worker_objects[key] = make()
    return _worker_objects[key]
