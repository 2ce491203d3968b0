"""``python -m baselines.oracles``: the per-cell oracle recipe, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.oracles import ORACLE_GAIT_SEARCH, ORACLE_REWARD, SERVO_TORQUE_NM, train_cells

TINY_SEARCH = [{**stage, "generations": 1, "population": 2, "elite": 1, "episodes": 1, "steps": 4, "workers": 1}
               for stage in ORACLE_GAIT_SEARCH]


@pytest.mark.slow
def test_a_cell_trains_with_the_oracle_recipe_and_a_second_call_leaves_it_alone(warm_grasps, tmp_path):
    """The cell's gait is searched in the recipe's two stages with its period, fitness and search clip
    (the search env only), its residual trains with the oracle reward at the servo's torque, and the
    grid can be run again."""
    cells = dict(wrists=["palm_up"], objects=["cylinder"], gait_search=TINY_SEARCH, n_envs=1, n_workers=1,
                 progress=False)
    [record] = train_cells(tmp_path, 64, **cells)
    cell = tmp_path / "oracle_palm_up_cylinder_z"
    gait = json.loads((cell / "gait.json").read_text())
    assert gait["period_steps"] == 32 and gait["search"]["fitness"] == "rotr" and gait["skew"] == 0.3
    assert gait["search"]["init"] == str(cell / "gait_stage0.json")  # the skewed stage starts from the first
    assert "skew" not in json.loads((cell / "gait_stage0.json").read_text())
    assert gait["env_kwargs"]["rotate_reward_clip"] == 0.3  # the search's clip ...
    assert record["env_kwargs"]["rotate_reward_clip"] == 0.5  # ... not the training reward's
    assert {k: record["env_kwargs"][k] for k in ORACLE_REWARD} == ORACLE_REWARD
    assert record["env_kwargs"]["actuator"] == {"name": "ideal_pd", "torque_limit": SERVO_TORQUE_NM}
    assert record["total_env_steps"] == 64 and (cell / "model.zip").is_file()
    [again] = train_cells(tmp_path, 64, **cells)
    assert again == record  # a finished cell is left alone


@pytest.mark.slow
def test_a_wrist_oracle_continues_the_cylinder_cell_on_both_categories(warm_grasps, tmp_path):
    """--per-wrist: the wrist's cylinder cell is trained, copied and continued with
    every cylinder and cuboid in the pool, over the cell's gait; the cell itself stays as it was, and a
    second call leaves the finished wrist oracle alone."""
    from baselines.oracles import train_wrist_oracle, wrist_oracle_dir
    from baselines.policy import read_run_record

    tiny = dict(gait_search=TINY_SEARCH, n_envs=1, n_workers=1, progress=False)
    record = train_wrist_oracle(tmp_path, "palm_down", 64, 64, **tiny)
    cell, wrist = tmp_path / "oracle_palm_down_cylinder_z", wrist_oracle_dir(tmp_path, "palm_down")
    assert wrist == tmp_path / "oracle_palm_down_z"
    assert record["env_kwargs"]["object"] == ["cylinder", "cuboid"] and record["env_kwargs"]["wrist"] == "palm_down"
    assert record["total_env_steps"] == 128 and record["resumed"]
    assert read_run_record(cell).info["total_env_steps"] == 64  # the cell is not touched
    gait = read_run_record(wrist).residual["gait"]
    assert Path(gait).parent == wrist and Path(gait).read_text() == (cell / "gait.json").read_text()  # the cell's
    assert not list(tmp_path.glob(".*.tmp"))
    assert train_wrist_oracle(tmp_path, "palm_down", 64, 64, **tiny) == record


def test_bad_grid_arguments_are_clear_errors(tmp_path, capsys):
    from baselines.oracles import main, train_wrist_oracle

    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--per-wrist", "--objects", "cuboid"])
    assert "--per-wrist trains one oracle per wrist for both categories; leave out --objects" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="baselines.oracles: error: --env-kwargs is not valid JSON"):
        main(["--out", str(tmp_path), "--env-kwargs", "{wrist"])
    with pytest.raises(ValueError, match="at least 1 env step; got 0"):
        train_wrist_oracle(tmp_path, "palm_up", 64, 0)
    assert not list(tmp_path.iterdir())  # nothing trained or copied
