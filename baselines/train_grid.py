"""``dexndm train-grid``: a grid of ``dexndm train`` runs, one per wrist x object x axis x seed cell,
resumable, one after another in this process or as Ray Tune trials (``--ray``).

The grid file (YAML) holds the settings every cell trains with and the lists crossed into cells::

    env: DexNDM/LeapRotate-v0        # the default
    algo: ppo
    config: ppo_gait_residual.yml    # relative file paths are taken from the grid file's folder
    steps: 1000000                   # env steps every cell holds when it is complete
    env_kwargs: {obs_mode: privileged}
    cpus_per_cell: 2                 # default 1
    wrists: [palm_up, palm_down]     # required
    objects: [cylinder, cuboid]      # required: names, categories, or lists of them (one pool)
    axes: ["+z"]                     # default ["+z"]
    seeds: [0, 1]                    # default [0]

The settings are :func:`baselines.train.train`'s keyword arguments (what ``dexndm train`` takes;
``n-envs`` or ``n_envs`` alike): ``algo``, ``config``, ``steps``, ``n_envs``, ``n_workers``,
``warm_start``, ``warm_start_episodes``, ``residual_over`` (a gait file or ``search``),
``residual_scale``, ``asymmetric``, ``penalty_curriculum``, ``gait_search``, ``eval_every``, and
``env_kwargs`` (a mapping, or a list of mappings merged in order, later ones winning), plus ``env`` and
``cpus_per_cell``: the cores a cell trains on, which Tune reserves for its trial, torch's threads and
the default ``n_workers`` (``min(n_envs, cpus_per_cell)``) on either path, so that a cell learns the
same policy wherever it runs (the thread count changes a policy's arithmetic, and a simulated grasp
amplifies the difference). A relative file path (a value with a suffix: ``config``, ``residual_over``,
``warm_start``) is taken from the grid file's folder. ``!ref MODULE:NAME`` stands for a constant of the
project's libraries (``!ref baselines.oracles:ORACLE_REWARD``), so a grid names a recipe's settings
instead of copying them (``baselines/configs/grid_oracles.yaml``).

Cell ``(wrist, object, axis, seed)`` trains in ``OUT/<wrist>_<object>_<axis>_s<seed>`` (objects of a
pool joined by ``+``, the axis ``+z`` written ``z`` and ``-z`` ``negz``): exactly what ``dexndm train``
writes there (:func:`baselines.train.train_to`). A cell that holds ``steps`` env steps is left alone,
one cut short is resumed, so a grid runs in parts (stop it any time, run the same command again), and
raising ``steps`` continues every cell. With ``--ray`` the cells that need training run as Ray Tune
trials (Tune's experiment records in ``OUT/_tune``); on a cluster OUT must be on a filesystem every
node mounts. At the end ``OUT/summary.md`` and ``OUT/summary.json`` hold a row per cell (its env steps,
wall time and CPU hours from ``train.json``, the final rotation and TTF: the mean of the learning
curve's last :data:`FINAL_POINTS` rows) and ``OUT/curves.png`` every cell's learning curve.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import itertools
import logging
import os
import time
import types
import typing
from pathlib import Path

import yaml

from baselines.policy import read_run_record
from baselines.train import CURVE_FILE, load_hyperparams, run_steps, train, train_to
from dexndm_envs.fileio import atomic_write, write_json

log = logging.getLogger(__name__)

LISTS = {"wrists": None, "objects": None, "axes": ["+z"], "seeds": [0]}
"""The lists a grid crosses into cells, with their defaults (None: the grid file must give it)."""
_SET_PER_CELL = ("env_id", "out", "resume", "seed", "progress")  # train()'s arguments the grid sets itself
SETTINGS = ("env", *(name for name, p in inspect.signature(train).parameters.items()
                     if name not in _SET_PER_CELL), "cpus_per_cell")
"""The settings a grid file may give every cell: :func:`baselines.train.train`'s arguments, ``env`` for
its env id and ``cpus_per_cell``."""
DEFAULT_ENV = "DexNDM/LeapRotate-v0"
FINAL_POINTS = 5
"""Learning-curve rows (the last ones) averaged into a cell's final rotation and TTF."""
TUNE_DIR = "_tune"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training of the grid: its task and seed."""

    wrist: str
    object: str | tuple[str, ...]
    axis: str
    seed: int

    @property
    def name(self) -> str:
        """The cell's directory name, ``<wrist>_<object>_<axis>_s<seed>``."""
        objects = self.object if isinstance(self.object, str) else "+".join(self.object)
        return f"{self.wrist}_{objects}_{self.axis.lstrip('+').replace('-', 'neg')}_s{self.seed}"

    def env_kwargs(self, common: dict) -> dict:
        """The env kwargs of this cell: ``common`` with the cell's object, wrist and axis."""
        return {**common, "object": self.object if isinstance(self.object, str) else list(self.object),
                "wrist": self.wrist, "axis": self.axis}


