"""The grasp cache: where it lives, when it is reused, what its key depends on, broken files."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import OBJECT, make_env

from dexndm_envs import grasps, hand, objects
from dexndm_envs.actuators import IdealPD
from dexndm_envs.poses import WRISTS
from dexndm_envs.world import PhysicsConfig


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "grasps").glob("*.npz"))


@pytest.fixture
def own_cache(monkeypatch, tmp_path) -> Path:
    """A fresh, empty $DEXNDM_CACHE for one test."""
    monkeypatch.setenv("DEXNDM_CACHE", str(tmp_path))
    return tmp_path


def reset_once(wrist: str = "palm_up", seed: int = 0, **kwargs):
    env = make_env(wrist=wrist, **kwargs)
    try:
        env.reset(seed=seed)
        return env.unwrapped._grasps[(0, wrist)]
    finally:
        env.close()


def test_session_cache_is_not_the_home_cache(dexndm_cache):
    assert grasps.cache_dir() == dexndm_cache / "grasps"
    assert Path.home() / ".cache" not in grasps.cache_dir().parents


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("DEXNDM_CACHE", raising=False)
    assert grasps.cache_dir() == Path.home() / ".cache" / "dexndm_envs" / "grasps"


@pytest.mark.slow
def test_cache_is_written_under_dexndm_cache_and_reused(own_cache, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="dexndm_envs.grasps"):
        first = reset_once()
    messages = [r.getMessage() for r in caplog.records if r.name == "dexndm_envs.grasps"]
    assert messages[0].startswith(f"generating 32 grasps of {OBJECT}")  # said before the ~10 s of work
    assert "accepted" in messages[-1]
    files = cache_files(own_cache)
    assert len(files) == 1
    assert files[0].name.startswith(f"{OBJECT}-") and files[0].suffix == ".npz"
    assert not list((own_cache / "grasps").glob("*.tmp")), "atomic write left a temporary file"
    mtime = files[0].stat().st_mtime_ns
    content = files[0].read_bytes()
    assert 0 < len(first) <= grasps.GraspConfig().num_grasps

    def no_generation(*args, **kwargs):
        raise AssertionError("grasps were regenerated although the cache file exists")

    monkeypatch.setattr(grasps, "generate_grasps", no_generation)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dexndm_envs.grasps"):
        second = reset_once()
    assert not [r for r in caplog.records if r.name == "dexndm_envs.grasps"]  # loading is silent
    assert cache_files(own_cache) == files
    assert files[0].stat().st_mtime_ns == mtime
    assert files[0].read_bytes() == content
    for field in ("q", "target", "object_pos", "object_quat"):
        np.testing.assert_array_equal(getattr(second, field), getattr(first, field))


def test_an_episode_is_the_same_whether_its_grasps_were_generated_or_loaded(own_cache):
    """Same seed, same episode, whatever the cache held: the generator runs in a scratch world, so
    an env that had to generate its grasps plays what an env that loaded them plays."""
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 16)).astype(np.float32)

    def play() -> np.ndarray:
        env = make_env(wrist="palm_up", obs_mode="privileged")
        try:
            obs = [env.reset(seed=3)[0]]
            obs += [env.step(a)[0] for a in actions]
            return np.array(obs)
        finally:
            env.close()

    generated = play()
    assert len(cache_files(own_cache)) == 1
    np.testing.assert_array_equal(play(), generated)


@pytest.mark.slow
def test_other_wrist_gets_its_own_cache_file(own_cache):
    reset_once("palm_up")
    reset_once("palm_down")
    files = cache_files(own_cache)
    assert len(files) == 2
    assert all(f.name.startswith(f"{OBJECT}-") for f in files)


def test_cached_grasps_are_sane(warm_grasps):
    for wrist in ("palm_up", "palm_down"):
        g = reset_once(wrist)
        n = len(g)
        assert g.q.shape == (n, 16) and g.target.shape == (n, 16)
        assert g.object_pos.shape == (n, 3) and g.object_quat.shape == (n, 4)
        assert np.all(g.q >= hand.LOWER_LIMITS - 0.05) and np.all(g.q <= hand.UPPER_LIMITS + 0.05)
        assert np.all(g.target >= hand.LOWER_LIMITS) and np.all(g.target <= hand.UPPER_LIMITS)
        np.testing.assert_allclose(np.linalg.norm(g.object_quat, axis=1), 1.0, atol=1e-6)
        # the object sits on the palm side (-z of the palm frame), within the hand's reach
        assert np.all(g.object_pos[:, 2] < grasps.PALM_FACE_Z)
        assert np.all(np.linalg.norm(g.object_pos, axis=1) < 0.15)
        assert g.stats["accepted"] == n and g.stats["candidates"] >= n


# -- the cache key ----------------------------------------------------------------------------------------
def key(physics=None, obj=OBJECT, wrist="palm_up", actuator=None, config=None, spec=None):
    spec = spec or objects.get_object(obj)
    return grasps.cache_key(spec, WRISTS[wrist], physics or PhysicsConfig(), actuator or IdealPD(),
                            config or grasps.GraspConfig())


def test_cache_key_is_stable():
    assert key() == key()
    assert key(wrist="palm_down") == key(wrist="palm_down")


def test_cache_key_changes_with_what_changes_the_grasps():
    base = key()
    spec = objects.get_object(OBJECT)
    default = PhysicsConfig()
    variants = {
        "object": key(obj="cylinder_d50_ar20"),
        "wrist": key(wrist="palm_down"),
        "friction": key(spec=dataclasses.replace(spec, friction=0.5)),
        "mass": key(spec=dataclasses.replace(spec, mass=0.05)),
        "actuator": key(actuator=IdealPD(kp=4.0)),
        "config": key(config=grasps.GraspConfig(num_grasps=8)),
        "physics": key(dataclasses.replace(default, solver_iterations=default.solver_iterations + 7)),
    }
    for what, k in variants.items():
        assert k != base, f"the cache key ignores the {what}"
    assert len(set(variants.values())) == len(variants)


# -- broken cache files -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_corrupt_cache_file_is_regenerated_with_a_warning(own_cache, caplog):
    original = reset_once()
    (path,) = cache_files(own_cache)
    path.write_bytes(b"this is not an npz file \x00\x01\x02" * 10)
    with pytest.raises(ValueError) as err:
        grasps.load_grasps(path)
    assert str(path) in str(err.value)

    with caplog.at_level(logging.WARNING, logger="dexndm_envs.grasps"):
        regenerated = reset_once()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "dexndm_envs.grasps"]
    assert warnings, "no warning about the corrupt cache file"
    assert str(path) in warnings[0].getMessage()
    assert cache_files(own_cache) == [path]
    reloaded = grasps.load_grasps(path)  # valid again
    for field in ("q", "target", "object_pos", "object_quat"):
        np.testing.assert_array_equal(getattr(reloaded, field), getattr(original, field))
        np.testing.assert_array_equal(getattr(regenerated, field), getattr(original, field))


@pytest.mark.slow
def test_truncated_cache_file_is_regenerated(own_cache, caplog):
    reset_once()
    (path,) = cache_files(own_cache)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # e.g. a disk that filled up, or an interrupted copy
    with pytest.raises(ValueError) as err:
        grasps.load_grasps(path)
    assert str(path) in str(err.value)
    with caplog.at_level(logging.WARNING, logger="dexndm_envs.grasps"):
        g = reset_once()
    assert any(str(path) in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert len(grasps.load_grasps(path)) == len(g)


def test_load_grasps_rejects_wrong_shapes(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, q=np.zeros((3, 15)), target=np.zeros((3, 15)), object_pos=np.zeros((3, 3)),
             object_quat=np.zeros((3, 4)), stats="{}")
    with pytest.raises(ValueError) as err:
        grasps.load_grasps(path)
    assert str(path) in str(err.value)
    empty = tmp_path / "empty.npz"
    np.savez(empty, q=np.zeros((0, 16)), target=np.zeros((0, 16)), object_pos=np.zeros((0, 3)),
             object_quat=np.zeros((0, 4)), stats="{}")
    with pytest.raises(ValueError):
        grasps.load_grasps(empty)
    missing = tmp_path / "missing.npz"
    np.savez(missing, q=np.zeros((3, 16)))
    with pytest.raises(ValueError) as err:
        grasps.load_grasps(missing)
    assert str(missing) in str(err.value)


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    g = grasps.GraspSet(rng.normal(size=(4, 16)), rng.normal(size=(4, 16)), rng.normal(size=(4, 3)),
                        rng.normal(size=(4, 4)), stats={"accepted": 4, "candidates": 9})
    path = tmp_path / "sub" / "g.npz"
    grasps.save_grasps(g, path)
    assert os.listdir(path.parent) == ["g.npz"]
    back = grasps.load_grasps(path)
    for field in ("q", "target", "object_pos", "object_quat"):
        np.testing.assert_array_equal(getattr(back, field), getattr(g, field))
    assert back.stats == g.stats
