"""Reaching a Ray cluster (baselines/cluster.py): a wrong address is a clear error at once, not minutes
of Ray retrying it."""

from __future__ import annotations

import socket
import time

import pytest

from baselines import cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, message", [
    ("nonsense", "give local, auto, or a cluster address host:port"),
    ("127.0.0.1:{port}", "nothing answers there"),
    ("ray://127.0.0.1:{port}", "nothing answers there"),
])
def test_a_wrong_cluster_address_is_a_clear_error_at_once(tmp_path, address, message):
    address = address.format(port=_closed_port())
    started = time.monotonic()
    with pytest.raises(SystemExit, match=f"dexndm eval: error: --ray {address}: {message}"):
        cli.main(["eval", "--policy", "random", "--episodes", "1", "--ray", address,
                  "--json", str(tmp_path / "r.json")])
    assert time.monotonic() - started < 30  # Ray alone retries a dead address for about 14 minutes
    assert not (tmp_path / "r.json").exists()


def test_auto_with_a_dead_ray_address_is_a_clear_error_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(SystemExit, match="dexndm collect: error: --ray 127.0.0.1:[0-9]+: nothing answers there"):
        cli.main(["collect", "--waves", "--episodes", "1", "--ray", "auto", "--out", str(tmp_path / "box")])
    assert time.monotonic() - started < 30


def test_a_worker_keeps_one_simulator_per_run_and_closes_the_last_runs():
    from baselines.cluster import worker_local

    class Env:
        closed = False

        def close(self) -> None:
            self.closed = True

    first = worker_local("run-a", Env)
    assert worker_local("run-a", Env) is first  # every task of a run reuses its env
    second = worker_local("run-b", Env)
    assert second is not first and first.closed and not second.closed
