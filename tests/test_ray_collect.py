"""``--ray``: collection and evaluation sharded over Ray tasks give the serial files and report, resume like
the serial path, refuse what a simulator cannot shard, and a worker node lost mid-collection costs nothing."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import OBJECT, wait_for

from baselines import cli
from baselines.collect import collect
from baselines.episodes import env_factory
from baselines.evaluate import evaluate
from baselines.sources import WaveSource
from dexndm_envs.dynamics.dataset import EpisodeDataset

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
CHAOS = "DexNDM/LeapChaosBox-v0"
ROTATE = "DexNDM/LeapRotate-v0"
BOX = {"wrist": "palm_down"}  # with its balls
ROTATE_KWARGS = {"object": OBJECT, "wrist": "palm_down"}
ARRAYS = ("q", "targets", "actions", "timestamps")


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray of 2 CPUs for the module's tests (``--ray`` reuses an initialised Ray)."""
    sigterm = signal.getsignal(signal.SIGTERM)
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(tmp_path_factory.mktemp("r")))
    signal.signal(signal.SIGTERM, sigterm)  # ray.init's handler would outlive it
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def serial_box(tmp_path_factory) -> Path:
    """4 Chaos Box episodes of 20 steps, seed 7, collected serially."""
    out = tmp_path_factory.mktemp("serial_box")
    make, meta, _ = env_factory(CHAOS, BOX, None)
    collect(make, WaveSource(), 4, out, meta, seed=7, steps=20, progress=False)
    return out


def assert_same_dataset(a: Path, b: Path, episodes: int) -> None:
    """``a`` and ``b`` hold the same ``episodes`` files, index and metadata, with byte-identical arrays of the
    same dtypes; and the episodes differ from each other (so the comparison says something)."""
    names = [f"episode_{i:06d}.npz" for i in range(episodes)]
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir()) == [*names, "index.json"]
    assert json.loads((a / "index.json").read_text()) == json.loads((b / "index.json").read_text())
    first, second = list(EpisodeDataset(a)), list(EpisodeDataset(b))
    for i, (x, y) in enumerate(zip(first, second)):
        assert x["meta"] == y["meta"] and x["meta"]["episode"] == i
        for key in ARRAYS:
            assert x[key].dtype == y[key].dtype and x[key].tobytes() == y[key].tobytes(), (i, key)
    assert len({ep["actions"].tobytes() for ep in first}) == episodes


# -- collection -------------------------------------------------------------------------------------------
def test_a_ray_collection_writes_the_serial_files(local_ray, serial_box, tmp_path, caplog):
    make, meta, _ = env_factory(CHAOS, BOX, None)
    with caplog.at_level(logging.INFO, logger="baselines.cluster"):
        result = collect(make, WaveSource(), 4, tmp_path, meta, seed=7, steps=20, progress=False, ray_address="local")
    assert "Ray: 4 tasks of episode_task on 2 CPUs" in caplog.text  # it did run on Ray
    assert result["episodes"] == 4 and result["transitions"] == result["new_transitions"] == 80
    assert_same_dataset(tmp_path, serial_box, 4)


def test_a_resumed_ray_collection_is_the_uninterrupted_serial_one(local_ray, serial_box, tmp_path):
    make, meta, _ = env_factory(CHAOS, BOX, None)
    collect(make, WaveSource(), 2, tmp_path, meta, seed=7, steps=20, progress=False, ray_address="local")
    assert len(EpisodeDataset(tmp_path)) == 2
    result = collect(make, WaveSource(), 4, tmp_path, meta, seed=7, steps=20, progress=False, resume=True,
                     ray_address="local")
    assert result["episodes"] == 4 and result["new_transitions"] == 40
    assert_same_dataset(tmp_path, serial_box, 4)


