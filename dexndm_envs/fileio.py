"""Writing files so that nothing on disk is ever half-written.

Every file the project writes (datasets, checkpoints, grasp caches, meshes, reports, plots) goes
through :func:`atomic_write`: the bytes go to a hidden temporary sibling (``.NAME.XXXX.tmp``), are
flushed and fsynced, and the sibling is renamed onto the target; the directory is fsynced so the
rename itself survives a power cut. A reader sees the old file or the new one, never a mixture, and
an interrupted write leaves at most a hidden ``.NAME.XXXX.tmp`` sibling (the dataset writer removes
its own on resume).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["atomic_write", "write_json"]


def _fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` to ``path`` atomically and durably; return the path.

    ``data`` is bytes, text (written as UTF-8) or a callable that writes into the binary file object
    it is given (``np.savez``, ``torch.save``, ``fig.savefig`` ...). The parent directory is created.
    On any error, including KeyboardInterrupt, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as an indented JSON report (one space per level, trailing newline), atomically.

    NumPy scalars and arrays are converted to plain numbers and lists.
    """
    return atomic_write(path, json.dumps(obj, indent=1, default=_to_builtin) + "\n")


def _to_builtin(value: Any) -> Any:
    """JSON fallback for NumPy values (``tolist`` turns scalars and arrays into builtins)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

