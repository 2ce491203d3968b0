"""Sim-to-real on the pseudo-real hand: how much of the rotation lost in direct transfer the joint-wise
model's correction wins back, beside the whole-hand model's, per wrist x object category x gap profile.

Each cell is one run of the whole pipeline (baselines.pipeline.run_pipeline, what ``dexndm demo`` runs)
with its own data and models: base policy in its simulator (the one it was trained in), direct transfer
to the in-process gap env, Chaos Box data on it (replayed base-policy rollouts) and in that simulator,
both models pretrained in sim and fine-tuned on the gap env's data, a residual through each, evaluation
under each.
Improvement = corrected Rot / direct Rot - 1 (the paper's figure); gap closed = (corrected Rot - direct
Rot) / (sim Rot - direct Rot), undefined ("-") where the policy rotated no less under the gap than in
simulation; both with 95 % paired bootstrap intervals over episodes. The second profile (leap_xc330_worn) was written
once from the references and never used to tune anything.

With ``--emulator`` the hand of every cell is the virtual LEAP hand instead: one ``VirtualHand`` holding
the object (driven through ``DexNDM/LeapRotateReal-v0`` over its serial protocol, metrics from its
tracker, the object put back before every evaluation episode by ``VirtualHand.place_object``) and one
in its Chaos Box, both under the cell's gap profile and both in real time (20 s per episode: a
``--size full`` cell takes about 5 h, so use ``--size quick`` or ``--set``). The base policy is then a
deployable one (a real hand gives no privileged observation): compare with the in-process cell run
with the same ``--policy``.

    python benchmarks/sim2real.py [--size quick|full (default)] [--wrists palm_up palm_down] [--objects cylinder cuboid]
        [--gaps leap_xc330 leap_xc330_worn] [--residuals gains mlp] [--policy P]
        [--set eval_episodes=10 box_episodes=50 ...] [--emulator] [--workdir DIR]

With ``--workdir`` a cell whose ``pipeline.json`` exists is read back instead of run again, and a cell
cut short goes on from its last finished stage (``run_pipeline(resume=True)``), so an interrupted grid
resumes where it stopped. Cells share what they have in common (``run_pipeline(share=...)``): a cell
takes over the simulator stages (sim evaluation, sim data, sim-pretrained models) from an earlier cell
with the same wrist and object, and the hand's stages too (direct transfer, real data, fine-tuned
models) from one on the same hand, so only the residual and its evaluation are run per residual form.
Every row's wall time is what its results cost, shared stages included.

With ``--ray ADDRESS`` (baselines/cluster.py: ``local``, ``auto`` or a cluster's address) the cells run in
parallel as Ray tasks, one CPU each, in up to three waves so that they share as the serial grid does
(:func:`share_waves`): first one cell per wrist and object, then one per hand (gap profile) of each, then
the other residual forms. Each cell writes the same ``pipeline.json`` as in the serial grid and the
table is the same, its rows printed in the grid's order as they are ready. On a cluster ``--workdir``
must be a folder every node mounts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from report import header

from baselines.cluster import add_ray_argument, map_in_order, ray_session
from baselines.pipeline import SIZES, Sizes, default_policy, run_pipeline
from baselines.policy import policy_label
from baselines.transfer_stats import format_figure
from dexndm_envs.dynamics.residual import RESIDUALS


def parse_overrides(items: list[str], base):
    """``KEY=INT`` overrides of a :class:`~baselines.pipeline.Sizes` (a ValueError names a bad one)."""
    fields = {f.name for f in dataclasses.fields(base)}
    changes = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields or not value.lstrip("-").isdigit():
            raise ValueError(f"bad --set {item!r}: use KEY=INT with KEY one of {', '.join(sorted(fields))}")
        changes[key] = int(value)
    return dataclasses.replace(base, **changes)


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def table_row(gap: str, wrist: str, obj: str, policy: str, result: dict) -> str:
    """One cell of the grid as a markdown table row (Rot +- its standard error, rad; the improvement and
    the gap closed per model with their 95 % paired bootstrap intervals)."""
    rows = {r["condition"]: r for r in result["rows"]}
    rot = " | ".join(f"{rows[c]['rot_rad']:.2f} +- {rows[c]['rot_rad_se']:.2f}"
                     for c in ("sim", "direct", "whole_hand", "joint_wise"))
    figures = " | ".join(format_figure(result, figure, c) for figure in ("improvement", "gap_closed")
                         for c in ("joint_wise", "whole_hand"))
    return (f"| {gap} | {wrist} | {obj} | {policy_label(policy)} | {result['residual']} | {rot} | {figures} "
            f"| {result['data']['real_transitions']} | {result['timings']['total'] / 60:.1f} min |")


def emulated_hand(stack: contextlib.ExitStack, gap: str, wrist: str, obj: str) -> dict:
    """run_pipeline's hand arguments for two virtual hands under ``gap`` (closed with ``stack``): one
    holding ``obj``, one in its Chaos Box; nobody needs to be asked anything."""
    from real.emulator.virtual_hand import VirtualHand

    rotate = stack.enter_context(VirtualHand(gap=gap, object=obj, wrist=wrist))
    box = stack.enter_context(VirtualHand(gap=gap, wrist=wrist, scene="chaos_box"))
    return {"port": rotate.port, "box_port": box.port, "tracker": rotate.tracker_address,
            "place_object": rotate.place_object, "ready": lambda instruction: None}


class Cell(NamedTuple):
    """One cell of the grid: the hand's gap profile, the task, the correction's form, the base policy and
    the folder of its run."""

    gap: str
    wrist: str
    obj: str
    residual: str
    policy: str
    workdir: Path


def run_cell(cell: Cell, sizes: Sizes, seed: int, emulator: bool, share: list[Path]) -> dict:
    """The result of one cell (``pipeline.json``): read back where an earlier run of the grid finished it,
    else run (a cell cut short goes on from its last finished stage), taking over what the runs in
    ``share`` computed. The one code path of a cell, serial or a Ray task."""
    if (cell.workdir / "pipeline.json").is_file():
        return json.loads((cell.workdir / "pipeline.json").read_text())
    with contextlib.ExitStack() as stack:
        hand = emulated_hand(stack, cell.gap, cell.wrist, cell.obj) if emulator else {"gap": cell.gap}
        return run_pipeline(cell.policy, workdir=cell.workdir, size=sizes, wrist=cell.wrist, object=cell.obj,
                            residual=cell.residual, seed=seed, progress=False, resume=cell.workdir.exists(),
                            share=share, **hand)


def share_waves(cells: list[Cell]) -> list[list[int]]:
    """The cells' indices in waves whose cells run in parallel and take over what they share from the waves
    before: first each wrist and object's first cell (the simulator's stages), then each hand's first
    (the hand's stages), then the rest (only the residual differs). Each cell finds the run it shares the
    most with in an earlier wave, as in the serial grid; empty waves are left out."""
    waves: list[list[int]] = [[], [], []]
    seen: set[tuple] = set()
    for i, c in enumerate(cells):
        task, hand = (c.wrist, c.obj, c.policy), (c.wrist, c.obj, c.policy, c.gap)
        waves[0 if task not in seen else 1 if hand not in seen else 2].append(i)
        seen |= {task, hand}
    return [wave for wave in waves if wave]


def cell_task(index: int, cells: list[Cell], sizes: Sizes, seed: int, emulator: bool, share: list[Path]) -> dict:
    """Cell ``index`` of ``cells`` as a Ray task (:func:`grid_results`)."""
    return run_cell(cells[index], sizes, seed, emulator, share)


def grid_results(cells: list[Cell], sizes: Sizes, seed: int, emulator: bool = False,
                 ray_address: str | None = None) -> Iterator[dict]:
    """The cells' results (:func:`run_cell`) in their order: one after another, each sharing with the cells
    before it, or with ``ray_address`` as Ray tasks in :func:`share_waves`
    (:func:`baselines.cluster.map_in_order` per wave), each yielded as soon as it and the cells before it
    are done."""
    if ray_address is None:
        for i, cell in enumerate(cells):
            yield run_cell(cell, sizes, seed, emulator, [c.workdir for c in cells[:i]])
        return
    results: dict[int, dict] = {}
    shown = 0
    with ray_session(ray_address):  # one Ray for every wave
        for wave in share_waves(cells):
            share = [cells[i].workdir for i in sorted(results)]  # the earlier waves', all finished
            for i, result in zip(wave, map_in_order(ray_address, cell_task, wave, cells, sizes, seed, emulator, share)):
                results[i] = result
                while shown in results:  # the next cell in the grid's order is ready
                    yield results[shown]
                    shown += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="full")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=INT",
                        help="override sizes, e.g. eval_episodes=2 box_episodes=3 steps=40 (a tiny smoke run)")
    parser.add_argument("--wrists", nargs="+", default=["palm_up", "palm_down"])
    parser.add_argument("--objects", nargs="+", default=["cylinder", "cuboid"])
    parser.add_argument("--gaps", nargs="+", default=["leap_sysid", "leap_xc330"])
    parser.add_argument("--policy", default=None, help="base policy for every cell, where {wrist} and {object} "
                        "stand for the cell's (e.g. runs/oracle_{wrist}_{object}/model.zip); default: the "
                        "pipeline's for the cell's wrist and object, a deployable one with --emulator")
    parser.add_argument("--workdir", type=Path, default=None, help="keep every run's artefacts here (with --ray on "
                        "a cluster: a folder every node mounts)")
    parser.add_argument("--residuals", nargs="+", choices=list(RESIDUALS), default=[next(iter(RESIDUALS))],
                        help="the correction's forms, one grid cell each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--emulator", action="store_true", help="the hand is the virtual LEAP hand over its serial "
                        "protocol (real time) instead of the in-process gap env")
    add_ray_argument(parser)
    args = parser.parse_args(argv)
    if args.ray not in (None, "local") and args.workdir is None:
        parser.error(f"--ray {args.ray} runs the cells on a cluster's nodes: give --workdir, a folder all of them "
                     "mount")
    sizes = parse_overrides(args.set, SIZES[args.size])
    root = (args.workdir or Path(tempfile.mkdtemp(prefix="dexndm_sim2real_"))).resolve()  # absolute: for Ray tasks
    cells = [Cell(gap, wrist, obj, residual,
                  args.policy.format(wrist=wrist, object=obj) if args.policy
                  else default_policy(wrist, obj, deployable=args.emulator),
                  root / f"{Path(gap).stem}_{wrist}_{obj}_{residual}")  # a profile given as a JSON path: its file name
             for gap, wrist, obj, residual in itertools.product(args.gaps, args.wrists, args.objects, args.residuals)]
    header()
    print(f"sizes: {dataclasses.asdict(sizes)}; artefacts in {root}")
    print("| gap | wrist | object | policy | residual | sim Rot | direct Rot | whole-hand Rot | joint-wise Rot "
          "| improvement joint-wise [95 % CI] | improvement whole-hand [95 % CI] "
          "| gap closed joint-wise [95 % CI] | gap closed whole-hand [95 % CI] | real transitions | wall time |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    closed: dict[str, list[float]] = {"joint_wise": [], "whole_hand": []}
    for cell, result in zip(cells, grid_results(cells, sizes, args.seed, args.emulator, args.ray)):
        for k, v in result["gap_closed"].items():
            if v is not None:
                closed[k].append(v)
        print(table_row(cell.gap, cell.wrist, cell.obj, cell.policy, result), flush=True)
    print("mean gap closed over the cells where it is defined: "
          + ", ".join(f"{k.replace('_', '-')} {fmt(float(np.mean(v)) if v else None)} ({len(v)} cells)"
                      for k, v in closed.items()))


if __name__ == "__main__":
    main()