@dataclasses.dataclass(frozen=True)
class Grid:
    """A loaded grid file (:func:`load_grid`): the training settings shared by every cell and its cells."""

    env: str
    steps: int
    cpus_per_cell: int
    env_kwargs: dict
    train_kwargs: dict
    """the other keyword arguments of :func:`baselines.train.train` (n_workers always set)"""
    cells: tuple[Cell, ...]


class GridCellsFailed(RuntimeError):
    """Cells of a grid on Tune failed or were interrupted; the others are kept, and running the grid again
    resumes them."""


class _GridLoader(yaml.SafeLoader):
    """YAML with ``!ref MODULE:NAME``, a constant of the project's libraries."""


def _plain(value):
    """A constant as YAML would have given it: tuples as lists, paths as strings, copied."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _ref(loader: yaml.SafeLoader, node: yaml.Node):
    spec = loader.construct_scalar(node)
    module, _, name = spec.partition(":")
    usage = "write !ref MODULE:NAME with MODULE in baselines, real or dexndm_envs, e.g. !ref baselines.oracles:CONFIG"
    if not name or module.split(".")[0] not in ("baselines", "real", "dexndm_envs"):
        raise ValueError(f"bad !ref {spec!r}: {usage}")
    try:
        return _plain(getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError) as e:
        raise ValueError(f"bad !ref {spec!r} ({e}): {usage}") from None


_GridLoader.add_constructor("!ref", _ref)


def _fits(value, hint) -> bool:
    """Whether ``value`` is of the class ``hint`` (a path may be a string, a float an int, an int not a bool)."""
    t = typing.get_origin(hint) or hint
    if t is type(None):
        return value is None
    if isinstance(value, bool):
        return t is bool
    return isinstance(value, {float: int | float, Path: str | Path}.get(t, t))


def _check_type(path: Path, key: str, value, hint) -> None:
    """A ValueError unless ``value`` fits ``hint``, train()'s annotation of ``key`` (a class or a union)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if not any(_fits(value, t) for t in options):
        names = " or ".join("None" if t is type(None) else getattr(typing.get_origin(t) or t, "__name__", str(t))
                            for t in options)
        raise ValueError(f"{path}: {key} must be {names}; got {value!r}")


def _resolve(value: str | Path | None, folder: Path) -> str | None:
    """A relative file path (a value with a suffix) taken from the grid file's folder; names as they are."""
    return str(folder / value) if value and Path(value).suffix else value


def _items(path: Path, key: str, values) -> list:
    if not isinstance(values, list) or not values:
        raise ValueError(f"{path}: {key} must be a non-empty list; got {values!r}")
    return values


def _cells(path: Path, lists: dict) -> tuple[Cell, ...]:
    """The cells of the grid's lists, each entry checked (a ValueError names the bad one and what is allowed)."""
    from dexndm_envs.objects import resolve_objects
    from dexndm_envs.poses import AXIS_CHOICES, WRISTS

    wrists, objects, axes, seeds = (_items(path, key, lists[key]) for key in LISTS)
    for key, values, allowed in (("wrists", wrists, list(WRISTS)), ("axes", axes, list(AXIS_CHOICES))):
        if bad := [v for v in values if v not in allowed]:
            raise ValueError(f"{path}: {key} has {bad}; allowed: {', '.join(allowed)}")
    for obj in objects:
        try:
            resolve_objects(obj)
        except ValueError as e:
            raise ValueError(f"{path}: objects: {e}") from None
    if bad := [s for s in seeds if not isinstance(s, int) or isinstance(s, bool)]:
        raise ValueError(f"{path}: seeds must be integers; got {bad}")
    cells = tuple(Cell(w, o if isinstance(o, str) else tuple(o), a, s)
                  for w, o, a, s in itertools.product(wrists, objects, axes, seeds))
    names = [c.name for c in cells]
    if len(set(names)) < len(names):
        raise ValueError(f"{path}: the lists repeat an entry: cells {sorted({n for n in names if names.count(n) > 1})} "
                         "would share a directory")
    return cells


