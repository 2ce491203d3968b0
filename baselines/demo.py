"""``dexndm demo``: the DexNDM pipeline end to end (:mod:`baselines.pipeline`) with the shipped base
policy on the pseudo-real hand (or a real or virtual one), printed as the paper's table."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def demo(*, size: str = "quick", gap: str | None = None, port: str | None = None, box_port: str | None = None,
         tracker: str | None = None, policy: str | None = None, wrist: str = "palm_up", object: str = "cylinder",
         axis: str = "+z", residual: str = "gains", workdir: Path | None = None, seed: int = 0,
         json_path: Path | None = None, resume: bool = False) -> dict:
    """Run the pipeline, print its table and optionally copy its JSON to ``json_path``.

    Defaults: the shipped base policy for (wrist, object, axis) (:func:`baselines.pipeline.default_policy`:
    the oracle in process, the generalist or the searched gait on a hand on ``port``), the gap profile
    ``leap_sysid`` unless a hand is on ``port``, and a new ``runs/demo-<date>-<time>`` work directory;
    ``resume`` continues the interrupted run in ``workdir``.
    """
    from baselines.collect import CollectionStopped
    from baselines.pipeline import check_run, default_policy, format_table, run_pipeline
    from dexndm_envs.fileio import write_json
    from dexndm_envs.gap import DEFAULT_HAND
    from real.bus import BusError

    if resume and workdir is None:
        raise ValueError("--resume continues the run in --workdir; name it")
    if gap is not None and port is not None:
        raise ValueError("--gap sets the in-process hand; a hand on --port has its own (for the virtual hand: "
                         "`dexndm emulate --gap PROFILE`)")
    check_run(size, wrist, object, axis, residual)  # before the default policy is looked up (and maybe warned about)
    try:
        result = run_pipeline(policy or default_policy(wrist, object, axis, deployable=port is not None),
                              workdir=workdir or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S"), size=size,
                              gap=gap or DEFAULT_HAND, port=port, box_port=box_port, tracker=tracker, wrist=wrist,
                              object=object, axis=axis, residual=residual, seed=seed, ready=_ask_operator,
                              resume=resume)
    except (BusError, CollectionStopped) as e:
        raise SystemExit(f"dexndm demo: the hand stopped the run: {e}") from None
    print(format_table(result))
    if json_path is not None:
        write_json(json_path, result)
    return result


def _ask_operator(instruction: str) -> None:
    """Tell the person at the hand what to do next; wait for Enter when there is a terminal to press it on."""
    print(f"\n>>> {instruction}", flush=True)
    if sys.stdin.isatty():
        input("press Enter when ready ")
