"""What ships under baselines/: the searched gaits are complete, loadable, the demo's default base
policy, and evaluable with `dexndm eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines import cli
from baselines.pipeline import default_policy
from baselines.sources import PeriodicGaitSource, load_policy
from conftest import OBJECT

ROOT = Path(__file__).resolve().parents[1]
GAITS = sorted((ROOT / "baselines" / "gaits").glob("*.json"))


def test_a_gait_ships_for_the_palm_up_cylinder():
    assert ROOT / "baselines" / "gaits" / "palm_up_cylinder_z.json" in GAITS
    assert default_policy("palm_up", "cylinder", "+z").endswith("palm_up_cylinder_z.json")


@pytest.mark.parametrize("path", GAITS, ids=[p.stem for p in GAITS])
def test_every_shipped_gait_loads_and_says_how_it_was_found(path):
    assert isinstance(load_policy(str(path)), PeriodicGaitSource)
    gait = json.loads(path.read_text())
    wrist_object = path.stem.rsplit("_", 1)[0]
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