def _check_env_kwargs(path: Path, env: str, env_kwargs: dict) -> None:
    """A ValueError naming an unknown env id, or an env kwarg that neither ``env``'s constructor nor
    ``gym.make`` takes (with those they take)."""
    import gymnasium as gym

    from baselines.episodes import env_defaults

    try:
        made_with = [p for p in inspect.signature(gym.make).parameters if p not in ("id", "kwargs")]
        allowed = [*env_defaults(env), *made_with]
    except gym.error.Error as e:
        raise ValueError(f"{path}: env: {e}") from None
    if unknown := [k for k in env_kwargs if k not in allowed]:
        raise ValueError(f"{path}: env_kwargs: {env} takes no {unknown[0]!r}; allowed: {', '.join(allowed)}")


def load_grid(path: str | Path) -> Grid:
    """Read and check a grid file (module docstring); a ValueError names the bad key or value and what is
    allowed."""
    path = Path(path).resolve()  # its relative paths are then absolute: a trial on another node finds them
    if not path.is_file():
        raise ValueError(f"no grid file {path}")
    try:
        table = yaml.load(path.read_text(), Loader=_GridLoader)  # noqa: S506 (a SafeLoader with !ref)
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not valid YAML: {e}") from None
    except ValueError as e:  # a bad !ref
        raise ValueError(f"{path}: {e}") from None
    if not isinstance(table, dict):
        raise ValueError(f"{path} must be a mapping of settings and lists ({', '.join(LISTS)})")
    table = {str(k).replace("-", "_"): v for k, v in table.items()}
    allowed = (*SETTINGS, *LISTS)
    if unknown := [k for k in table if k not in allowed]:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    if missing := [k for k, default in LISTS.items() if default is None and k not in table]:
        needed = ", ".join(k for k, d in LISTS.items() if d is None)
        raise ValueError(f"{path}: no {missing[0]!r}: a grid needs the lists {needed}")
    cells = _cells(path, {k: table.get(k, default) for k, default in LISTS.items()})
    hints = typing.get_type_hints(train)
    settings = {k: v for k, v in table.items() if k in SETTINGS}
    env = settings.pop("env", DEFAULT_ENV)
    cpus = settings.pop("cpus_per_cell", 1)
    for key, value, hint in (("env", env, str), ("cpus_per_cell", cpus, int)):
        _check_type(path, key, value, hint)
    env_kwargs = settings.pop("env_kwargs", {})
    parts = env_kwargs if isinstance(env_kwargs, list) else [env_kwargs]
    if not all(isinstance(part, dict) for part in parts):
        raise ValueError(f"{path}: env_kwargs must be a mapping or a list of mappings; got {env_kwargs!r}")
    env_kwargs = {k: v for part in parts for k, v in part.items()}
    if set_by_cells := sorted({"object", "wrist", "axis"} & set(env_kwargs)):
        raise ValueError(f"{path}: env_kwargs sets {', '.join(set_by_cells)}: the lists objects, wrists and axes "
                         "set them per cell")
    _check_env_kwargs(path, env, env_kwargs)
    for key, value in settings.items():
        _check_type(path, key, value, hints[key])
    for key in ("config", "residual_over", "warm_start"):
        if key in settings:
            settings[key] = _resolve(settings[key], path.parent)
    for key in ("steps", "cpus_per_cell", "n_envs", "n_workers"):
        value = cpus if key == "cpus_per_cell" else settings.get(key)
        if value is not None and value < 1:
            raise ValueError(f"{path}: {key} must be >= 1; got {value}")
    algo = settings.get("algo", inspect.signature(train).parameters["algo"].default)
    config = settings.get("config") or Path(__file__).parent / "configs" / f"{algo}.yml"  # train()'s default
    try:  # a missing config or env entry fails now, not in every cell
        hp = load_hyperparams(config, env)
    except ValueError as e:
        raise ValueError(f"{path}: config: {e}") from None
    steps = settings.pop("steps", None) or int(hp.get("n_timesteps", 1_000_000))
    n_envs = settings.get("n_envs") or hp.get("n_envs", 1)
    settings["n_workers"] = settings.get("n_workers") or min(n_envs, cpus)
    if settings["n_workers"] > n_envs:
        raise ValueError(f"{path}: n_workers must be at most n_envs ({n_envs}); got {settings['n_workers']}")
    return Grid(env, steps, cpus, env_kwargs, settings, cells)


