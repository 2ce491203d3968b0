"""``dexndm fit`` and ``dexndm residual`` end to end on a small synthetic dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_plant import SyntheticPlant, episodes

from baselines.cli import build_parser, main
from dexndm_envs.dynamics.checkpoint import load_ndm
from dexndm_envs.dynamics.dataset import EpisodeWriter
from dexndm_envs.dynamics.residual import RESIDUALS, load_residual

pytestmark = pytest.mark.usefixtures("one_torch_thread")

META = {"source": "sim", "wrist": "palm_up", "object": "synthetic", "gap": None, "policy": "random",
        "control_period_s": 0.05}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "episodes"
    writer = EpisodeWriter(path)
    for ep in episodes(SyntheticPlant(1.0, seed=0), 4, steps=60):
        writer.write(ep["q"], ep["targets"], ep["timestamps"], META)
    return path


def test_fit_then_residual(data_dir, tmp_path, capsys):
    ckpt, report_path, res = tmp_path / "ndm.pt", tmp_path / "out" / "fit.json", tmp_path / "res.pt"
    main(["fit", "--data", str(data_dir), "--model", "joint", "--epochs", "3", "--out", str(ckpt),
          "--json", str(report_path)])
    assert ckpt.is_file() and report_path.is_file()
    report = json.loads(report_path.read_text())
    e = report["eval"]
    assert report["model"] == "joint" and report["history"] == 10 and report["checkpoint"] == str(ckpt)
    assert report["epochs_run"] <= 3 and report["train_episodes"] == 3 and report["eval_episodes"] == 1
    for scores in (e, e["naive_hold"], e["naive_target"]):
        assert np.isfinite(scores["rmse_1step"]) and scores["rmse_1step"] > 0
    assert len(e["rmse_1step_per_joint"]) == 16
    out = capsys.readouterr().out
    assert f"joint-wise model -> {ckpt}" in out and "next q = target" in out
    assert f"{e['rmse_1step']:.4f}" in out
    assert load_ndm(ckpt).kind == "joint"

    res_json = tmp_path / "res.json"
    main(["residual", "--ndm", str(ckpt), "--sim-data", str(data_dir), "--epochs", "2", "--form", "mlp",
          "--hidden", "32", "--max-correction", "0.2", "--out", str(res), "--json", str(res_json)])
    residual = load_residual(res)
    assert residual.kind == "mlp" and residual.history == 10 and residual.max_correction == 0.2
    assert residual.hidden == 32
    c = residual.correct(np.zeros((10, 16)), np.full((10, 16), 0.1))
    assert c.shape == (16,) and np.abs(c).max() <= 0.2
    info = json.loads(res_json.read_text())
    assert info["ndm"] == str(ckpt) and info["epochs_run"] == 2 and "gains" not in info
    assert "residual ->" in capsys.readouterr().out

    # the default form: three gains, reported by name
    main(["residual", "--ndm", str(ckpt), "--sim-data", str(data_dir), "--epochs", "2", "--out", str(res),
          "--json", str(res_json)])
    residual = load_residual(res)
    info = json.loads(res_json.read_text())
    assert residual.kind == "gains" and set(info["gains"]) == {"damping", "stiffness", "lead"}
    assert info["gains"] == residual.named_gains()
    assert "damping gain" in capsys.readouterr().out


def test_fit_whole_hand_with_history_and_init(data_dir, tmp_path):
    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    main(["fit", "--data", str(data_dir), "--model", "whole", "--history", "4", "--epochs", "1", "--out", str(first)])
    main(["fit", "--data", str(data_dir), "--model", "whole", "--history", "4", "--init", str(first),
          "--epochs", "1", "--out", str(second)])
    model = load_ndm(second)
    assert model.kind == "whole" and model.history == 4
    with pytest.raises(SystemExit, match="history of W=4 steps; W=10 was asked for"):
        main(["fit", "--data", str(data_dir), "--model", "whole", "--init", str(first), "--epochs", "1",
              "--out", str(tmp_path / "c.pt")])


def test_fit_reports_a_missing_dataset(tmp_path):
    with pytest.raises(SystemExit) as err:
        main(["fit", "--data", "/nonexistent", "--epochs", "1", "--out", str(tmp_path / "x.pt")])
    message = str(err.value.code)
    assert message.startswith("dexndm fit: error:") and "/nonexistent: no such dataset directory" in message
    assert not (tmp_path / "x.pt").exists()


def test_residual_reports_a_bad_checkpoint(data_dir, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="dexndm residual: error: .*bad.pt: not a readable checkpoint"):
        main(["residual", "--ndm", str(bad), "--sim-data", str(data_dir), "--out", str(tmp_path / "r.pt")])


def test_fit_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as err:
        main(["fit", "--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    for option in ("--data", "--model", "--history", "--init", "--epochs", "--out", "--json"):
        assert option in out
    with pytest.raises(SystemExit):
        main(["residual", "--help"])
    out = capsys.readouterr().out
    assert "--ndm" in out and "--sim-data" in out and "--max-correction" in out


@pytest.mark.parametrize("command", ["residual", "demo"])
def test_every_residual_form_is_offered(command, capsys):
    """The command line offers the library's forms (read from it), its first the default."""
    argv = ["residual", "--ndm", "m.pt", "--sim-data", "d", "--out", "o.pt"] if command == "residual" else ["demo"]
    args = build_parser().parse_args(argv)
    assert (args.form if command == "residual" else args.residual) == next(iter(RESIDUALS))
    with pytest.raises(SystemExit):
        main([command, "--residual" if command == "demo" else "--form", "bogus"])
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err
    assert all(f"'{form}'" in err for form in RESIDUALS), err
