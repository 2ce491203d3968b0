"""The episode dataset (atomic .npz files + index.json) and the flat transition table built from it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from dexndm_envs.dynamics.dataset import DatasetError, EpisodeDataset, EpisodeWriter, read_episode, validate_episode
from dexndm_envs.dynamics.transitions import Transitions

META = {"source": "sim", "wrist": "palm_up", "object": "cylinder_d55_ar20", "gap": None, "policy": "random",
        "control_period_s": 0.05}


def episode(steps: int = 5, seed: int = 0, actions: bool = True) -> dict:
    """Arrays of a valid episode (float64, as an env records them)."""
    rng = np.random.default_rng(seed)
    ep = {"q": rng.normal(size=(steps + 1, 16)), "targets": rng.normal(size=(steps, 16)),
          "timestamps": 0.05 * np.arange(steps + 1)}
    if actions:
        ep["actions"] = rng.uniform(-1, 1, (steps, 16))
    return ep


def write_dataset(path, count: int = 3, steps: int = 5, **meta) -> list[dict]:
    writer = EpisodeWriter(path)
    eps = [episode(steps, seed=i) for i in range(count)]
    for i, ep in enumerate(eps):
        writer.write(meta={**META, "seed": i, **meta}, **ep)
    return eps


def save_npz(path, ep: dict, meta=None) -> None:
    """An episode file written by hand (bypassing the writer's validation)."""
    arrays = {k: v for k, v in ep.items()}
    if meta is not None:
        arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# -- round trip ---------------------------------------------------------------------------------------------
def test_write_read_round_trip(tmp_path):
    eps = write_dataset(tmp_path / "ds", count=2, steps=7)
    ds = EpisodeDataset(tmp_path / "ds")
    assert len(ds) == 2 and ds.transitions == 14
    for i, ep in enumerate(eps):
        got = ds[i]
        for key in ("q", "targets", "actions"):
            assert got[key].dtype == np.float32
            np.testing.assert_array_equal(got[key], ep[key].astype(np.float32))
        assert got["timestamps"].dtype == np.float64
        np.testing.assert_array_equal(got["timestamps"], ep["timestamps"])
        assert got["meta"] == {**META, "seed": i, "joint_order": "motor"}
    assert [e["meta"]["seed"] for e in ds] == [0, 1]  # iteration in order


def test_actions_are_optional(tmp_path):
    writer = EpisodeWriter(tmp_path)
    writer.write(meta=META, **episode(actions=False))
    assert "actions" not in EpisodeDataset(tmp_path)[0]


def test_index_lists_the_episodes(tmp_path):
    write_dataset(tmp_path, count=3, steps=4, source="real", faulty=False)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["format"] == "dexndm-episodes" and index["version"] == 1
    assert [e["file"] for e in index["episodes"]] == [f"episode_{i:06d}.npz" for i in range(3)]
    assert all(e["steps"] == 4 and e["source"] == "real" and e["object"] == META["object"]
               and e["wrist"] == "palm_up" and e["faulty"] is False for e in index["episodes"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode_000000.npz", "episode_000001.npz",
                                                          "episode_000002.npz", "index.json"]


def test_writer_refuses_a_directory_with_episodes_unless_resuming(tmp_path):
    write_dataset(tmp_path, count=2)
    with pytest.raises(FileExistsError, match="already holds 2 episodes"):
        EpisodeWriter(tmp_path)
    writer = EpisodeWriter(tmp_path, resume=True)
    assert len(writer) == 2
    assert writer.write(meta=META, **episode(seed=9)).name == "episode_000002.npz"
    ds = EpisodeDataset(tmp_path)
    assert len(ds) == 3
    np.testing.assert_array_equal(ds[2]["q"], episode(seed=9)["q"].astype(np.float32))


def test_writer_refuses_a_bad_episode_and_writes_nothing(tmp_path):
    writer = EpisodeWriter(tmp_path)
    bad = episode()
    bad["q"][2, 3] = np.nan
    with pytest.raises(DatasetError, match="episode_000000.npz: q contains NaN"):
        writer.write(meta=META, **bad)
    with pytest.raises(DatasetError, match="joint_order"):
        writer.write(meta={**META, "joint_order": "urdf"}, **episode())
    assert list(tmp_path.iterdir()) == []
    writer.write(meta=META, **episode())  # the next good one still gets number 0
    assert EpisodeDataset(tmp_path).entries[0]["file"] == "episode_000000.npz"


# -- crashes ------------------------------------------------------------------------------------------------
def test_stray_temporary_file_is_ignored_by_readers_and_removed_by_writers(tmp_path):
    write_dataset(tmp_path, count=3)
    stray = tmp_path / ".episode_000003.npz.tmp"
    stray.write_bytes(b"PK\x03\x04 half an episode")
    assert len(EpisodeDataset(tmp_path)) == 3
    writer = EpisodeWriter(tmp_path, resume=True)
    assert not stray.exists()
    assert writer.write(meta=META, **episode()).name == "episode_000003.npz"
    assert len(EpisodeDataset(tmp_path)) == 4


def test_episode_missing_from_the_index_is_picked_up(tmp_path):
    write_dataset(tmp_path, count=2)
    old_index = (tmp_path / "index.json").read_text()
    EpisodeWriter(tmp_path, resume=True).write(meta={**META, "seed": 2}, **episode(seed=2))
    (tmp_path / "index.json").write_text(old_index)  # crash after the episode's rename, before the index's
    ds = EpisodeDataset(tmp_path)
    assert len(ds) == 3 and ds[2]["meta"]["seed"] == 2
    assert json.loads((tmp_path / "index.json").read_text()) == json.loads(old_index)  # readers do not write
    EpisodeWriter(tmp_path, resume=True)  # the next writer repairs the index
    assert len(json.loads((tmp_path / "index.json").read_text())["episodes"]) == 3


def test_dataset_without_index_is_rebuilt_from_the_files(tmp_path):
    write_dataset(tmp_path, count=2)
    (tmp_path / "index.json").unlink()
    assert len(EpisodeDataset(tmp_path)) == 2


# -- bad input: every error names the file ------------------------------------------------------------------
def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupted(path):
    data = bytearray(path.read_bytes())
    for i in range(200, 400):  # inside the first member's data: its CRC no longer matches
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(1000))


@pytest.mark.parametrize("damage, message", [
    (_truncated, "not a readable .npz episode file"),
    (_corrupted, "not a readable .npz episode file"),
    (_random_bytes, "not a readable .npz episode file"),
])
def test_damaged_episode_files(tmp_path, damage, message):
    write_dataset(tmp_path, count=2)
    damage(tmp_path / "episode_000001.npz")
    ds = EpisodeDataset(tmp_path)  # the index still lists it; reading it fails
    ds[0]
    with pytest.raises(DatasetError, match=f"episode_000001.npz: {message}"):
        ds[1]
    (tmp_path / "index.json").unlink()  # rebuilding the index reads every file
    with pytest.raises(DatasetError, match=f"episode_000001.npz: {message}"):
        EpisodeDataset(tmp_path)


def _drop(key):
    return lambda ep: ep.pop(key)


def _set(key, value):
    return lambda ep: ep.__setitem__(key, value(ep))


def _nan_q(ep):
    ep["q"][3, 7] = np.nan


def _stamps_back(ep):
    ep["timestamps"][2] = ep["timestamps"][1]


@pytest.mark.parametrize("change, message", [
    (_drop("targets"), "missing array 'targets'"),
    (_drop("meta"), "missing array 'meta'"),
    (_set("q", lambda ep: ep["q"][:-1]), r"q must have shape \[T\+1, 16\] = \(6, 16\) for 5 targets; got \(5, 16\)"),
    (_set("q", lambda ep: ep["q"][:, :15]), r"q must have shape .* got \(6, 15\)"),
    (_set("targets", lambda ep: ep["targets"][:, :15]), r"targets must have shape \[T, 16\].* got \(5, 15\)"),
    (_set("timestamps", lambda ep: ep["timestamps"][:-1]), r"timestamps must have shape \[T\+1\]"),
    (_set("actions", lambda ep: ep["actions"][:-1]), r"actions must have shape \[T, 16\]"),
    (_nan_q, "q contains NaN or inf"),
    (_set("targets", lambda ep: np.where(np.eye(5, 16) > 0, np.inf, ep["targets"])), "targets contains NaN or inf"),
    (_stamps_back, "timestamps must increase strictly"),
])
def test_bad_arrays(tmp_path, change, message):
    ep = {**episode(5), "meta": np.array(json.dumps(META))}
    change(ep)
    path = tmp_path / "episode_000000.npz"
    save_npz(path, ep)
    with pytest.raises(DatasetError, match=f"episode_000000.npz: {message}"):
        read_episode(path)
    with pytest.raises(DatasetError, match=f"episode_000000.npz: {message}"):
        EpisodeDataset(tmp_path)


def test_one_step_episode_with_non_increasing_timestamps(tmp_path):
    ep = episode(1)
    ep["timestamps"] = np.array([0.0, 0.0])
    with pytest.raises(DatasetError, match="timestamps must increase strictly"):
        validate_episode({**ep, "meta": META}, "one-step")


@pytest.mark.parametrize("meta, message", [
    ({k: v for k, v in META.items() if k != "wrist"}, r"meta lacks \['wrist'\]"),
    ({k: v for k, v in META.items() if k not in ("gap", "policy")}, r"meta lacks \['gap', 'policy'\]"),
    ({**META, "source": "youtube"}, "meta source 'youtube' is not one of"),
    ({**META, "joint_order": "urdf"}, "joint_order 'urdf'"),
    ({**META, "control_period_s": 0.0}, "control_period_s must be > 0"),
    ([1, 2, 3], "meta must be a dict"),
])
def test_bad_meta(tmp_path, meta, message):
    path = tmp_path / "episode_000000.npz"
    save_npz(path, episode(), meta)
    with pytest.raises(DatasetError, match=f"episode_000000.npz: {message}"):
        read_episode(path)


def test_meta_that_is_not_json(tmp_path):
    path = tmp_path / "episode_000000.npz"
    save_npz(path, {**episode(), "meta": np.array("{source: sim")})
    with pytest.raises(DatasetError, match="episode_000000.npz: meta is not valid JSON"):
        read_episode(path)


@pytest.mark.parametrize("text, message", [
    ("{ not json", "index.json: not valid JSON"),
    (json.dumps({"format": "something-else", "version": 1, "episodes": []}), "index.json: not a dexndm-episodes index"),
    (json.dumps({"format": "dexndm-episodes", "version": 2, "episodes": []}), "index.json: format version 2"),
])
def test_bad_index(tmp_path, text, message):
    write_dataset(tmp_path, count=1)
    (tmp_path / "index.json").write_text(text)
    with pytest.raises(DatasetError, match=message):
        EpisodeDataset(tmp_path)


def test_gap_in_the_numbering(tmp_path):
    write_dataset(tmp_path, count=3)
    (tmp_path / "episode_000001.npz").unlink()
    ds = EpisodeDataset(tmp_path)  # the index lists all three
    with pytest.raises(DatasetError, match="episode_000001.npz: episode file is missing"):
        ds[1]
    with pytest.raises(DatasetError, match=r"not numbered 0..1; missing \[1\]"):
        EpisodeWriter(tmp_path, resume=True)
    (tmp_path / "index.json").unlink()
    with pytest.raises(DatasetError, match=rf"{tmp_path}: episode files are not numbered 0..1; missing \[1\]"):
        EpisodeDataset(tmp_path)


def test_empty_and_missing_directories(tmp_path):
    with pytest.raises(DatasetError, match=f"{tmp_path}: the dataset holds no episodes"):
        EpisodeDataset(tmp_path)
    EpisodeWriter(tmp_path / "fresh")  # writes nothing until the first episode
    with pytest.raises(DatasetError, match="fresh: the dataset holds no episodes"):
        EpisodeDataset(tmp_path / "fresh")
    with pytest.raises(DatasetError, match="nowhere: no such dataset directory"):
        EpisodeDataset(tmp_path / "nowhere")
    assert issubclass(DatasetError, ValueError)  # the CLI reports ValueErrors as messages


def test_faulty_episodes_can_be_skipped(tmp_path):
    writer = EpisodeWriter(tmp_path)
    for i, faulty in enumerate([False, True, False]):
        writer.write(meta={**META, "seed": i, "faulty": faulty}, **episode(seed=i))
    assert len(EpisodeDataset(tmp_path)) == 3
    ds = EpisodeDataset(tmp_path, include_faulty=False)
    assert len(ds) == 2 and ds.transitions == 10
    assert [ep["meta"]["seed"] for ep in ds] == [0, 2]


# -- transitions --------------------------------------------------------------------------------------------
def test_transition_windows_stay_inside_their_episode():
    a, b = episode(3, seed=1), episode(4, seed=2)
    tr = Transitions.from_episodes([a, b], history=3)
    assert len(tr) == 7 and tr.episodes == 2 and tr.history == 3
    assert tr.window.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2],   # episode a: clamped at its start
                                  [3, 3, 3], [3, 3, 4], [3, 4, 5], [4, 5, 6]]  # b never looks into a
    assert tr.steps_left.tolist() == [2, 1, 0, 3, 2, 1, 0]
    np.testing.assert_array_equal(tr.q.numpy(), np.concatenate([a["q"][:-1], b["q"][:-1]]).astype(np.float32))
    np.testing.assert_array_equal(tr.q_next.numpy(), np.concatenate([a["q"][1:], b["q"][1:]]).astype(np.float32))
    np.testing.assert_array_equal(tr.targets.numpy(), np.concatenate([a["targets"], b["targets"]]).astype(np.float32))
    assert tr.q.dtype == torch.float32

    q_hist, t_hist = tr.histories(torch.tensor([3, 6]))
    assert q_hist.shape == t_hist.shape == (2, 3, 16)
    np.testing.assert_array_equal(q_hist[0].numpy(), np.repeat(b["q"][:1], 3, 0).astype(np.float32))
    np.testing.assert_array_equal(t_hist[1].numpy(), b["targets"][1:4].astype(np.float32))
    other = torch.arange(7 * 16, dtype=torch.float32).view(7, 16)
    np.testing.assert_array_equal(tr.histories(torch.tensor([6]), other)[1][0].numpy(), other[4:7].numpy())


