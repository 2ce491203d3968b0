"""What ships under baselines/: the searched gaits, the oracles (trained within the servos' torque) and the
generalist are complete, loadable, the demo's default base policies, and evaluable with `dexndm eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import OBJECT

from baselines import cli
from baselines.gait import PeriodicGaitSource
from baselines.oracles import SERVO_TORQUE_NM
from baselines.pipeline import default_policy
from baselines.policy import load_policy, policy_obs_mode
from dexndm_envs.poses import WRISTS

ROOT = Path(__file__).resolve().parents[1]
GAITS = sorted((ROOT / "baselines" / "gaits").glob("*.json"))
ORACLE = ROOT / "baselines" / "checkpoints" / "oracle_palm_up_cylinder_z_cap"
ORACLES = sorted((ROOT / "baselines" / "checkpoints").glob("oracle_*"))


def test_the_palm_up_cylinder_oracle_is_the_in_process_default_and_a_hand_gets_a_proprio_policy():
    assert ROOT / "baselines" / "gaits" / "palm_up_cylinder_z.json" in GAITS
    assert default_policy("palm_up", "cylinder", "+z") == str(ORACLE / "model.zip")
    assert policy_obs_mode(default_policy("palm_up", "cylinder", "+z")) == "privileged"
    on_a_hand = default_policy("palm_up", "cylinder", "+z", deployable=True)
    assert on_a_hand.endswith("generalist.pt") and policy_obs_mode(on_a_hand) == "proprio"


@pytest.mark.parametrize("oracle", ORACLES, ids=[p.name for p in ORACLES])
def test_every_oracle_says_how_it_was_made_and_what_it_scored(oracle):
    run = json.loads((oracle / "train.json").read_text())
    assert run["command"].startswith("python -m baselines.oracles")  # the grid, `dexndm train` per cell
    assert run["env_kwargs"]["actuator"]["torque_limit"] <= SERVO_TORQUE_NM  # a torque the servos give
    assert run["residual"] == {"gait": "gait.json", "scale": 0.2} and (oracle / "gait.json").is_file()
    assert run["shipped"]["env_steps"] > 0 and run["shipped"]["wall_s_to_checkpoint"] > 0
    assert oracle.name == "oracle_{wrist}_{object}_z".format(**run["env_kwargs"]) + (
        "_dr" if run["env_kwargs"].get("randomize") else "") + ("_cap" if "actuator" in run["env_kwargs"] else "")
    report = json.loads((oracle / "eval.json").read_text())
    assert report["episodes"] == 50 and report["env_kwargs"]["obs_mode"] == "privileged"
    assert report["env_kwargs"]["wrist"] == run["env_kwargs"]["wrist"] and "randomize" not in report["env_kwargs"]
    assert report["env_kwargs"].get("actuator") == run["env_kwargs"].get("actuator")  # scored in its own simulator
    assert (oracle / "curve.png").is_file() and (oracle / "README.md").is_file()


def test_the_shipped_oracle_turns_its_object(warm_grasps, tmp_path):
    report = tmp_path / "eval.json"
    kwargs = {"object": OBJECT, "wrist": "palm_up", "axis": "+z", "obs_mode": "privileged"}
    cli.main(["eval", "--policy", str(ORACLE / "model.zip"), "--env-kwargs", json.dumps(kwargs),
              "--episodes", "3", "--steps", "100", "--seed", "1", "--json", str(report)])
    data = json.loads(report.read_text())
    assert {"rot_rad", "ttf", "ttf_s", "rotr", "rotp", "episodes", "conditions", "per_episode"} <= set(data)
    # 5 s of a ~0.33 rad/s oracle (it drops this cylinder in about 1 episode of 7, not in these three)
    assert data["ttf"] == 0.25 and data["rot_rad"] > 1.0, data


@pytest.mark.parametrize("path", GAITS, ids=[p.stem for p in GAITS])
def test_every_shipped_gait_loads_and_says_how_it_was_found(path):
    assert isinstance(load_policy(str(path)), PeriodicGaitSource)
    gait = json.loads(path.read_text())
    stem = path.stem.removesuffix("_cap")  # "_cap": searched in a simulator with the hand's current cap
    assert (stem != path.stem) == ("actuator" in gait["env_kwargs"])
    wrist_object = stem.rsplit("_", 1)[0]
    assert wrist_object == f"{gait['env_kwargs']['wrist']}_{gait['env_kwargs']['object']}"
    assert gait["history"] and gait["wall_s"] > 0


def test_eval_on_a_shipped_gait_writes_the_metrics_json(warm_grasps, tmp_path):
    report = tmp_path / "eval.json"
    gait = ROOT / "baselines" / "gaits" / "palm_up_cylinder_z.json"
    cli.main(["eval", "--policy", str(gait), "--env-kwargs", json.dumps({"object": OBJECT, "wrist": "palm_up"}),
              "--episodes", "1", "--steps", "20", "--json", str(report)])
    data = json.loads(report.read_text())
    assert {"rot_rad", "ttf", "ttf_s", "rotr", "rotp", "episodes", "conditions", "per_episode"} <= set(data)
    assert data["episodes"] == 1 and report.with_suffix(".png").is_file()


def test_the_generalist_covers_six_wrists_and_is_the_default_on_a_hand(warm_grasps, tmp_path):
    from baselines.generalist import generalist_tasks, load_generalist

    path = ROOT / "baselines" / "checkpoints" / "generalist" / "generalist.pt"
    assert generalist_tasks(path) == {(wrist, "cylinder") for wrist in WRISTS}  # one teacher per wrist
    # an object it was not distilled on gets the gait searched for it
    assert default_policy("palm_up", "cuboid", "+z", deployable=True).endswith("gaits/palm_up_cuboid_z.json")
    _, checkpoint = load_generalist(path)
    assert checkpoint["info"]["selected_round"] in [r["round"] for r in checkpoint["info"]["rounds"]]
    assert checkpoint["info"]["clock_period"] == 32  # its teachers' gait period; it counts its own steps
    for wrist in WRISTS:
        assert default_policy(wrist, "cylinder", "+z", deployable=True) == str(path)
    report = tmp_path / "eval.json"  # proprioceptive: it runs on the deployable observation
    cli.main(["eval", "--policy", str(path), "--env-kwargs", json.dumps({"object": OBJECT, "wrist": "palm_down"}),
              "--episodes", "1", "--steps", "20", "--json", str(report)])
    assert json.loads(report.read_text())["episodes"] == 1
