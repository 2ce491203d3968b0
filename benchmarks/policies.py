"""Policies in nominal simulation: the reference baselines, the shipped policies, and one policy per cell.

Two modes, one table. ``--policy NAME=SPEC`` (repeatable; default: the baselines and whatever ships)
evaluates named policies on every wrist of ``--wrists`` (default palm_up) and category of ``--objects``
(default cylinder); a trained or searched policy only on the task it was made for. ``--cells`` evaluates
every wrist (default all six of :data:`dexndm_envs.poses.WRISTS`) x object category (default cylinder
and cuboid) cell with that cell's policy: ``--policy-template`` with ``{wrist}`` and ``{object}`` filled
in, else the shipped one (:func:`baselines.pipeline.default_policy`); a cell whose policy file does not
exist is skipped and listed. Every row: ``dexndm eval``'s metrics over ``--episodes`` episodes (default 50,
seed 0) of ``--steps`` control steps at 20 Hz (default 400: 20 s) on DexNDM/LeapRotate-v0, nominal physics
(no randomization), axis ``--axis`` (+z), in the simulator the policy was trained in
(:func:`baselines.policy.policy_simulator`: its actuator, e.g. a torque clip at the hand's Goal Current,
merged with the task, as the pipeline's sim evaluation does), printed as a Markdown table for
BENCHMARKS.md, with the published simulation figures below it for scale.

    python benchmarks/policies.py --episodes 50
    python benchmarks/policies.py --policy oracle=baselines/checkpoints/oracle_palm_up_cylinder_z_cap/model.zip \\
        --wrists palm_up --episodes 50
    python benchmarks/policies.py --cells --episodes 50                      # the shipped policy of each cell
    python benchmarks/policies.py --cells --policy-template 'runs/oracle_{wrist}_{object}/model.zip' \\
        --wrists palm_up palm_down --objects cylinder --json runs/cells.json
    python benchmarks/policies.py --cells --policy-template runs/generalist.pt \\
        --teacher-template 'runs/oracles/oracle_{wrist}_z/model.zip'      # a student against its teachers

With ``--teacher-template`` each cell's teacher (the oracle a generalist was distilled from) is evaluated
too, on the same episodes, and a second table sets the cell's policy against it with the generalist's
targets (:data:`STUDENT_TARGETS`: at least 0.8 of the teacher's Rot and 4 rad, TTF >= 0.8, steadiness
>= 0.6).

Columns (per row):

* **Rot** (rad per episode, 20 s unless ``--steps`` says otherwise) +- its standard error over the
  episodes ("-" with one episode); **TTF** (time to fall, fraction of the 20 s episode: a shorter
  ``--steps``, for a quick check, caps it at steps / 400); **RotR** (the sum of
  the clipped rotation reward, one sample per step); **RotP** (rad/s, mean off-axis angular speed);
  :mod:`dexndm_envs.metrics` defines them.
* **steadiness** = RotR / (20 x Rot) (:func:`steadiness`; dimensionless): 1 for a steady rotation slower
  than the reward clip (0.5 rad/s), less for jerks and bursts above the clip; "-" where Rot is not
  clearly above zero (Rot <= 0, or within two standard errors of it): the ratio of a rotation that is
  noise says nothing, and would count as a target met. Above 1 (beyond its error) the samples saw a
  wobble's forward swings, not a steady turn: the target (:func:`steady_enough`) does not count it.
* **clip** (N m): the torque clip of the policy's training simulator (:func:`torque_clip`; the ideal PD's
  default 0.5 N m unless its training named another), and whether it is within :data:`SERVO_CAP`, what
  the hand's servos can give: a policy trained with a larger clip may rely on torque the hand lacks.
* **CPU h**: CPU hours the policy's training took, all its runs together (an SB3 policy's run record's
  ``total_cpu_hours``); "-" for other policies and for records older than that key (they hold only wall
  time).
* **targets**: how many of :data:`TARGETS` (a rotation policy a real hand could run) the row meets, and
  which it misses; a line per target below the table counts the rows that meet it.

A second table says where each row's rotation comes from (:func:`motion_profile`): the share of control
steps in which the object turned forward, faster than the reward clip, and backwards.

The observation (privileged for an oracle, else proprioceptive) is the one the policy reads
(:func:`baselines.policy.policy_env_kwargs`, from its run record or its input size). ``--json PATH``
writes every row.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from report import header

from baselines.evaluate import evaluate, rot_standard_error
from baselines.oracles import SERVO_TORQUE_NM
from baselines.pipeline import default_policy
from baselines.policy import (
    BASELINE_POLICIES,
    policy_kind,
    policy_label,
    policy_simulator,
    read_run_record,
    trained_env_kwargs,
)
from dexndm_envs.actuators import make_actuator
from dexndm_envs.fileio import write_json
from dexndm_envs.metrics import CONTROL_HZ, EPISODE_STEPS, METRIC_KEYS
from dexndm_envs.poses import WRISTS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "baselines" / "checkpoints"
ENV_ID = "DexNDM/LeapRotate-v0"
DEFAULT_POLICIES = {
    "random": "random",
    "hold still": "hold",
    "scripted gait": "scripted",
    "searched gait (open loop)": ROOT / "baselines" / "gaits" / "palm_up_cylinder_z.json",
    "oracle, palm up (PPO residual over the gait, privileged)": SHIPPED / "oracle_palm_up_cylinder_z_cap" / "model.zip",
    "oracle, palm down": SHIPPED / "oracle_palm_down_cylinder_z_cap" / "model.zip",
    "generalist (distilled)": SHIPPED / "generalist" / "generalist.pt",
}
CELL_OBJECTS = ("cylinder", "cuboid")
"""The object categories of ``--cells`` by default."""
SERVO_CAP = SERVO_TORQUE_NM  # N m: the identified hand's Goal Current times its torque constant, rounded down
ROT_TARGET, STEADINESS_TARGET = 6.0, 0.6  # rad per 20 s; dimensionless
CORNER_ROTR = EPISODE_STEPS / CONTROL_HZ * ROT_TARGET * STEADINESS_TARGET
"""RotR at the targets' corner (72): steadiness x 20 Rot, the least RotR a policy meeting both has."""
def steady_enough(row: dict) -> bool:
    """The steadiness target: a steadiness of at least :data:`STEADINESS_TARGET` that is also not above 1
    by more than two of its standard errors. Above 1 the clipped end-of-step samples saw more rotation
    than the object kept (a wobble sampled on its forward swings, as at the side wrists: 3.98 +- 1.27 for
    0.09 rad turned), which is the opposite of a steady turn."""
    s, se = row["steadiness"], row.get("steadiness_se") or 0.0
    return s is not None and s >= STEADINESS_TARGET and s - 2 * se <= 1.0