def test_rollout_starts_have_the_full_horizon():
    tr = Transitions.from_episodes([episode(3, seed=1), episode(4, seed=2)], history=2)
    assert tr.rollout_starts(1).tolist() == list(range(7))
    assert tr.rollout_starts(2).tolist() == [0, 1, 3, 4, 5]
    assert tr.rollout_starts(3).tolist() == [0, 3, 4]
    assert tr.rollout_starts(4).tolist() == [3]
    assert tr.rollout_starts(5).tolist() == []
    for h in (2, 3, 4):  # from each start, h steps end at the last transition of the same episode at the latest
        for s in tr.rollout_starts(h).tolist():
            assert tr.steps_left[s + h - 1] == tr.steps_left[s] - (h - 1)


def test_transitions_from_a_dataset_and_bad_arguments(tmp_path):
    write_dataset(tmp_path, count=3, steps=5)
    tr = Transitions.from_episodes(EpisodeDataset(tmp_path), history=10)
    assert len(tr) == 15 and tr.window.shape == (15, 10)
    assert (tr.window[:, 0] == torch.tensor([0] * 5 + [5] * 5 + [10] * 5)).all()
    with pytest.raises(ValueError, match="history must be >= 1"):
        Transitions.from_episodes(EpisodeDataset(tmp_path), history=0)
    with pytest.raises(ValueError, match="no episodes"):
        Transitions.from_episodes([], history=3)


def test_copied_dataset_reads_the_same(tmp_path):
    """A dataset directory is self-contained: copying it elsewhere keeps it readable."""
    write_dataset(tmp_path / "a", count=2)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    a, b = EpisodeDataset(tmp_path / "a"), EpisodeDataset(tmp_path / "b")
    assert a.entries == b.entries
    np.testing.assert_array_equal(a[1]["q"], b[1]["q"])


def test_the_writer_removes_only_its_own_temporary_files(tmp_path):
    (tmp_path / ".notes.tmp").write_text("a user's file")
    (tmp_path / ".episode_000000.npz.tmp").write_bytes(b"half an episode")
    EpisodeWriter(tmp_path)
    assert (tmp_path / ".notes.tmp").exists()
    assert not (tmp_path / ".episode_000000.npz.tmp").exists()
