"""benchmarks/policies.py: steadiness, the training simulator's torque clip, and a tiny ``--cells`` run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import OBJECT, benchmark_script


@pytest.fixture(scope="module")
def policies():
    return benchmark_script("policies")


def test_steadiness(policies):
    assert policies.steadiness(4.0, 80.0) == pytest.approx(1.0)  # 0.2 rad/s for 20 s, below the 0.5 rad/s clip
    assert policies.steadiness(4.0, 40.0) == pytest.approx(0.5)
    assert policies.steadiness(0.0, 10.0) is None
    assert policies.steadiness(-1.0, -20.0) is None
    # a rotation within two standard errors of zero has no steadiness (here RotR / 20 Rot would be 4)
    assert policies.steadiness(0.05, 4.0, rot_se=0.25) is None
    assert policies.steadiness(4.0, 80.0, rot_se=0.5) == pytest.approx(1.0)


def test_the_steadiness_target_refuses_a_wobble_read_as_more_than_steady(policies):
    """Steadiness above 1 beyond its error is rotation the samples saw and the object did not keep."""
    assert policies.steady_enough({"steadiness": 0.64, "steadiness_se": 0.01})
    assert not policies.steady_enough({"steadiness": 0.55, "steadiness_se": 0.01})
    assert not policies.steady_enough({"steadiness": 3.98, "steadiness_se": 1.27})  # thumb up, 0.09 rad turned
    assert policies.steady_enough({"steadiness": 1.05, "steadiness_se": 0.05})  # 1 within its error
    assert not policies.steady_enough({"steadiness": None, "steadiness_se": None})


def test_the_steadiness_standard_error_is_the_ratio_estimators(policies):
    """Zero when every episode has the same steadiness; for scattered episodes it matches the spread of
    the ratio over resampled sets of episodes."""
    assert policies.steadiness_standard_error([2.0, 4.0], [20.0, 40.0]) == pytest.approx(0.0)
    assert policies.steadiness_standard_error([4.0], [40.0]) is None
    rng = np.random.default_rng(0)
    rot = rng.uniform(4, 8, 50)
    rotr = 20 * rot * rng.uniform(0.4, 0.7, 50)
    boot = [policies.steadiness(rot[i].mean(), rotr[i].mean()) for i in rng.integers(50, size=(2000, 50))]
    assert policies.steadiness_standard_error(rot, rotr) == pytest.approx(np.std(boot), rel=0.15)


def test_the_motion_profile_counts_the_steps_by_their_mean_rate(policies):
    import numpy as np

    steady = np.arange(401) * 0.3 / 20  # 0.3 rad/s every step
    pulses = np.concatenate([[0.0], np.cumsum(np.tile([2.0, 2.0, -0.4, 0, 0, 0, 0, 0], 50) / 20)])
    assert policies.motion_profile([steady]) == {"turning": 1.0, "above_clip": 0.0, "backwards": 0.0}
    assert policies.motion_profile([pulses]) == pytest.approx({"turning": 0.25, "above_clip": 0.25,
                                                               "backwards": 0.125})
    both = policies.motion_profile([steady, pulses])
    assert both["turning"] == pytest.approx(0.625) and both["above_clip"] == pytest.approx(0.125)


def test_torque_clip(policies):
    assert policies.torque_clip({}) == pytest.approx(0.5)  # the ideal PD's default
    assert policies.torque_clip({"actuator": {"name": "ideal_pd", "torque_limit": 0.18}}) == pytest.approx(0.18)
    assert policies.torque_clip({"actuator": {"name": "xc330", "goal_current_ma": 550.0,
                                              "torque_constant_nm_per_a": 0.53}}) == pytest.approx(0.2915)


@pytest.mark.slow
def test_cells_run(policies, warm_grasps, tmp_path, capsys):
    out = tmp_path / "cells.json"
    policies.main(["--cells", "--wrists", "palm_up", "--objects", OBJECT, "--policy-template", "hold",
                   "--episodes", "1", "--steps", "10", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "| steadiness | +- se | clip (N m) | <= 0.29 N m cap | CPU h |" in printed
    row = next(line for line in printed.splitlines() if line.startswith(f"| hold | palm_up | {OBJECT} |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # hold runs in the default simulator (0.5 N m, above the servos' cap) and took no training (no CPU hours)
    assert cells[9:13] == ["-", "0.50", "no", "-"]  # one episode: no steadiness error
    assert "torque clip <= 0.29 N m: 0 of 1 rows" in printed
    [saved] = json.loads(out.read_text())["rows"]
    assert saved["wrist"] == "palm_up" and saved["object"] == OBJECT and saved["steps"] == 10
    assert saved["torque_clip_nm"] == 0.5 and saved["within_servo_cap"] is False and saved["cpu_hours"] is None
    expected = None if saved["rot_rad"] <= 0 else saved["rotr"] / (20 * saved["rot_rad"])
    assert saved["steadiness"] == pytest.approx(expected)
    assert cells[8] == ("-" if expected is None else f"{expected:.2f}")
    # --rows-from tables the saved rows again without evaluating, twice over for two files
    policies.main(["--rows-from", str(out), str(out), "--plot", str(tmp_path / "again.png")])
    again = capsys.readouterr().out
    assert again.count(row) == 2 and "torque clip <= 0.29 N m: 0 of 2 rows" in again
    with pytest.raises(SystemExit):
        policies.main(["--rows-from", str(out), "--cells"])
    with pytest.raises(SystemExit):
        policies.main(["--rows-from", str(tmp_path / "missing.json")])


def test_a_residual_policys_cpu_hours_include_its_gaits_search(policies, tmp_path):
    """The run record's training CPU hours plus the gait file's search_cpu_s (all its stages)."""
    run = {"env": "DexNDM/LeapRotate-v0", "env_kwargs": {}, "total_cpu_hours": 0.5}
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "train.json").write_text(json.dumps(run))
    assert policies.training_cpu_hours(str(tmp_path / "plain" / "model.zip")) == pytest.approx(0.5)
    (tmp_path / "residual").mkdir()
    (tmp_path / "residual" / "train.json").write_text(json.dumps({**run, "residual": {"gait": "gait.json",
                                                                                        "scale": 0.2}}))
    (tmp_path / "residual" / "gait.json").write_text(json.dumps({"search_cpu_s": 1800.0}))
    assert policies.training_cpu_hours(str(tmp_path / "residual" / "model.zip")) == pytest.approx(1.0)
    assert policies.training_cpu_hours("hold") is None


def test_the_plot_shows_rot_against_steadiness(policies, tmp_path):
    rows = [{"policy": name, "wrist": "palm_up", "object": "cylinder", "rot_rad": rot, "rot_rad_se": 0.4,
             "steadiness": st, "steadiness_se": 0.01} for name, rot, st in (("a", 6.7, 0.55), ("b", 5.3, 0.61))]
    rows.append({**rows[0], "policy": "still", "steadiness": None})  # no rotation: no point
    assert policies.plot_rows(rows, tmp_path / "f.png").stat().st_size > 1000


@pytest.mark.slow
def test_recipes_score_a_policy_under_a_recipes_own_training_reward(warm_grasps):
    """benchmarks/recipes.py's reward check: the return under the run record's env kwargs (its fall
    penalty and weights), split into the rotation term and the penalties, with its standard error."""
    recipes = benchmark_script("recipes")
    record = {"env_kwargs": {"object": OBJECT, "wrist": "palm_up", "axis": "+z", "obs_mode": "privileged",
                             "pose_penalty_weight": 5.0}}
    heavy = recipes.training_returns(record, "random", 2)
    light = recipes.training_returns({"env_kwargs": {**record["env_kwargs"], "pose_penalty_weight": 0.0}},
                                     "random", 2)
    for r in (heavy, light):
        assert r["return"] == pytest.approx(r["rotate"] + r["penalties"]) and r["return_se"] >= 0.0
    assert heavy["rotate"] == pytest.approx(light["rotate"])  # same seeded episodes ...
    assert heavy["penalties"] < light["penalties"] < 0.0  # ... charged by the record's weights


def test_a_policy_trained_on_both_categories_is_evaluated_on_each(policies, tmp_path):
    """A wrist oracle (object list) gets a row per category it trained on; a one-category oracle one row."""
    for name, obj in (("both", ["cylinder", "cuboid"]), ("one", "cylinder")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.json").write_text(json.dumps(
            {"env": "DexNDM/LeapRotate-v0", "env_kwargs": {"object": obj, "wrist": "palm_down", "axis": "+z"}}))
        (tmp_path / name / "model.zip").write_bytes(b"")
    jobs = policies.named_jobs({n: str(tmp_path / n / "model.zip") for n in ("both", "one")},
                               ["palm_up", "palm_down"], ["cylinder", "cuboid"], "+z")
    assert [(name, task["wrist"], task["object"]) for name, _, task in jobs] == [
        ("both", "palm_down", "cylinder"), ("both", "palm_down", "cuboid"), ("one", "palm_down", "cylinder")]


def test_the_student_table_sets_each_cell_against_its_teacher(policies, capsys):
    """The generalist's targets per cell: 0.8 of the teacher's Rot and 4 rad, TTF 0.8, steadiness 0.6;
    a cell without a teacher is left out."""
    def row(policy, wrist, rot, ttf=0.9, steady=0.7):
        return {"policy": policy, "wrist": wrist, "object": "cylinder", "rot_rad": rot, "rot_rad_se": 0.3,
                "ttf": ttf, "steadiness": steady}

    students = [row("g", "palm_up", 5.0), row("g", "palm_down", 3.0, ttf=0.7, steady=0.5), row("g", "base_up", 1.0),
                row("g", "thumb_up", 0.1)]
    teachers = [row("t", "palm_up", 6.0), row("t", "palm_down", 4.0), row("t", "thumb_up", -0.2)]
    policies.print_student_table(students, teachers)
    out = capsys.readouterr().out
    assert "| g | palm_up | cylinder | 5.00 | 0.30 | t | 6.00 | 0.30 | 0.83 | 0.90 | 0.70 | 4/4 |" in out
    assert ("| g | palm_down | cylinder | 3.00 | 0.30 | t | 4.00 | 0.30 | 0.75 | 0.70 | 0.50 | 0/4 (not Rot >= 0.8 x "
            "the teacher's; Rot >= 4 rad; TTF >= 0.8; steadiness >= 0.6) |") in out
    assert "base_up" not in out
    # a teacher that turns nothing sets no share to keep: holding still does not meet it
    assert "| g | thumb_up | cylinder | 0.10 | 0.30 | t | -0.20 | 0.30 | - | 0.90 | 0.70 | 2/4 (not Rot >= 0.8 x" in out
    assert "Rot >= 0.8 x the teacher's: 1 of 3 cells" in out and "TTF >= 0.8: 2 of 3 cells" in out


@pytest.mark.slow
def test_cells_with_teachers_run_and_table_again_from_json(policies, warm_grasps, tmp_path, capsys):
    out = tmp_path / "student.json"
    policies.main(["--cells", "--wrists", "palm_up", "--objects", OBJECT, "--policy-template", "hold",
                   "--teacher-template", "random", "--episodes", "2", "--steps", "10", "--json", str(out)])
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith(f"| hold | palm_up | {OBJECT} |") and "| random |" in x)
    saved = json.loads(out.read_text())
    assert [r["policy"] for r in saved["rows"]] == ["hold"]
    assert [r["policy"] for r in saved["teacher_rows"]] == ["random"]
    policies.main(["--rows-from", str(out)])
    assert line in capsys.readouterr().out
    with pytest.raises(SystemExit):
        policies.main(["--teacher-template", "random"])