TARGETS: dict[str, Callable[[dict], bool]] = {
    f"Rot >= {ROT_TARGET:g} rad": lambda row: row["rot_rad"] >= ROT_TARGET,
    "TTF >= 0.85": lambda row: row["ttf"] >= 0.85,
    f"steadiness >= {STEADINESS_TARGET:g}": lambda row: steady_enough(row),
    "RotP <= 1.5 rad/s": lambda row: row["rotp"] <= 1.5,
    f"torque clip <= {SERVO_CAP} N m": lambda row: row["within_servo_cap"],
}
"""The issue's targets for a rotation policy a real hand could run, each a test of a table row."""
def turns(row: dict) -> bool:
    """Whether a row's Rot is clearly above zero (more than two standard errors): a share of a teacher that
    turns nothing is no target (0.8 x -0.11 rad is met by holding still)."""
    return row["rot_rad"] > 2 * (row.get("rot_rad_se") or 0.0)


STUDENT_TARGETS: dict[str, Callable[[dict, dict], bool]] = {
    "Rot >= 0.8 x the teacher's": lambda row, teacher: turns(teacher) and row["rot_rad"] >= 0.8 * teacher["rot_rad"],
    "Rot >= 4 rad": lambda row, teacher: row["rot_rad"] >= 4.0,
    "TTF >= 0.8": lambda row, teacher: row["ttf"] >= 0.8,
    f"steadiness >= {STEADINESS_TARGET:g}": lambda row, teacher: steady_enough(row),
}
"""The issue's targets for the generalist in a cell, each a test of its row against its teacher's row."""
Job = tuple[str, str, dict]
"""(row name, policy, task: LeapRotate's object, wrist and axis)"""
PUBLISHED = [  # the DexNDM paper's tables: other simulators and hands, for scale only
    ("HORA (Allegro, palm up, z, sim)", "222", "0.82"),
    ("HORA with DR only", "176", "0.81"),
    ("DexNDM generalist (LEAP, unseen objects, z, sim)", "314", "0.92"),
]


