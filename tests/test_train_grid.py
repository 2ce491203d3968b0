"""``dexndm train-grid`` (a resumable grid of trainings, here or on Ray Tune) and ``benchmarks/sim2real.py
--ray`` (the sim-to-real grid's cells as Ray tasks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import OBJECT, benchmark_script

from baselines import cli

ROOT = Path(__file__).resolve().parents[1]
CELLS = [f"palm_up_{OBJECT}_z_s{seed}" for seed in (0, 1)]
WRITTEN = ("model.zip", "vecnormalize.pkl", "train.json", "curve.csv", "curve.png", "checkpoints", "tb")
"""What ``dexndm train`` writes into a tiny run's --out (no evaluation was due, so no best_model.zip)."""


@pytest.fixture(scope="module")
def ray_local(dexndm_cache):
    """A local Ray of two CPUs for the module (``ray_session`` uses it as it is), started after the grasp
    cache's location is set, so its workers inherit it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def write_grid(folder: Path, steps: int, **changes) -> Path:
    """A grid of two tiny PPO cells (two seeds): 2 envs x 64-step rollouts, 32-step episodes so that the
    learning curve has rows; the config sits beside the grid file, named relative to it."""
    table = yaml.safe_load((ROOT / "baselines" / "configs" / "ppo.yml").read_text())
    table["DexNDM/LeapRotate-v0"].update(n_envs=2, n_steps=64, batch_size=64)
    (folder / "ppo_tiny.yml").write_text(yaml.safe_dump(table))
    grid = {"config": "ppo_tiny.yml", "steps": steps, "env_kwargs": {"obs_mode": "privileged", "max_episode_steps": 32},
            "wrists": ["palm_up"], "objects": [OBJECT], "seeds": [0, 1], **changes}
    path = folder / f"grid_{steps}.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def summary(out: Path) -> dict[str, dict]:
    return {row["cell"]: row for row in json.loads((out / "summary.json").read_text())}


def curve_rows(run: Path) -> list[tuple]:
    """The learning curve without its wall times."""
    curve = np.genfromtxt(run / "curve.csv", delimiter=",", names=True, ndmin=1)
    return [tuple(row)[:4] for row in curve]


@pytest.mark.slow
def test_a_grid_trains_on_tune_the_same_as_here_resumes_and_leaves_complete_cells_alone(warm_grasps, ray_local,
                                                                                          tmp_path, capsys):
    """Through --ray the cells are Tune trials (records in OUT/_tune) writing what `dexndm train` writes
    into their cell directories, the numbers the serial path computes; more steps resume every cell,
    and the same grid again leaves the complete cells untouched."""
    out = tmp_path / "grid"
    cli.main(["train-grid", str(write_grid(tmp_path, 128)), "--ray", "local", "--out", str(out)])
    printed = capsys.readouterr().out
    for seed, name in enumerate(CELLS):
        cell = out / name
        assert all((cell / f).exists() for f in WRITTEN), sorted(p.name for p in cell.iterdir())
        record = json.loads((cell / "train.json").read_text())
        assert record["total_env_steps"] == 128 and record["seed"] == seed and not record["resumed"]
        assert {k: record["env_kwargs"][k] for k in ("wrist", "object", "axis")} == {
            "wrist": "palm_up", "object": OBJECT, "axis": "+z"}
        assert record["n_workers"] == 1  # min(n_envs, cpus_per_cell)
    assert [d.name.startswith("train_grid_") for d in (out / "_tune").iterdir()] == [True]
    rows = summary(out)
    assert list(rows) == CELLS and {r["status"] for r in rows.values()} == {"new"}
    assert all(r["env_steps"] == 128 and r["cpu_hours"] > 0 and 0 < r["ttf"] <= 32 / 400 for r in rows.values())
    assert (out / "summary.md").read_text().split("\n\n")[0] in printed and (out / "curves.png").stat().st_size > 0

    here = tmp_path / "here"  # the same grid in this process: the same cells
    cli.main(["train-grid", str(write_grid(tmp_path, 128)), "--out", str(here)])
    assert all(curve_rows(here / name) == curve_rows(out / name) for name in CELLS)

    cli.main(["train-grid", str(write_grid(tmp_path, 256)), "--ray", "local", "--out", str(out)])
    for name in CELLS:
        record = json.loads((out / name / "train.json").read_text())
        assert record["total_env_steps"] == 256 and record["resumed"] and record["steps_this_run"] == 128
        assert [row[0] for row in curve_rows(out / name)] == [128, 256]
    assert {r["status"] for r in summary(out).values()} == {"resumed"}

    before = {name: ((out / name / "model.zip").stat().st_mtime_ns, (out / name / "train.json").read_text())
              for name in CELLS}
    cli.main(["train-grid", str(write_grid(tmp_path, 256)), "--ray", "local", "--out", str(out)])
    assert before == {name: ((out / name / "model.zip").stat().st_mtime_ns, (out / name / "train.json").read_text())
                      for name in CELLS}
    assert all(r["status"] == "complete" and r["steps_added"] == 0 for r in summary(out).values())


@pytest.mark.parametrize("change, message", [
    ({"n_env": 2}, "unknown key 'n_env'; allowed: env, env_kwargs, algo, config, steps, n_envs"),
    ({"wrists": ["palm_upp"]}, r"wrists has \['palm_upp'\]; allowed: palm_up, palm_down"),
    ({"objects": []}, "objects must be a non-empty list"),
    ({"seeds": [0, 0]}, "the lists repeat an entry"),
    ({"n_envs": "two"}, "n_envs must be int or None; got 'two'"),
    ({"cpus_per_cell": 0}, "cpus_per_cell must be >= 1; got 0"),
    ({"env_kwargs": {"wrist": "palm_down"}}, "env_kwargs sets wrist: the lists objects, wrists and axes set them"),
    ({"env_kwargs": {"bogus": 1}}, "env_kwargs: DexNDM/LeapRotate-v0 takes no 'bogus'; allowed: object, wrist"),
    ({"config": "missing.yml"}, "config: no hyperparameter file .*missing.yml"),
])
def test_a_bad_grid_file_is_a_clear_error_naming_the_key(tmp_path, change, message):
    with pytest.raises(SystemExit, match=rf"dexndm train-grid: error: .*grid_64.yaml: {message}"):
        cli.main(["train-grid", str(write_grid(tmp_path, 64, **change)), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_a_bad_ref_is_a_clear_error(tmp_path):
    (tmp_path / "ref.yaml").write_text(f"config: !ref baselines.oracles:NOPE\nwrists: [palm_up]\nobjects: [{OBJECT}]\n")
    with pytest.raises(SystemExit, match="ref.yaml: bad !ref 'baselines.oracles:NOPE'.*write !ref MODULE:NAME"):
        cli.main(["train-grid", str(tmp_path / "ref.yaml"), "--out", str(tmp_path / "out")])


def test_the_oracle_grid_is_the_oracle_recipe_and_loading_a_grid_imports_no_ray():
    """grid_oracles.yaml names baselines.oracles' constants: every cell trains as that cell of
    `python -m baselines.oracles` does (its env kwargs, config, searched gait), wrists x categories."""
    from baselines.oracles import CATEGORIES, CONFIG, ORACLE_GAIT_SEARCH, ORACLE_REWARD, cell_kwargs
    from baselines.train import GAIT_SEARCH
    from baselines.train_grid import load_grid
    from dexndm_envs.poses import WRISTS

    grid = load_grid(ROOT / "baselines" / "configs" / "grid_oracles.yaml")
    assert [(c.wrist, c.object, c.axis, c.seed) for c in grid.cells] == [(w, o, "+z", 0) for w in WRISTS
                                                                           for o in CATEGORIES]
    assert all(c.env_kwargs(grid.env_kwargs) == cell_kwargs(c.wrist, c.object, ORACLE_REWARD) for c in grid.cells)
    assert grid.train_kwargs["config"] == str(CONFIG) and grid.train_kwargs["residual_over"] == GAIT_SEARCH
    assert grid.train_kwargs["gait_search"] == ORACLE_GAIT_SEARCH and grid.steps == 1_000_000
    assert grid.cells[0].name == "palm_up_cylinder_z_s0"
    code = ("import sys; from baselines.train_grid import load_grid; load_grid('baselines/configs/grid_oracles.yaml'); "
            "print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]


def test_sim2real_waves_let_each_cell_share_what_the_serial_grid_shares(tmp_path):
    """Wave 1: each wrist and object's first cell; 2: each hand's first; 3: the other residual forms."""
    sim2real = benchmark_script("sim2real")
    cells = [sim2real.Cell(gap, wrist, "cylinder", residual, "scripted", tmp_path / f"{gap}_{wrist}_{residual}")
             for gap in ("leap_sysid", "leap_xc330") for wrist in ("palm_up", "palm_down")
             for residual in ("gains", "mlp")]
    assert sim2real.share_waves(cells) == [[0, 2], [4, 6], [1, 3, 5, 7]]
    assert sim2real.share_waves(cells[:1]) == [[0]]


@pytest.mark.slow
def test_sim2real_on_ray_gives_the_serial_results(warm_grasps, ray_local, tmp_path, capsys):
    """Two hands x two residual forms at toy size: as Ray tasks the cells take over the same stages from
    the same cells and give the same results and table rows as one after another."""
    sim2real = benchmark_script("sim2real")
    argv = ["--size", "quick", "--set", "eval_episodes=2", "box_episodes=3", "sim_box_episodes=3", "policy_episodes=2",
            "steps=30", "fit_epochs=3", "fit_patience=2", "residual_epochs=2", "--gaps", "leap_sysid", "leap_xc330",
            "--wrists", "palm_up", "--objects", OBJECT, "--residuals", "gains", "mlp", "--policy", "scripted"]
    tables = {}
    for name, extra in (("serial", []), ("ray", ["--ray", "local"])):
        sim2real.main([*argv, "--workdir", str(tmp_path / name), *extra])
        lines = capsys.readouterr().out.splitlines()
        tables[name] = [line.rsplit("|", 2)[0] for line in lines if line.startswith("| ")]
    assert len(tables["serial"]) == 1 + 4 and tables["ray"] == tables["serial"]  # all but the wall times
    for cell in sorted(p.name for p in (tmp_path / "serial").iterdir()):
        serial, ray = (json.loads((tmp_path / name / cell / "pipeline.json").read_text()) for name in ("serial", "ray"))
        for result, name in ((serial, "serial"), (ray, "ray")):
            if result["taken_over"]:
                result["taken_over"]["from"] = Path(result["taken_over"]["from"]).relative_to(tmp_path / name).name
        assert ray["taken_over"] == serial["taken_over"]
        assert [r["rot_rad"] for r in ray["rows"]] == [r["rot_rad"] for r in serial["rows"]]
        assert ray["gap_closed"] == serial["gap_closed"] and ray["improvement"] == serial["improvement"]
