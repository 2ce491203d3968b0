"""``dexndm eval``: metrics JSON, plot, videos, rollouts for replay, the correction wrapper, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import OBJECT

from baselines import cli
from baselines.evaluate import evaluate
from baselines.sources import ReplaySource
from dexndm_envs.dynamics.checkpoint import save_checkpoint
from dexndm_envs.dynamics.dataset import EpisodeDataset
from dexndm_envs.dynamics.residual import RESIDUAL_FORMAT, MLPResidual
from dexndm_envs.envs.leap_rotate_v0 import REWARD_TERMS

KWARGS = {"object": OBJECT, "wrist": "palm_down"}
KEYS = ("rot_rad", "ttf", "ttf_s", "rotr", "rotp")


def run(tmp_path, *extra: str, episodes: int = 2, steps: int = 30):
    report = tmp_path / "eval" / "report.json"
    cli.main(["eval", "--policy", "scripted", "--env-kwargs", json.dumps(KWARGS), "--episodes", str(episodes),
              "--steps", str(steps), "--json", str(report), *extra])
    return json.loads(report.read_text()), report


def test_eval_writes_the_metrics_json_a_plot_and_prints_a_table(warm_grasps, tmp_path, capsys):
    data, report = run(tmp_path)
    for key in KEYS:
        assert isinstance(data[key], float)
        assert data[key] == pytest.approx(np.mean([e[key] for e in data["per_episode"]]))
    assert data["episodes"] == 2 and len(data["per_episode"]) == 2
    assert data["conditions"] == [{"object": OBJECT, "wrist": "palm_down", "episodes": 2,
                                   **{k: data[k] for k in KEYS}}]
    assert 0.0 < data["ttf"] <= 30 / 400 + 1e-9  # at most the 30 steps run, as a fraction of 20 s
    assert data["ttf_s"] == pytest.approx(20.0 * data["ttf"])
    assert report.with_suffix(".png").stat().st_size > 1000
    assert OBJECT in capsys.readouterr().out
    for episode in data["per_episode"]:  # the return and each signed reward term, summed over the episode
        terms = episode["returns"]
        assert set(REWARD_TERMS) < set(terms) and terms["reward_rotp"] < 0.0
        assert terms["return"] == pytest.approx(sum(terms[k] for k in REWARD_TERMS))
    assert data["returns"]["return"] == pytest.approx(np.mean([e["returns"]["return"] for e in data["per_episode"]]))


def test_eval_is_seeded(warm_grasps, tmp_path):
    a = evaluate("DexNDM/LeapRotate-v0", KWARGS, "scripted", 2, steps=20, progress=False)
    b = evaluate("DexNDM/LeapRotate-v0", KWARGS, "scripted", 2, steps=20, progress=False)
    assert a["per_episode"] == b["per_episode"]


def test_saved_rollouts_are_a_dataset_that_replay_can_use(warm_grasps, tmp_path):
    run(tmp_path, "--save-rollouts", str(tmp_path / "rollouts"), "--video", str(tmp_path / "video"))
    ds = EpisodeDataset(tmp_path / "rollouts")
    assert len(ds) == 2
    for ep in ds:
        assert ep["actions"].shape == ep["targets"].shape == (30, 16)
        assert ep["meta"]["wrist"] == "palm_down" and ep["meta"]["object"] == OBJECT
        assert ep["meta"]["policy"] == "finger_gait" and set(KEYS) <= set(ep["meta"]["metrics"])
    replay = ReplaySource(tmp_path / "rollouts", "palm_down", steps=30)
    replay.reset(np.random.default_rng(0))
    assert replay.actions.shape == (30, 16)
    assert sorted(p.name for p in (tmp_path / "video").iterdir()) == ["episode_000.gif", "episode_001.gif"]


def test_eval_under_the_correction_wrapper(warm_grasps, tmp_path):
    residual = MLPResidual(hidden=8)
    with torch.no_grad():
        residual.net[-1].bias.fill_(1.0)  # a constant correction of 0.1 tanh(1) rad on every joint
    path = save_checkpoint(tmp_path / "res.pt", RESIDUAL_FORMAT, residual, residual.kind, residual.config())
    plain = evaluate("DexNDM/LeapRotate-v0", KWARGS, "scripted", 1, steps=20, progress=False)
    corrected = evaluate("DexNDM/LeapRotate-v0", KWARGS, "scripted", 1, steps=20, correction=path, progress=False)
    assert corrected["correction"] == str(path)
    assert corrected["per_episode"] != plain["per_episode"]


@pytest.mark.parametrize("argv, message", [
    (["--policy", "missing.zip"], "no policy checkpoint"),
    (["--policy", "scripted", "--env", "DexNDM/LeapChaosBox-v0", "--env-kwargs", "{}"], "no rotation metrics"),
    (["--policy", "scripted", "--env", "DexNDM/LeapRotateReal-v0", "--port", "/dev/null", "--env-kwargs", "{}"],
     "tracker"),
    (["--policy", "scripted", "--episodes", "0"], "episodes must be >= 1"),
    (["--policy", "scripted", "--env-kwargs", "{bad"], "--env-kwargs is not valid JSON"),
    (["--policy", "scripted", "--env-kwargs", "[1]"], "--env-kwargs must be a JSON object"),
])
def test_bad_eval_input_is_a_clear_error(tmp_path, argv, message):
    args = ["eval", "--json", str(tmp_path / "r.json"), "--episodes", "1", *argv]
    with pytest.raises(SystemExit, match=message):
        cli.main(args)


@pytest.mark.parametrize("policy", ["generalist/generalist.pt", "oracle_palm_down_cylinder_z_cap/model.zip"])
def test_the_report_does_not_depend_on_torchs_thread_count(warm_grasps, policy):
    """A Ray worker runs torch on one thread, a serial run on all of this machine's: the policies' one
    observation at a time must compute the same actions either way, or `--ray` would not give the serial
    report."""
    path = Path(__file__).resolve().parents[1] / "baselines" / "checkpoints" / policy
    before, reports = torch.get_num_threads(), []
    try:
        for threads in (1, 4):
            torch.set_num_threads(threads)
            reports.append(evaluate("DexNDM/LeapRotate-v0", {"object": OBJECT, "wrist": "palm_down"}, str(path), 2,
                                    seed=3, steps=40, progress=False)["per_episode"])
    finally:
        torch.set_num_threads(before)
    assert reports[0] == reports[1]