# -- evaluation -------------------------------------------------------------------------------------------
def test_a_ray_evaluation_gives_the_serial_report_curves_and_rollouts(local_ray, warm_grasps, tmp_path):
    reports = {mode: evaluate(ROTATE, ROTATE_KWARGS, "random", 4, seed=3, steps=20, progress=False,
                              save_rollouts=tmp_path / mode, ray_address=address)
               for mode, address in (("serial", None), ("ray", "local"))}
    serial, sharded = reports["serial"], reports["ray"]
    curves, ray_curves = serial.pop("_curves"), sharded.pop("_curves")
    assert sharded == serial
    assert len(curves) == len(ray_curves) == 4
    for a, b in zip(curves, ray_curves):
        np.testing.assert_array_equal(a, b)
    assert len({e["returns"]["return"] for e in serial["per_episode"]}) == 4  # 4 different episodes
    assert_same_dataset(tmp_path / "ray", tmp_path / "serial", 4)


def test_a_loaded_policy_and_correction_go_to_the_workers(local_ray, warm_grasps, tmp_path):
    import torch

    from dexndm_envs.dynamics.checkpoint import save_checkpoint
    from dexndm_envs.dynamics.residual import RESIDUAL_FORMAT, MLPResidual

    residual = MLPResidual(hidden=8)
    with torch.no_grad():
        residual.net[-1].bias.fill_(1.0)  # a constant correction of 0.1 tanh(1) rad on every joint
    correction = save_checkpoint(tmp_path / "res.pt", RESIDUAL_FORMAT, residual, residual.kind, residual.config())
    generalist = ROOT / "baselines" / "checkpoints" / "generalist" / "generalist.pt"
    serial, sharded = (evaluate(ROTATE, ROTATE_KWARGS, str(generalist), 3, seed=1, steps=20, correction=correction,
                                progress=False, ray_address=address) for address in (None, "local"))
    for a, b in zip(serial.pop("_curves"), sharded.pop("_curves")):
        np.testing.assert_array_equal(a, b)
    assert sharded == serial and serial["correction"] == str(correction)
    assert len({e["returns"]["return"] for e in serial["per_episode"]}) == 3


def test_an_oracle_on_the_privileged_observation_gives_the_serial_report(local_ray, warm_grasps):
    """Each worker's env has run other episodes than the serial one before each of its episodes; the
    privileged observation (fingertip contacts included) must not depend on them."""
    oracle = ROOT / "baselines" / "checkpoints" / "oracle_palm_down_cylinder_z_cap" / "model.zip"
    kwargs = {**ROTATE_KWARGS, "wrist": "palm_down"}
    serial, sharded = (evaluate(ROTATE, kwargs, str(oracle), 4, seed=2, steps=20, progress=False,
                                ray_address=address) for address in (None, "local"))
    for a, b in zip(serial.pop("_curves"), sharded.pop("_curves")):
        np.testing.assert_array_equal(a, b)
    assert sharded == serial and serial["env_kwargs"]["obs_mode"] == "privileged"


def test_an_exception_in_a_task_reaches_the_caller_as_itself(local_ray):
    """A task that raises (here: its env cannot be made on the worker) stops the run with that exception,
    which the caller can catch as what it is; it is the work's error, not Ray losing the run."""
    import functools

    import gymnasium as gym

    from baselines.cluster import episode_task, map_in_order, ray_lost_the_run
    from baselines.collect import record

    make = functools.partial(gym.make, "DexNDM/NoSuchEnv-v0")
    with pytest.raises(gym.error.Error, match="NoSuchEnv") as err:
        list(map_in_order("local", episode_task, range(3), uuid.uuid4().hex, make, record, None, 0, 5, {}))
    assert not ray_lost_the_run(err.value)


# -- the command line ---------------------------------------------------------------------------------------
def test_the_ray_flag_of_eval_and_of_collect_with_replayed_rollouts(local_ray, warm_grasps, tmp_path):
    for mode, extra in (("serial", []), ("ray", ["--ray", "local"])):
        cli.main(["eval", "--policy", "scripted", "--env-kwargs", json.dumps(ROTATE_KWARGS), "--episodes", "3",
                  "--steps", "20", "--json", str(tmp_path / f"{mode}.json"), "--save-rollouts",
                  str(tmp_path / f"{mode}_rollouts"), *extra])
    assert json.loads((tmp_path / "ray.json").read_text()) == json.loads((tmp_path / "serial.json").read_text())
    assert (tmp_path / "ray.png").stat().st_size > 1000
    # the rollouts replayed in the Chaos Box: the replay source, with its arrays, goes to the workers
    for mode, extra in (("serial", []), ("ray", ["--ray", "local"])):
        cli.main(["collect", "--rollouts", str(tmp_path / "serial_rollouts"), "--env-kwargs", json.dumps(BOX),
                  "--episodes", "3", "--steps", "20", "--seed", "1", "--out", str(tmp_path / f"{mode}_box"), *extra])
    assert_same_dataset(tmp_path / "ray_box", tmp_path / "serial_box", 3)
    assert {ep["meta"]["policy"] for ep in EpisodeDataset(tmp_path / "ray_box")} == {"replay"}