def steadiness(rot_rad: float, rotr: float, rot_se: float | None = None) -> float | None:
    """RotR / (20 x Rot): how much of the rotation the clipped per-step reward samples see (dimensionless).

    ``rot_rad`` is Rot (rad, the net turn about the axis), ``rotr`` RotR (the sum over the 20 Hz control
    steps of the angular speed about the axis in rad/s, clipped at the reward clip). A rotation at a steady
    speed below the clip gives RotR = 20 x Rot, steadiness 1 (e.g. 4 rad turned, RotR 80); bursts faster
    than the clip, and jerks that flick the object forward within a step and let it spring back (sampled
    moving backwards), give less. None where Rot <= 0, or where it is within two of its standard error
    ``rot_se`` (rad) of zero: no rotation to compare with.
    """
    return rotr / (CONTROL_HZ * rot_rad) if rot_rad > max(0.0, 2 * (rot_se or 0.0)) else None


def steadiness_standard_error(rot_rad: np.ndarray, rotr: np.ndarray) -> float | None:
    """The standard error of :func:`steadiness` over episodes (per-episode Rot in rad and RotR), by the
    delta method for a ratio of means: sd(RotR_i - s 20 Rot_i) / (sqrt(n) 20 mean Rot), s the steadiness
    of the means. None with fewer than 2 episodes or no rotation."""
    rot_rad, rotr = np.asarray(rot_rad, float), np.asarray(rotr, float)
    s = steadiness(float(rot_rad.mean()), float(rotr.mean())) if rot_rad.size else None
    if s is None or rot_rad.size < 2:
        return None
    residual = rotr - s * CONTROL_HZ * rot_rad
    return float(residual.std(ddof=1) / (np.sqrt(rot_rad.size) * CONTROL_HZ * rot_rad.mean()))


def motion_profile(curves: list[np.ndarray], clip: float = 0.5, still: float = 0.05) -> dict[str, float]:
    """Where a policy's rotation comes from, from each episode's cumulative rotation per step (rad, the
    ``rot`` that Rot sums; :func:`baselines.evaluate.evaluate`'s curves): the fractions of all control
    steps in which the object turned forward (step-mean rate about the axis above ``still`` rad/s),
    faster than the reward ``clip`` (rad/s), and backwards (below -``still``). A steady turn is forward
    in nearly every step and never above the clip; a gait that turns the object in pulses is forward in
    few steps and above the clip in most of them, which caps its steadiness whatever the reward."""
    rates = np.concatenate([np.diff(c) * CONTROL_HZ for c in curves])
    if rates.size == 0:
        return {"turning": 0.0, "above_clip": 0.0, "backwards": 0.0}
    return {"turning": float(np.mean(rates > still)), "above_clip": float(np.mean(rates > clip)),
            "backwards": float(np.mean(rates < -still))}


