"""Checkpoint files of the dynamics models and the residual correction.

A checkpoint is a ``torch.save`` dict of plain types and tensors (loaded with ``weights_only=True``)::

    {"format": "dexndm-ndm" | "dexndm-residual", "version": 1, "model": kind, "config": {...},
     "joint_order": ["0", ..., "15"], "state_dict": {...}, "info": {...}}

``config`` holds the constructor arguments (history W, widths ...), the state dict holds the weights
and the normalisation statistics, ``info`` how it was made (data, epochs, scores). Files are written
atomically. Loading checks every field and says what does not fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dexndm_envs.dynamics.models import MODELS, DynamicsModel
from dexndm_envs.fileio import atomic_write
from dexndm_envs.hand import JOINT_NAMES

VERSION = 1
NDM_FORMAT = "dexndm-ndm"
"""The ``format`` of a dynamics-model checkpoint (``dexndm fit``)."""
WRITTEN_BY = {NDM_FORMAT: "dexndm fit", "dexndm-residual": "dexndm residual", "dexndm-generalist": "dexndm distill"}
"""Which command writes the checkpoints of each format (for error messages)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message says why."""


def save_checkpoint(path: str | Path, fmt: str, model: torch.nn.Module, kind: str, config: dict,
                    info: dict | None = None) -> Path:
    """Atomically write ``model``'s weights and everything needed to rebuild it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": fmt, "version": VERSION, "model": kind, "config": config,
               "joint_order": list(JOINT_NAMES), "state_dict": model.state_dict(), "info": info or {}}
    return atomic_write(path, lambda f: torch.save(payload, f))


def read_checkpoint(path: str | Path, fmt: str, kinds: dict[str, type]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model saved in ``path``; ``kinds`` maps the allowed model kinds to their classes.

    Returns the model (eval mode) and the checkpoint dict. Raises :class:`CheckpointError` naming the
    file for a missing file, a file that is not a checkpoint, another format or version, another joint
    order or count, or weights that do not fit the configuration.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a file that is not a checkpoint
        made_by = f" (a file `{WRITTEN_BY[fmt]}` writes)" if fmt in WRITTEN_BY else ""
        raise CheckpointError(f"{path}: not a readable checkpoint; expected a {fmt!r} checkpoint{made_by}, a "
                              "torch.save file of tensors and plain values. This file is damaged or of another "
                              "kind.") from e
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise CheckpointError(f"{path}: not a dexndm checkpoint (no 'format' field)")
    if ckpt["format"] != fmt:
        raise CheckpointError(f"{path}: a {ckpt['format']!r} checkpoint, but a {fmt!r} checkpoint is needed here")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt.get('version')!r}; "
                              f"this dexndm-envs reads version {VERSION}")
    order = ckpt.get("joint_order")
    if order != list(JOINT_NAMES):
        n = len(order) if isinstance(order, list) else "?"
        raise CheckpointError(f"{path}: made for {n} joints in order {order}; this hand has {len(JOINT_NAMES)} "
                              f"joints in motor order {list(JOINT_NAMES)}")
    kind = ckpt.get("model")
    if kind not in kinds:
        raise CheckpointError(f"{path}: model kind {kind!r}; allowed here: {sorted(kinds)}")
    try:
        model = kinds[kind](**ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError, KeyError) as e:
        raise CheckpointError(f"{path}: the weights do not fit a {kind} model with config {ckpt.get('config')} "
                              f"({e})") from None
    model.eval()
    return model, ckpt


def load_ndm(path: str | Path, history: int | None = None) -> DynamicsModel:
    """A saved dynamics model (eval mode); ``history`` (W), when given, must match the checkpoint's."""
    model, _ = read_checkpoint(path, NDM_FORMAT, MODELS)
    if history is not None and model.history != history:
        raise CheckpointError(f"{path}: the model uses a history of W={model.history} steps; W={history} was asked for")
    return model