@pytest.mark.parametrize("argv, message", [
    (["collect", "--waves", "--episodes", "1", "--port", "/dev/null", "--env", "DexNDM/LeapRotateReal-v0"],
     "dexndm collect: error: --ray shards the episodes over many simulators, but --port is one hand"),
    (["eval", "--policy", "scripted", "--episodes", "1", "--port", "/dev/null", "--env", "DexNDM/LeapRotateReal-v0",
      "--env-kwargs", '{"tracker": "127.0.0.1:1"}'],
     "dexndm eval: error: --ray shards the episodes over many simulators, but --port is one hand"),
    (["eval", "--policy", "scripted", "--episodes", "1", "--video", "VIDEO"],
     "dexndm eval: error: --video records in this process: drop --ray to record videos"),
], ids=["collect_port", "eval_port", "eval_video"])
def test_what_ray_cannot_shard_is_a_clear_error(tmp_path, argv, message):
    out = tmp_path / "out"
    args = [str(out / "video") if a == "VIDEO" else a for a in argv]
    args += ["--out", str(out)] if argv[0] == "collect" else ["--json", str(out / "r.json")]
    with pytest.raises(SystemExit) as err:
        cli.main([*args, "--ray", "local"])
    assert str(err.value.code).startswith(message)
    assert not out.exists(), "nothing is created for a refused command"


def test_ray_needs_an_address(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["collect", "--waves", "--episodes", "1", "--out", str(tmp_path), "--ray"])
    assert err.value.code == 2 and "--ray: expected one argument" in capsys.readouterr().err


# -- interrupts and lost nodes ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid``."""
    rows = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout
    parent = {int(p): (int(pp), args) for p, pp, args in (line.split(None, 2) for line in rows.splitlines())}
    found, todo = [], [pid]
    while todo:
        below = todo.pop()
        children = [p for p, (pp, _) in parent.items() if pp == below]
        found += [(p, parent[p][1]) for p in children]
        todo += children
    return found


def running(pids: list[int]) -> list[int]:
    """Those of ``pids`` that are still running (zombies, waiting to be reaped, are not)."""
    rows = subprocess.run(["ps", "-eo", "pid=,stat="], capture_output=True, text=True, check=True).stdout
    alive = {int(pid) for pid, stat in (line.split() for line in rows.splitlines()) if not stat.startswith("Z")}
    return [pid for pid in pids if pid in alive]


