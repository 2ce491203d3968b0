"""The ``dexndm`` command line as a new user meets it: a fast ``--help``, every command's help, outputs
that never overwrite the repository's files, the observation mode taken from the checkpoint, honest
training progress, and clean errors for bad input."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import OBJECT

from baselines import cli
from baselines.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT / "baselines" / "checkpoints" / "oracle_palm_up_cylinder_z_cap" / "model.zip"


def test_help_imports_no_heavy_library():
    """``dexndm --help`` builds every command's parser without importing torch, PyBullet or Gymnasium."""
    code = ("import sys; from baselines import cli; cli.build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'pybullet', 'gymnasium', 'stable_baselines3') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main([name, "--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: dexndm {name}") and COMMANDS[name].HELP.split(",")[0] in " ".join(out.split())


def test_pictures_go_to_runs_not_to_the_repository(tmp_path, monkeypatch, capsys):
    """``render`` and ``objects sheet`` write under ./runs (ignored by git) by default and say where."""
    import baselines.object_sheet
    import baselines.render

    written = []

    def fake(*args):
        out = next(a for a in args if isinstance(a, Path))
        written.append(out)
        return out

    monkeypatch.setattr(baselines.render, "render_wrists", fake)
    monkeypatch.setattr(baselines.object_sheet, "contact_sheet", fake)
    monkeypatch.chdir(tmp_path)
    cli.main(["render"])
    cli.main(["render", "--scene", "chaos_box"])
    cli.main(["objects", "sheet"])
    assert written == [Path("runs/wrists.png"), Path("runs/chaos_box.png"), Path("runs/objects.png")]
    assert capsys.readouterr().out.split() == [str(p) for p in written]
    assert "runs/" in (ROOT / ".gitignore").read_text().split()


def test_eval_takes_the_observation_mode_from_the_checkpoint(warm_grasps, tmp_path):
    """The shipped oracle reads the privileged observation; its train.json says so, and eval uses it
    without being told (it used to fail with a broadcast error on the proprioceptive observation)."""
    report = tmp_path / "eval.json"
    cli.main(["eval", "--policy", str(ORACLE), "--env-kwargs", json.dumps({"object": OBJECT, "wrist": "palm_up"}),
              "--episodes", "1", "--steps", "5", "--json", str(report)])
    assert json.loads(report.read_text())["env_kwargs"]["obs_mode"] == "privileged"
    with pytest.raises(SystemExit, match="reads the privileged observation .*obs_mode 'proprio'"):
        cli.main(["eval", "--policy", str(ORACLE), "--env-kwargs",
                  json.dumps({"object": OBJECT, "obs_mode": "proprio"}), "--episodes", "1", "--json", str(report)])
    with pytest.raises(SystemExit, match="cannot give; use a proprioceptive policy"):
        cli.main(["eval", "--policy", str(ORACLE), "--env", "DexNDM/LeapRotateReal-v0", "--port", "/dev/null",
                  "--env-kwargs", json.dumps({"tracker": "localhost:1"}), "--episodes", "1", "--json", str(report)])


class _TenFloats(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (10,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (16,), np.float32)


def test_a_policy_for_another_observation_is_a_clear_error(warm_grasps, tmp_path):
    from stable_baselines3 import PPO

    path = tmp_path / "other" / "model.zip"
    PPO("MlpPolicy", _TenFloats(), n_steps=64, batch_size=64, device="cpu").save(path)
    with pytest.raises(SystemExit, match=r"reads 10 floats per observation but the env gives 327; LeapRotate gives "
                                         r"327 \(obs_mode proprio\), 364 \(obs_mode privileged\)"):
        cli.main(["eval", "--policy", str(path), "--env-kwargs", json.dumps({"object": OBJECT}), "--episodes", "1",
                  "--steps", "5", "--json", str(tmp_path / "r.json")])
    (path.parent / "train.json").write_text(json.dumps({"env": "DexNDM/LeapRotate-v0",
                                                        "env_kwargs": {"obs_mode": "privileged"}}))
    with pytest.raises(SystemExit, match="reads 10 floats per observation, but .*train.json says it was trained on "
                                         "obs_mode 'privileged', which gives 364"):
        cli.main(["eval", "--policy", str(path), "--episodes", "1", "--json", str(tmp_path / "r.json")])


def test_a_corrupt_checkpoint_is_a_clean_error(tmp_path):
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"not a zip at all")
    with pytest.raises(SystemExit) as err:
        cli.main(["eval", "--policy", str(corrupt), "--episodes", "1", "--json", str(tmp_path / "r.json")])
    assert str(err.value) == (f"dexndm eval: error: {corrupt} is not a readable policy checkpoint (not a zip file); "
                              "an SB3 policy is the model.zip that `dexndm train` writes")


def test_demo_checks_its_arguments_before_looking_for_a_policy(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with pytest.raises(SystemExit, match="dexndm demo: error: unknown object 'banana'"):
        cli.main(["demo", "--object", "banana", "--workdir", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="unknown axis 'sideways'"):
        cli.main(["demo", "--axis", "sideways", "--workdir", str(tmp_path / "run")])
    assert not caplog.records  # no warning about a missing shipped policy first
    assert not (tmp_path / "run").exists()


def test_objects_import_says_it_is_working_before_the_slow_part(tmp_path, capsys, monkeypatch):
    from dexndm_envs import objects

    monkeypatch.setattr(objects, "import_mesh", lambda *a, **k: (_ for _ in ()).throw(ValueError("stop here")))
    with pytest.raises(SystemExit, match="stop here"):
        cli.main(["objects", "import", str(tmp_path / "m.stl"), "--name", "m"])
    assert "importing" in capsys.readouterr().err