def train_cell(grid: Grid, cell: Cell, out: str | Path, progress: bool = True) -> dict:
    """Train ``cell`` in ``out/<cell.name>`` until it holds the grid's steps (start it, resume it, or leave
    it alone: :func:`baselines.train.train_to`) with ``grid.cpus_per_cell`` torch threads, as a Tune trial
    has them; its run record. The one code path of a cell, in this process or in a Tune trial."""
    from dexndm_envs.dynamics.training import torch_threads

    with torch_threads(grid.cpus_per_cell):  # the thread count changes the numbers a policy computes
        return train_to(grid.steps, grid.env, cell.env_kwargs(grid.env_kwargs), Path(out) / cell.name,
                        seed=cell.seed, progress=progress, **grid.train_kwargs)


def tune_trial(config: dict, grid: Grid, out: str) -> None:
    """The function trainable of a Tune trial: train the cell ``config["cell"]`` names (:func:`train_cell`)
    and report its final metrics."""
    from ray import tune

    cell = next(c for c in grid.cells if c.name == config["cell"])
    record = train_cell(grid, cell, out, progress=False)
    final = final_point(Path(out) / cell.name)
    tune.report({"env_steps": record["total_env_steps"], "wall_s": record["total_wall_s"],
                 "cpu_hours": record["total_cpu_hours"], **{k: v for k, v in final.items() if v is not None}})


def _train_on_tune(grid: Grid, cells: list[Cell], out: Path, address: str) -> None:
    """Train ``cells`` as Tune trials on the Ray at ``address``, ``grid.cpus_per_cell`` CPUs each; a
    :class:`GridCellsFailed` names the cells whose trial failed."""
    from baselines.cluster import ray_session

    with ray_session(address):
        from ray import tune

        trainable = tune.with_resources(tune.with_parameters(tune_trial, grid=grid, out=str(out)),
                                        {"cpu": grid.cpus_per_cell})
        tuner = tune.Tuner(trainable, param_space={"cell": tune.grid_search([c.name for c in cells])},
                           run_config=tune.RunConfig(name=time.strftime("train_grid_%Y%m%d-%H%M%S"),
                                                     storage_path=str(out / TUNE_DIR), verbose=1))
        before = os.environ.get("RAY_CHDIR_TO_TRIAL_DIR")
        os.environ["RAY_CHDIR_TO_TRIAL_DIR"] = "0"  # trials keep this working directory (Tune passes it on)
        try:
            results = tuner.fit()
        finally:
            if before is None:
                del os.environ["RAY_CHDIR_TO_TRIAL_DIR"]
            else:
                os.environ["RAY_CHDIR_TO_TRIAL_DIR"] = before
    failed = [f"{r.config['cell']} ({(str(r.error).strip().splitlines() or [type(r.error).__name__])[-1]})"
              for r in results if r.error]
    if failed:
        raise GridCellsFailed(f"{len(failed)} of {len(cells)} cells failed: {'; '.join(failed)}; Tune's records are in "
                           f"{results.experiment_path}; run the grid again to resume them")


