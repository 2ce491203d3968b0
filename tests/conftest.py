"""Shared fixtures.

Every test runs with ``$DEXNDM_CACHE`` pointing at a session-scoped temporary directory, so grasp
caches are generated once per test session (about 1-2 s per (object, wrist)) and ``~/.cache`` is never
touched. Tests that need a cache of their own (tests/test_grasps.py) point ``$DEXNDM_CACHE`` at a
per-test directory with ``monkeypatch``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import trimesh
from trimesh import creation

import dexndm_envs  # noqa: F401  (registers DexNDM/*)

ENV_ID = "DexNDM/LeapRotate-v0"
OBJECT = "cylinder_d55_ar20"
"""One small cylinder keeps every env test to a single grasp cache per wrist."""
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_script(name: str):
    """benchmarks/NAME.py as a module (it imports its siblings, ``report`` and the like, as a script would)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="session", autouse=True)
def dexndm_cache(tmp_path_factory):
    """Point ``$DEXNDM_CACHE`` at a temporary directory for the whole session."""
    path = tmp_path_factory.mktemp("dexndm_cache")
    old = os.environ.get("DEXNDM_CACHE")
    os.environ["DEXNDM_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("DEXNDM_CACHE", None)
    else:
        os.environ["DEXNDM_CACHE"] = old


def make_env(**kwargs) -> gym.Env:
    """``gym.make`` of LeapRotate-v0 with the test object unless another one is given."""
    kwargs.setdefault("object", OBJECT)
    return gym.make(ENV_ID, **kwargs)


@pytest.fixture(scope="session")
def warm_grasps(dexndm_cache):
    """Generate the session's grasp caches for the test object palm up and palm down, in envs that
    are then thrown away, so later envs load their grasps from disk."""
    for wrist in ("palm_up", "palm_down"):
        env = make_env(wrist=wrist)
        env.reset(seed=0)
        env.close()
    return dexndm_cache


@pytest.fixture
def env_factory(dexndm_cache):
    """A function making LeapRotate-v0 envs (test object by default) that are closed after the test."""
    envs: list[gym.Env] = []

    def factory(**kwargs) -> gym.Env:
        env = make_env(**kwargs)
        envs.append(env)
        return env

    yield factory
    for env in envs:
        env.close()


def rollout(env: gym.Env, seed: int | None, steps: int = 50, action_seed: int = 123):
    """Reset with ``seed`` and step with seeded uniform random actions; returns (obs [T+1, D],
    rewards [T]) as arrays, stopping early when the episode ends."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(action_seed)
    observations, rewards = [obs], []
    for _ in range(steps):
        action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small torch models on one intra-op thread for a whole module: two threads competing with another
    busy process spin-wait and run up to 100x slower (see dexndm_envs.dynamics.training.torch_threads)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def user_objects(monkeypatch, tmp_path) -> Path:
    """An empty user object catalogue for every test: nothing touches ~/.local."""
    root = tmp_path / "user_objects"
    monkeypatch.setenv("DEXNDM_USER_OBJECTS", str(root))
    return root


def l_shape_mm() -> trimesh.Trimesh:
    """An L: a 60 x 20 mm bar and a 20 x 45 mm bar, 15 mm thick, united (in mm, like most CAD exports)."""
    a = creation.box(extents=(60.0, 20.0, 15.0))
    a.apply_translation((30.0, 10.0, 7.5))
    b = creation.box(extents=(20.0, 45.0, 15.0))
    b.apply_translation((10.0, 22.5, 7.5))
    mesh = trimesh.boolean.union([a, b], engine="manifold")
    assert mesh.is_volume and not mesh.is_convex
    return mesh


@pytest.fixture
def l_stl(tmp_path) -> Path:
    """The L-shaped bracket written to an STL file (in mm)."""
    path = tmp_path / "l_bracket.stl"
    l_shape_mm().export(path)
    return path


def hull_count(path: Path) -> int:
    """Convex hulls in a collision OBJ: one object group (``o ...``) each."""
    return sum(1 for line in path.read_text().splitlines() if line.startswith("o "))


def wait_for(condition, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    """Poll ``condition()`` until it holds; an AssertionError naming ``what`` after ``timeout`` seconds, or
    as soon as ``proc`` (the process expected to make it hold) has exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.args[:6]} exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
