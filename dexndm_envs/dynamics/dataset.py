"""The episode dataset: one on-disk format for every source (sim, gap env, emulator, real hand).

Layout of a dataset directory::

    DIR/
      index.json              {"format": "dexndm-episodes", "version": 1, "episodes": [...]}
      episode_000000.npz      one file per episode (numpy .npz, no pickles)
      episode_000001.npz
      ...

Schema of one episode file (arrays in **motor order**, angles in **radians**, times in **seconds**):

===============  ===============  ==========================================================
key              shape, dtype     content
===============  ===============  ==========================================================
``q``            [T+1, 16] f32    joint readings; ``q[0]`` before the first step, ``q[t+1]``
                                  at the end of control period t
``targets``      [T, 16] f32      the joint targets the motors executed during period t
``timestamps``   [T+1] f64        time of each reading since the episode start
``actions``      [T, 16] f32      optional: the policy's actions in [-1, 1] (for replay)
``meta``         0-d str          JSON object, see :data:`REQUIRED_META`
===============  ===============  ==========================================================

So ``(q[t], targets[t]) -> q[t+1]`` is one transition. Required metadata: ``source`` (sim, gap,
emulator, real), ``wrist``, ``object``, ``gap`` (profile name or null), ``policy``,
``control_period_s``; ``joint_order`` is always ``"motor"``; anything else (seed, faults, ...) is kept.
An episode whose ``meta["faulty"]`` is true was recorded across a bus fault; readers may skip it with
``EpisodeDataset(path, include_faulty=False)``.

Writes are atomic: an episode is written to a temporary file in the same directory, flushed to disk
and renamed into place, then the index is rewritten the same way. A crash leaves at worst a stray
temporary file (ignored, removed by the next writer) or an episode the index does not list yet (picked
up again when the index is rebuilt on open). No reader ever sees half a file.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs.fileio import atomic_write
from dexndm_envs.hand import NUM_JOINTS

FORMAT = "dexndm-episodes"
VERSION = 1
INDEX_NAME = "index.json"
REQUIRED_META = ("source", "wrist", "object", "gap", "policy", "control_period_s")
SOURCES = ("sim", "gap", "emulator", "real")
_EPISODE_RE = re.compile(r"^episode_(\d{6,})\.npz$")
_TMP_RE = re.compile(r"^\.(episode_\d{6,}\.npz|index\.json)(\.[A-Za-z0-9_]+)?\.tmp$")


class DatasetError(ValueError):
    """A dataset directory or episode file that does not follow the schema; the message names it."""



def validate_episode(ep: dict[str, Any], where: str = "episode") -> None:
    """Raise :class:`DatasetError` (naming ``where``) unless ``ep`` follows the schema above."""
    for key in ("q", "targets", "timestamps", "meta"):
        if key not in ep:
            raise DatasetError(f"{where}: missing array {key!r}; an episode has q, targets, timestamps, meta")
    q, targets, stamps = (np.asarray(ep[k]) for k in ("q", "targets", "timestamps"))
    if targets.ndim != 2 or targets.shape[1] != NUM_JOINTS or targets.shape[0] < 1:
        raise DatasetError(f"{where}: targets must have shape [T, {NUM_JOINTS}] with T >= 1; got {targets.shape}")
    t = targets.shape[0]
    if q.shape != (t + 1, NUM_JOINTS):
        raise DatasetError(f"{where}: q must have shape [T+1, {NUM_JOINTS}] = {(t + 1, NUM_JOINTS)} "
                           f"for {t} targets; got {q.shape}")
    if stamps.shape != (t + 1,):
        raise DatasetError(f"{where}: timestamps must have shape [T+1] = ({t + 1},); got {stamps.shape}")
    if "actions" in ep and np.asarray(ep["actions"]).shape != (t, NUM_JOINTS):
        raise DatasetError(f"{where}: actions must have shape [T, {NUM_JOINTS}]; got {np.asarray(ep['actions']).shape}")
    for key in ("q", "targets", "timestamps", "actions"):
        if key in ep and not np.isfinite(np.asarray(ep[key], dtype=np.float64)).all():
            raise DatasetError(f"{where}: {key} contains NaN or inf")
    if not (np.diff(stamps) > 0).all():
        raise DatasetError(f"{where}: timestamps must increase strictly")
    meta = ep["meta"]
    if not isinstance(meta, dict):
        raise DatasetError(f"{where}: meta must be a dict; got {type(meta).__name__}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise DatasetError(f"{where}: meta lacks {missing}; required: {list(REQUIRED_META)}")
    if meta["source"] not in SOURCES:
        raise DatasetError(f"{where}: meta source {meta['source']!r} is not one of {list(SOURCES)}")
    if meta.get("joint_order", "motor") != "motor":
        raise DatasetError(f"{where}: joint_order {meta['joint_order']!r}; this format stores motor order")
    period = meta["control_period_s"]
    if not (isinstance(period, (int, float)) and not isinstance(period, bool) and period > 0):
        raise DatasetError(f"{where}: control_period_s must be > 0 (a number of seconds); got {period!r}")


def read_episode(path: str | Path) -> dict[str, Any]:
    """Load and validate one episode file; errors name the file and what is wrong with it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            ep: dict[str, Any] = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DatasetError(f"{path}: episode file is missing (listed in the index but not on disk)") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise DatasetError(f"{path}: not a readable .npz episode file ({e})") from None
    if "meta" in ep:
        try:
            ep["meta"] = json.loads(str(ep["meta"]))
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path}: meta is not valid JSON ({e})") from None
    validate_episode(ep, str(path))
    return ep