@pytest.mark.slow
def test_sigterm_stops_a_ray_collection_with_its_episodes_on_disk_and_its_ray_shut_down(tmp_path, tmp_path_factory):
    out, log = tmp_path / "ray", tmp_path / "collect.log"
    kwargs = json.dumps({"wrist": "palm_down", "balls": 0})
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = str(tmp_path_factory.mktemp("r"))  # the private Ray's files
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "baselines.cli", "collect", "--waves", "--env-kwargs", kwargs,
                                 "--episodes", "1000", "--steps", "20", "--seed", "4", "--out", str(out),
                                 "--ray", "local"], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (out / "episode_000001.npz").exists(), 180, proc, "two finished episodes")
        private_ray = [pid for pid, _ in descendants(proc.pid)]
        assert any("raylet/raylet " in args for _, args in descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert rc == 1, text
    match = re.search(r"dexndm collect: interrupted; (\d+) finished episodes are on disk in (\S+) "
                      r"\(the ones in progress were dropped\); --resume continues", text)
    assert match and "Traceback" not in text, text
    n = int(match.group(1))
    assert 2 <= n < 1000 and match.group(2) == str(out)
    assert sorted(p.name for p in out.iterdir()) == [*(f"episode_{i:06d}.npz" for i in range(n)), "index.json"]
    assert len(EpisodeDataset(out)) == n
    wait_for(lambda: not running(private_ray), 30, what="the private Ray to be gone")
    # --resume goes on from there, and the result is one uninterrupted serial collection
    make, meta, _ = env_factory(CHAOS, json.loads(kwargs), None)
    collect(make, WaveSource(), n + 1, out, meta, seed=4, steps=20, progress=False, resume=True)
    collect(make, WaveSource(), n + 1, tmp_path / "serial", meta, seed=4, steps=20, progress=False)
    assert_same_dataset(out, tmp_path / "serial", n + 1)


@contextlib.contextmanager
def ray_cluster(temp_dir: Path, logs: Path, worker_nodes: int):
    """A Ray cluster as ``ray start`` builds one over machines, here on this one: a head with no CPUs and
    ``worker_nodes`` nodes of one CPU, each node a ``ray start --block`` process of ours (its raylet and
    the raylet's workers below it). Its own auth token, faster node-death detection (1 s health checks),
    every port free. Yields (address, env for its clients, the worker nodes' processes); at the end every
    process it started is stopped, by pid."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=uuid.uuid4().hex, RAY_health_check_period_ms="1000",
               RAY_health_check_failure_threshold="5")
    port = free_port()
    address = f"127.0.0.1:{port}"
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--disable-usage-stats",
               "--node-ip-address=127.0.0.1"]
    nodes: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = logs / f"{name}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen([*ray_cli, *args], env=env, stdout=f, stderr=subprocess.STDOUT)
        nodes.append(proc)
        wait_for(lambda: b"Ray runtime started" in log.read_bytes(), 120, proc, f"Ray node {name}")
        return proc

    try:
        start("head", "--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false",
              f"--temp-dir={temp_dir}", f"--ray-client-server-port={free_port()}", f"--dashboard-port={free_port()}")
        workers = [start(f"worker{i}", f"--address={address}", "--num-cpus=1",
                         f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}")
                   for i in range(worker_nodes)]
        yield address, env, workers
    finally:
        started = {pid for node in nodes for pid, _ in descendants(node.pid)}
        for node in nodes:
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=40)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_worker_node_lost_mid_collection_costs_no_episode_and_duplicates_none(tmp_path, tmp_path_factory):
    if ray.is_initialized():  # the module's local Ray: this test's driver joins a cluster of its own
        ray.shutdown()
    kwargs, episodes, steps = {"wrist": "palm_down", "balls": 0}, 8, 100
    out, log = tmp_path / "ray", tmp_path / "collect.log"
    with ray_cluster(tmp_path_factory.mktemp("r"), tmp_path, worker_nodes=2) as (address, env, (_, doomed)):
        (raylet,) = [pid for pid, args in descendants(doomed.pid) if "raylet/raylet " in args]
        with open(log, "wb") as f:
            driver = subprocess.Popen([sys.executable, "-m", "baselines.cli", "collect", "--waves", "--env-kwargs",
                                       json.dumps(kwargs), "--episodes", str(episodes), "--steps", str(steps),
                                       "--seed", "2", "--out", str(out), "--ray", address],
                                      cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        try:
            # kill the node while it records an episode, after the first episode is on disk
            wait_for(lambda: (out / "episode_000000.npz").exists()
                     and any(args.startswith("ray::episode_task") for _, args in descendants(raylet)),
                     180, driver, "an episode on disk and one running on the doomed node")
            victims = [raylet, *(pid for pid, _ in descendants(raylet))]
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            on_disk_at_kill = len(list(out.glob("episode_*.npz")))
            assert on_disk_at_kill < episodes
            rc = driver.wait(timeout=300)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
    text = log.read_text()
    assert rc == 0, text
    assert f"{episodes} episodes ({episodes * steps} transitions, 0 faulty)" in text and "Traceback" not in text
    assert "will be retried" in text  # Ray's word that the killed task ran again (ray==2.60.0's wording)
    make, meta, _ = env_factory(CHAOS, kwargs, None)
    collect(make, WaveSource(), episodes, tmp_path / "serial", meta, seed=2, steps=steps, progress=False)
    assert_same_dataset(out, tmp_path / "serial", episodes)