def torque_clip(simulator: dict) -> float:
    """The torque clip (N m) of a simulator given as env kwargs (:func:`baselines.policy.policy_simulator`):
    its ideal PD's ``torque_limit`` (0.5 N m by default, where no actuator is named), or a servo model's
    Goal Current times its torque constant."""
    return make_actuator(simulator.get("actuator", "ideal_pd")).torque_cap_nm


def training_cpu_hours(policy: str) -> float | None:
    """CPU hours an SB3 policy took, all its training runs together (its run record's ``total_cpu_hours``)
    plus the search of the gait it is a residual over (the gait file's ``search_cpu_s``, every stage,
    where the gait records it); None for any other policy and for a record written before that key (it
    holds only wall time)."""
    if policy_kind(policy) != "sb3":
        return None
    record = read_run_record(Path(policy).parent)
    hours = record.info.get("total_cpu_hours") if record else None
    if hours is None:
        return None
    gait = record.residual and Path(record.residual["gait"])
    search_s = json.loads(gait.read_text()).get("search_cpu_s", 0.0) if gait and gait.is_file() else 0.0
    return float(hours) + search_s / 3600


def trained_on(policy: str | Path) -> dict:
    """The env kwargs an SB3 policy was trained or a gait searched on (:func:`baselines.policy.trained_env_kwargs`);
    empty for the baselines and the generalist, which run on every task."""
    return trained_env_kwargs(policy)[0] if policy_kind(policy) in ("sb3", "gait") else {}


def evaluate_row(name: str, policy: str, task: dict, episodes: int, steps: int, seed: int) -> dict:
    """Evaluate ``policy`` on ``task`` (LeapRotate's object, wrist and axis) in the simulator it was trained
    in, nominal physics; the table row: the metrics (Rot and its standard error in rad, TTF as a fraction of
    the episode and in s, RotR, RotP in rad/s), steadiness, the training simulator's torque clip (N m) and
    whether it is within :data:`SERVO_CAP`, the training's CPU hours, the targets met, the wall time (s)."""
    simulator = policy_simulator(policy)
    start = time.perf_counter()
    report = evaluate(ENV_ID, {**task, **simulator}, policy, episodes, seed=seed, steps=steps, progress=False)
    clip = torque_clip(simulator)
    rot_se = rot_standard_error(report) if episodes >= 2 else None
    steady = steadiness(report["rot_rad"], report["rotr"], rot_se)
    row = {"policy": name, "spec": policy, "label": policy_label(policy), **task, "episodes": episodes,
           "steps": steps, "seed": seed, **{k: report[k] for k in METRIC_KEYS},
           "rot_rad_se": rot_se,
           "steadiness": steady,
           "steadiness_se": None if steady is None else steadiness_standard_error(
               [e["rot_rad"] for e in report["per_episode"]], [e["rotr"] for e in report["per_episode"]]),
           "simulator": simulator,
           "obs_mode": report["env_kwargs"].get("obs_mode"),
           "torque_clip_nm": clip, "within_servo_cap": clip <= SERVO_CAP, "cpu_hours": training_cpu_hours(policy),
           **motion_profile(report["_curves"])}
    row["targets_met"] = [target for target, met in TARGETS.items() if met(row)]
    row["seconds"] = time.perf_counter() - start
    return row