def run_grid(grid: Grid, out: str | Path, ray_address: str | None = None, progress: bool = True) -> list[dict]:
    """Train every cell of ``grid`` that does not hold its steps yet into ``out`` (module docstring), one
    after another here or, with ``ray_address``, as Tune trials; write ``out/summary.md``,
    ``out/summary.json`` and ``out/curves.png``; return the summary's rows (:func:`cell_summary`)."""
    from tqdm.auto import tqdm

    out = Path(out).resolve()  # absolute: a trial runs elsewhere
    out.mkdir(parents=True, exist_ok=True)
    before = {cell: run_steps(out / cell.name) for cell in grid.cells}
    pending = [cell for cell in grid.cells if before[cell] < grid.steps]
    log.info("%d cells, %d to train to %d env steps -> %s", len(grid.cells), len(pending), grid.steps, out)
    if pending and ray_address is not None:
        _train_on_tune(grid, pending, out, ray_address)
        unfinished = [cell.name for cell in pending if run_steps(out / cell.name) < grid.steps]
        if unfinished:  # Tune returns from an interrupt (Ctrl-C) as from a finished grid
            raise GridCellsFailed(f"interrupted: {len(unfinished)} cells short of {grid.steps} env steps "
                                  f"({', '.join(unfinished)}); run the same command again to resume them")
    else:
        for cell in tqdm(pending, desc="train grid", unit="cell", disable=not progress):
            log.info("cell %s: %d of %d env steps held", cell.name, before[cell], grid.steps)
            train_cell(grid, cell, out, progress)
    rows = [cell_summary(cell, out / cell.name, before[cell], grid.steps) for cell in grid.cells]
    write_json(out / "summary.json", rows)
    atomic_write(out / "summary.md", format_summary(rows))
    plot_curves(rows, out / "curves.png")
    return rows


def read_curve(run_dir: Path):
    """A run's learning curve (``curve.csv``) as a structured array, or None where it has no rows yet."""
    import numpy as np

    path = run_dir / CURVE_FILE
    if not path.is_file() or path.read_text().count("\n") < 2:
        return None
    return np.genfromtxt(path, delimiter=",", names=True, ndmin=1)


def final_point(run_dir: Path) -> dict:
    """``{"rot_rad", "ttf"}``: the mean of the learning curve's last :data:`FINAL_POINTS` rows (None: no rows)."""
    curve = read_curve(run_dir)
    if curve is None:
        return {"rot_rad": None, "ttf": None}
    return {k: float(curve[k][-FINAL_POINTS:].mean()) for k in ("rot_rad", "ttf")}


def cell_summary(cell: Cell, run_dir: Path, steps_before: int, steps: int) -> dict:
    """A cell's summary row: its task, what this run of the grid did to it (``status``: ``new``, started;
    ``resumed``, continued; ``complete``, left alone as it held its steps), and from its run record and
    learning curve its env steps (in all, and added by this run), wall time, CPU hours and final rotation
    and TTF (:func:`final_point`)."""
    info = read_run_record(run_dir).info
    status = "complete" if steps_before >= steps else "resumed" if steps_before else "new"
    return {"cell": cell.name, "dir": str(run_dir), "wrist": cell.wrist, "object": cell.object, "axis": cell.axis,
            "seed": cell.seed, "status": status, "env_steps": info["total_env_steps"],
            "steps_added": info["total_env_steps"] - steps_before, "wall_s": info["total_wall_s"],
            "cpu_hours": info["total_cpu_hours"], **final_point(run_dir)}


def format_summary(rows: list[dict]) -> str:
    """The summary rows as a Markdown table."""
    def number(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    lines = ["| cell | status | env steps | wall time (h) | CPU hours | final Rot (rad) | final TTF |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['cell']} | {r['status']} | {r['env_steps']:,} | {r['wall_s'] / 3600:.3f} | {r['cpu_hours']:.3f} "
              f"| {number(r['rot_rad'])} | {number(r['ttf'])} |" for r in rows]
    return "\n".join(lines) + (f"\n\nfinal Rot and TTF: the mean of the learning curve's last {FINAL_POINTS} rows "
                               "(training episodes, stochastic policy)\n")


def plot_curves(rows: list[dict], path: Path) -> Path | None:
    """Every cell's learning curve (rotation per episode against env steps), one line each, into ``path``;
    None (and nothing written) where no cell has a curve yet."""
    from baselines import plots

    curves = [(r["cell"], curve) for r in rows if (curve := read_curve(Path(r["dir"]))) is not None]
    if not curves:
        log.warning("no cell has finished training episodes yet: no %s", path)
        return None
    fig, ax = plots.figure(size=(7, 4))
    for name, curve in curves:
        ax.plot(curve["env_steps"], curve["rot_rad"], lw=1.2, label=name)
    ax.set_xlabel("env steps")
    ax.set_ylabel("rotation per episode (rad)")
    ax.set_title("training episodes (stochastic policy, mean of the last 100)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=max(1, len(curves) // 12))
    return plots.save(fig, path)