def _summary(name: str, ep: dict[str, Any]) -> dict[str, Any]:
    meta = ep["meta"]
    return {"file": name, "steps": int(len(ep["targets"])), "source": meta["source"], "wrist": meta["wrist"],
            "object": meta["object"], "faulty": bool(meta.get("faulty", False))}


class EpisodeWriter:
    """Append episodes to a dataset directory (created if needed), one atomic file each.

    ``resume=True`` continues after the episodes already there; otherwise the directory must not
    hold episodes yet (nothing collected is ever overwritten).
    """

    def __init__(self, path: str | Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        for stray in self.path.iterdir():  # our own temporary files, left by a crash in the middle of a write
            if _TMP_RE.match(stray.name):
                stray.unlink()
        self.entries = _scan(self.path) if any(self.path.glob("episode_*.npz")) else []
        if self.entries and not resume:
            raise FileExistsError(f"{self.path} already holds {len(self.entries)} episodes; "
                                  "pass resume=True (--resume) to add to them, or choose another directory")
        if self.entries:
            self._write_index()

    def __len__(self) -> int:
        return len(self.entries)

    def write(self, q: np.ndarray, targets: np.ndarray, timestamps: np.ndarray, meta: dict[str, Any],
              actions: np.ndarray | None = None) -> Path:
        """Validate and atomically write the next episode; returns its path."""
        ep: dict[str, Any] = {"q": np.asarray(q, dtype=np.float32), "targets": np.asarray(targets, dtype=np.float32),
                              "timestamps": np.asarray(timestamps, dtype=np.float64),
                              "meta": {"joint_order": "motor", **meta}}
        if actions is not None:
            ep["actions"] = np.asarray(actions, dtype=np.float32)
        name = f"episode_{len(self.entries):06d}.npz"
        validate_episode(ep, str(self.path / name))
        arrays = {k: v for k, v in ep.items() if k != "meta"}
        arrays["meta"] = np.array(json.dumps(ep["meta"], sort_keys=True))
        atomic_write(self.path / name, lambda f: np.savez(f, **arrays))
        self.entries.append(_summary(name, ep))
        self._write_index()
        return self.path / name

    def _write_index(self) -> None:
        text = json.dumps({"format": FORMAT, "version": VERSION, "episodes": self.entries}, indent=1)
        atomic_write(self.path / INDEX_NAME, text)


def _scan(path: Path) -> list[dict[str, Any]]:
    """Index entries for the episode files in ``path``, which must be numbered 0..N-1 without gaps."""
    files = sorted((p for p in path.iterdir() if _EPISODE_RE.match(p.name)),
                   key=lambda p: int(_EPISODE_RE.match(p.name).group(1)))
    numbers = [int(_EPISODE_RE.match(p.name).group(1)) for p in files]
    if numbers != list(range(len(files))):
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
        raise DatasetError(f"{path}: episode files are not numbered 0..{len(files) - 1}; missing {missing[:10]}")
    return [_summary(p.name, read_episode(p)) for p in files]


class EpisodeDataset:
    """Read-only access to a dataset directory: ``len(ds)`` episodes, ``ds[i]`` a dict with arrays
    ``q`` [T+1, 16], ``targets`` [T, 16], ``timestamps`` [T+1] (and ``actions`` if recorded) and a
    ``meta`` dict (schema in this module's docstring).

    The index is checked against the files; if a crash left episodes the index does not list, they
    are listed again (the index on disk is left to the next writer). Episodes marked faulty are
    skipped when ``include_faulty`` is False.
    """

    def __init__(self, path: str | Path, include_faulty: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise DatasetError(f"{self.path}: no such dataset directory")
        entries = self._read_index()
        on_disk = sum(1 for p in self.path.iterdir() if _EPISODE_RE.match(p.name))
        if entries is None or on_disk > len(entries):
            entries = _scan(self.path)
        if not entries:
            raise DatasetError(f"{self.path}: the dataset holds no episodes")
        self.entries = [e for e in entries if include_faulty or not e.get("faulty", False)]

    def _read_index(self) -> list[dict[str, Any]] | None:
        index = self.path / INDEX_NAME
        if not index.exists():
            return None
        try:
            data = json.loads(index.read_text())
        except json.JSONDecodeError as e:
            raise DatasetError(f"{index}: not valid JSON ({e})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise DatasetError(f"{index}: not a {FORMAT} index (format {found!r})")
        if data.get("version") != VERSION:
            raise DatasetError(f"{index}: format version {data.get('version')!r}; "
                               f"this dexndm-envs reads version {VERSION}")
        episodes = data.get("episodes")
        if not isinstance(episodes, list) or not all(isinstance(e, dict) and "file" in e and "steps" in e
                                                     for e in episodes):
            raise DatasetError(f"{index}: 'episodes' must be a list of entries with 'file' and 'steps'")
        return episodes

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return read_episode(self.path / self.entries[i]["file"])

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def transitions(self) -> int:
        """Total number of (q, target) -> next q transitions."""
        return sum(e["steps"] for e in self.entries)


def load_episodes(paths: str | Path | Sequence[str | Path], include_faulty: bool = False) -> list[dict]:
    """Every episode of one or more dataset directories (faulty ones skipped unless asked for)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ValueError("no dataset directory given")
    return [ep for p in paths for ep in EpisodeDataset(p, include_faulty=include_faulty)]


def split_episodes(n: int, seed: int, eval_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled episode indices for training and evaluation (at least one episode each)."""
    if n < 2:
        raise ValueError(f"a train/eval split by episode needs at least 2 episodes; got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_eval = min(max(1, round(eval_fraction * n)), n - 1)
    return np.sort(order[n_eval:]), np.sort(order[:n_eval])