def _as_list(value: str | list[str]) -> list[str]:
    """A task field as the list of values it covers: an env trained on an object list was made for each."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def named_jobs(policies: dict[str, str], wrists: list[str], objects: list[str], axis: str) -> list[Job]:
    """(name, policy, task) for every named policy on every (wrist, object) it was made for (every object of
    the list it trained on, if it trained on several)."""
    jobs = []
    for name, policy in policies.items():
        made_for = trained_on(policy)
        for wrist in wrists:
            for object in objects:
                task = {"object": object, "wrist": wrist, "axis": axis}
                if all(v in _as_list(made_for.get(k, v)) for k, v in task.items()):
                    jobs.append((name, policy, task))
    return jobs


def cell_jobs(template: str | None, wrists: list[str], objects: list[str],
              axis: str) -> tuple[list[Job], list[str]]:
    """(label, policy, task) for every wrist x object cell whose policy exists (``template`` filled in, else
    the shipped one), and a line per cell skipped for want of its policy file."""
    jobs, skipped = [], []
    for wrist in wrists:
        for object in objects:
            policy = template.format(wrist=wrist, object=object) if template else default_policy(wrist, object, axis)
            if policy not in BASELINE_POLICIES and not Path(policy).is_file():
                skipped.append(f"{wrist} / {object}: no policy at {policy}")
                continue
            jobs.append((policy_label(policy), policy, {"object": object, "wrist": wrist, "axis": axis}))
    return jobs, skipped


def _number(value: float | None, digits: int) -> str:
    """``value`` to ``digits`` decimals, "-" for None."""
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(rows: list[dict]) -> None:
    """The rows as a Markdown table (module docstring), then a line per target: the rows that meet it. The
    targets are tested here, so rows read back with ``--rows-from`` meet today's :data:`TARGETS`."""
    print("| policy | wrist | object | Rot (rad) | +- se | TTF | RotR | RotP (rad/s) | steadiness | +- se | "
          f"clip (N m) | <= {SERVO_CAP} N m cap | CPU h | targets |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
    met_by_row = [[target for target, test in TARGETS.items() if test(r)] for r in rows]
    for r, targets_met in zip(rows, met_by_row):
        missed = [target.split(" ")[0] for target in TARGETS if target not in targets_met]
        met = f"{len(targets_met)}/{len(TARGETS)}" + (f" (not {', '.join(missed)})" if missed else "")
        print(f"| {r['policy']} | {r['wrist']} | {r['object']} | {r['rot_rad']:.2f} | {_number(r['rot_rad_se'], 2)} | "
              f"{r['ttf']:.2f} | {r['rotr']:.1f} | {r['rotp']:.3f} | {_number(r['steadiness'], 2)} | "
              f"{_number(r.get('steadiness_se'), 2)} | "
              f"{r['torque_clip_nm']:.2f} | {'yes' if r['within_servo_cap'] else 'no'} | "
              f"{_number(r['cpu_hours'], 1)} | {met} |")
    print()
    for target in TARGETS:
        print(f"{target}: {sum(target in met for met in met_by_row)} of {len(rows)} rows")
    print("\nWhere the rotation comes from (% of all control steps, by the step's mean rate about the axis):\n")
    print("| policy | wrist | object | turning (> 0.05 rad/s) | above the 0.5 rad/s clip | backwards (< -0.05 rad/s) |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['policy']} | {r['wrist']} | {r['object']} | {100 * r['turning']:.0f} | "
              f"{100 * r['above_clip']:.0f} | {100 * r['backwards']:.0f} |")


def print_student_table(rows: list[dict], teachers: list[dict]) -> None:
    """Each cell's policy against the teacher of the same cell (rows matched by wrist and object; cells
    without a teacher are left out): Rot +- se of both, their ratio, TTF and steadiness, the
    :data:`STUDENT_TARGETS` met, then a line per target counting the cells that meet it."""
    by_cell = {(t["wrist"], t["object"]): t for t in teachers}
    pairs = [(r, by_cell[r["wrist"], r["object"]]) for r in rows if (r["wrist"], r["object"]) in by_cell]
    print("\nEach cell's policy against its teacher (the generalist's targets):\n")
    print("| policy | wrist | object | Rot (rad) | +- se | teacher | teacher's Rot | +- se | ratio | TTF | steadiness "
          "| targets |")
    print("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for r, t in pairs:
        met = [name for name, test in STUDENT_TARGETS.items() if test(r, t)]
        missed = [name for name in STUDENT_TARGETS if name not in met]
        ratio = r["rot_rad"] / t["rot_rad"] if t["rot_rad"] > 0 else None
        print(f"| {r['policy']} | {r['wrist']} | {r['object']} | {r['rot_rad']:.2f} | {_number(r['rot_rad_se'], 2)} | "
              f"{t['policy']} | {t['rot_rad']:.2f} | {_number(t['rot_rad_se'], 2)} | {_number(ratio, 2)} | "
              f"{r['ttf']:.2f} | {_number(r['steadiness'], 2)} | {len(met)}/{len(STUDENT_TARGETS)}"
              + (f" (not {'; '.join(missed)})" if missed else "") + " |")
    print()
    for name, test in STUDENT_TARGETS.items():
        print(f"{name}: {sum(test(r, t) for r, t in pairs)} of {len(pairs)} cells")


def plot_rows(rows: list[dict], path: Path) -> Path:
    """Each row as a point, Rot (rad per 20 s) against steadiness, both with their standard errors, and
    the oracle targets (Rot >= 6, steadiness >= 0.6) as lines, and the curve of RotR = :data:`CORNER_ROTR`
    (a policy below it cannot reach the corner whatever it trades): where each policy trades one for the
    other."""
    from baselines import plots

    fig, ax = plots.figure(1, 1, size=(6.5, 4.5))
    several_cells = len({(r["wrist"], r["object"]) for r in rows}) > 1
    for r in (r for r in rows if r["steadiness"] is not None):
        ax.errorbar(r["steadiness"], r["rot_rad"], xerr=r.get("steadiness_se") or 0, yerr=r["rot_rad_se"] or 0,
                    fmt="o", capsize=3, ms=4)
        label = f"{r['policy']} ({r['wrist']}, {r['object']})" if several_cells else r["policy"]
        ax.annotate(label, (r["steadiness"], r["rot_rad"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(ROT_TARGET, color="k", ls=":", lw=1)
    ax.axvline(STEADINESS_TARGET, color="k", ls=":", lw=1)
    (lo, hi), ylim = ax.get_xlim(), ax.get_ylim()
    s = np.linspace(max(lo, 0.05), max(hi, 0.06), 50)  # RotR = 20 Rot x steadiness: the least RotR at the corner
    ax.plot(s, CORNER_ROTR / (EPISODE_STEPS / CONTROL_HZ * s), color="grey", ls="--", lw=1,
            label=f"RotR {CORNER_ROTR:g}: the corner's")
    ax.set_xlim(lo, hi)
    ax.set_ylim(*ylim)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_xlabel("steadiness = RotR / (20 Rot)")
    ax.set_ylabel("Rot (rad per 20 s)")
    ax.set_title(f"targets: Rot >= {ROT_TARGET:g} rad, steadiness >= {STEADINESS_TARGET:g} (dotted)")
    ax.grid(alpha=0.3)
    return plots.save(fig, path, dpi=100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", action="append", default=None, metavar="NAME=SPEC",
                        help="a policy to evaluate (repeatable; default: the baselines and whatever ships)")
    parser.add_argument("--cells", action="store_true",
                        help="one row per wrist x object category, each with the cell's policy")
    parser.add_argument("--policy-template", default=None, metavar="SPEC",
                        help="with --cells: the cell's policy, {wrist} and {object} filled in (e.g. "
                             "'runs/oracle_{wrist}_{object}/model.zip', or 'hold'); default: the shipped one")
    parser.add_argument("--teacher-template", default=None, metavar="SPEC",
                        help="with --cells: each cell's teacher too ({wrist} and {object} filled in), and a table of "
                             "the cell's policy against it with the generalist's targets")
    parser.add_argument("--wrists", nargs="+", choices=list(WRISTS), default=None,
                        help="default: palm_up; all six with --cells")
    parser.add_argument("--objects", "--object", nargs="+", default=None,
                        help=f"object categories (default: cylinder; {' '.join(CELL_OBJECTS)} with --cells)")
    parser.add_argument("--axis", default="+z")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=EPISODE_STEPS,
                        help=f"control steps per episode at {CONTROL_HZ} Hz (default {EPISODE_STEPS}: 20 s; fewer for "
                             "a quick check, TTF staying a fraction of 20 s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write every row to this JSON file")
    parser.add_argument("--plot", type=Path, default=None, help="plot Rot against steadiness per row to this PNG")
    parser.add_argument("--rows-from", nargs="+", type=Path, default=None, metavar="JSON",
                        help="evaluate nothing: table and plot the rows of earlier --json files, in order")
    args = parser.parse_args(argv)
    if args.rows_from and (args.policy or args.cells):
        parser.error("--rows-from tables rows evaluated earlier; leave out --policy and --cells")
    if args.policy and any("=" not in p for p in args.policy):
        parser.error("--policy takes NAME=SPEC, e.g. --policy 'hold still=hold'")
    if args.cells and args.policy:
        parser.error("--cells evaluates each cell's own policy (--policy-template); leave out --policy")
    if (args.policy_template or args.teacher_template) and not args.cells:
        parser.error("--policy-template and --teacher-template are for --cells")

    header()
    if args.rows_from:
        try:
            saved = [json.loads(path.read_text()) for path in args.rows_from]
            rows = [row for table in saved for row in table["rows"]]
            teacher_rows = [row for table in saved for row in table.get("teacher_rows", [])]
        except (OSError, ValueError, KeyError, TypeError) as e:
            parser.error(f"--rows-from reads the JSON that --json writes ({{\"rows\": [...]}}): {e}")
        print_table(rows + teacher_rows)
        if teacher_rows:
            print_student_table(rows, teacher_rows)
        if args.plot:
            plot_rows(rows, args.plot)
        return
    skipped, teacher_jobs = [], []
    if args.cells:
        cells = (args.wrists or list(WRISTS), args.objects or list(CELL_OBJECTS), args.axis)
        jobs, skipped = cell_jobs(args.policy_template, *cells)
        if args.teacher_template:
            teacher_jobs, no_teacher = cell_jobs(args.teacher_template, *cells)
            skipped += [f"{line} (teacher)" for line in no_teacher]
    else:
        policies = (dict(p.split("=", 1) for p in args.policy) if args.policy
                    else {k: str(v) for k, v in DEFAULT_POLICIES.items() if not isinstance(v, Path) or v.is_file()})
        jobs = named_jobs(policies, args.wrists or ["palm_up"], args.objects or ["cylinder"], args.axis)

    rows, teacher_rows = [], []
    for done, (name, policy, task) in [(rows, job) for job in jobs] + [(teacher_rows, job) for job in teacher_jobs]:
        done.append(evaluate_row(name, policy, task, args.episodes, args.steps, args.seed))
        r = done[-1]
        print(f"{name} / {task['wrist']} / {task['object']}: Rot {r['rot_rad']:.2f} rad, TTF {r['ttf']:.2f} "
              f"({r['seconds']:.0f} s)", flush=True)
    for line in skipped:
        print(f"skipped {line}")

    print(f"\naxis {args.axis}, nominal sim (each policy's training simulator), {args.episodes} episodes of "
          f"{args.steps / CONTROL_HZ:g} s per row, seed {args.seed}\n")
    print_table(rows + teacher_rows)
    if args.teacher_template:
        print_student_table(rows, teacher_rows)
    print("\nPublished (other simulators and hands; RotR, TTF):\n")
    print("| reference | RotR | TTF |")
    print("|---|---:|---:|")
    for name, rotr, ttf in PUBLISHED:
        print(f"| {name} | {rotr} | {ttf} |")
    if args.json:
        write_json(args.json, {"rows": rows, "teacher_rows": teacher_rows, "skipped": skipped,
                               "servo_cap_nm": SERVO_CAP})
    if args.plot:
        plot_rows(rows, args.plot)


if __name__ == "__main__":
    main()
