"""The end-to-end pipeline (``dexndm demo``) at toy size: every stage's artefact and the result JSON,
and clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import OBJECT

from baselines import cli
from baselines.episodes import episode_seeds
from baselines.pipeline import CONDITIONS, GAITS, Sizes, format_table, run_pipeline
from baselines.policy import policy_simulator
from baselines.transfer_stats import format_figure, transfer_figure, transfer_figures, transfer_interval
from dexndm_envs.dynamics.checkpoint import load_ndm
from dexndm_envs.dynamics.dataset import EpisodeDataset
from dexndm_envs.dynamics.fitting import fit
from dexndm_envs.dynamics.residual import load_residual
from dexndm_envs.gap import DEFAULT_HAND
from dexndm_envs.metrics import METRIC_KEYS

TOY = Sizes(eval_episodes=2, box_episodes=3, sim_box_episodes=3, policy_episodes=2, steps=30, fit_epochs=3,
            fit_patience=2, residual_epochs=2)
STAGES = ("sim_eval", "sim_policy", "sim_box", "fit_sim", "direct_eval", "real_box", "fit_real", "residual",
          "corrected_eval")
CAPPED = {"name": "ideal_pd", "torque_limit": 0.18}


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory, one_torch_thread):
    """The pipeline at toy size with the shipped palm-up gait, as if searched in a simulator whose torque
    clip is the hand's Goal Current (so "sim" must mean that simulator)."""
    root = tmp_path_factory.mktemp("pipeline")
    gait = json.loads((GAITS / "palm_up_cylinder_z.json").read_text())
    gait["env_kwargs"] = {"object": OBJECT, "wrist": "palm_up", "axis": "+z", "actuator": CAPPED}
    (root / "gait.json").write_text(json.dumps(gait))
    return run_pipeline(str(root / "gait.json"), workdir=root / "run", size=TOY, object=OBJECT, wrist="palm_up",
                        seed=0, progress=False), root / "run"


def test_every_stage_leaves_its_artefact(warm_grasps, toy_run):
    _, workdir = toy_run
    data = workdir / "data"
    expected = {"sim_rollouts": TOY.eval_episodes, "sim_policy": TOY.policy_episodes,
                "sim_box": TOY.sim_box_episodes, "real_box": TOY.box_episodes}
    for name, episodes in expected.items():
        ds = EpisodeDataset(data / name)
        assert len(ds) == episodes, name
        assert ds[0]["actions"].shape[1] == 16
    real, sim_box = EpisodeDataset(data / "real_box")[0]["meta"], EpisodeDataset(data / "sim_box")[0]["meta"]
    assert (real["source"], real["gap"], real["object"]) == ("gap", DEFAULT_HAND, "chaos_box")
    assert (sim_box["source"], sim_box["gap"]) == ("sim", None)
    assert sim_box["env_kwargs"]["actuator"] == CAPPED and "actuator" not in real["env_kwargs"]
    for name in ("sim_rollouts", "sim_policy"):
        assert EpisodeDataset(data / name)[0]["meta"]["env_kwargs"]["actuator"] == CAPPED
    assert real["policy"] == sim_box["policy"] == "replay"
    for kind in ("joint", "whole"):
        for stage in ("sim", "real"):
            assert load_ndm(workdir / "models" / f"{kind}_{stage}.pt").kind == kind
            assert json.loads((workdir / "models" / f"{kind}_{stage}.json").read_text())["model"] == kind
        assert load_residual(workdir / "models" / f"{kind}_residual.pt").history == 10
        fine_tuned = json.loads((workdir / "models" / f"{kind}_real.json").read_text())
        assert fine_tuned["init"] == str(workdir / "models" / f"{kind}_sim.pt")
        assert fine_tuned["data"] == [str(data / "real_box")]
    for condition in CONDITIONS:
        report = json.loads((workdir / "eval" / f"{condition}.json").read_text())
        assert report["episodes"] == TOY.eval_episodes
        assert (workdir / "eval" / f"{condition}.png").stat().st_size > 1000
    corrected = json.loads((workdir / "eval" / "joint_wise.json").read_text())
    assert corrected["correction"] == str(workdir / "models" / "joint_residual.pt")
    assert corrected["env_kwargs"]["gap"] == DEFAULT_HAND
    sim = json.loads((workdir / "eval" / "sim.json").read_text())["env_kwargs"]
    assert sim.get("gap") is None and sim["actuator"] == CAPPED and "actuator" not in corrected["env_kwargs"]
    assert (workdir / "rotation.png").stat().st_size > 1000


def test_the_result_json(warm_grasps, toy_run):
    result, workdir = toy_run
    assert json.loads((workdir / "pipeline.json").read_text()) == json.loads(json.dumps(result))
    assert [r["condition"] for r in result["rows"]] == list(CONDITIONS)
    for row in result["rows"]:
        assert all(isinstance(row[k], float) for k in METRIC_KEYS)
        assert row["episodes"] == TOY.eval_episodes
        report = json.loads((workdir / "eval" / f"{row['condition']}.json").read_text())
        assert {k: row[k] for k in METRIC_KEYS} == {k: report[k] for k in METRIC_KEYS}
    # the box never drops anything: every episode runs its full length
    assert result["data"]["real_transitions"] == result["data"]["real_box"]["transitions"] == 3 * 30
    assert result["data"]["sim_box"]["transitions"] == 3 * 30
    assert set(result["timings"]) == {*STAGES, "total"}
    assert sum(result["timings"][s] for s in STAGES) <= result["timings"]["total"]
    assert set(result["gap_closed"]) == set(result["gap_closed_ci95"]) == {"joint_wise", "whole_hand"}
    for row in result["rows"]:  # the standard error of the mean Rot over the report's episodes
        rot = [e["rot_rad"] for e in json.loads(open(row["report"]).read())["per_episode"]]
        assert row["rot_rad_se"] == pytest.approx(np.std(rot, ddof=1) / np.sqrt(len(rot)))
    assert result["gap"] == DEFAULT_HAND == "leap_sysid" and result["hand"]["port"] is None
    assert result["sizes"]["steps"] == 30 and result["policy"].endswith("gait.json") and result["obs_mode"] == "proprio"
    assert result["simulator"] == {"actuator": CAPPED}
    assert result["residual"] == "gains"  # the default form: three gains per model, recorded
    for kind in ("joint", "whole"):
        assert 0 <= result["models"][kind]["mean_abs_correction_rad"] <= 0.1
        assert set(result["models"][kind]["gains"]) == {"damping", "stiffness", "lead"}
    table = format_table(result)
    assert "joint-wise NDM" in table and "whole-hand NDM" in table and "90 real Chaos Box transitions" in table
    assert "simulator {'name': 'ideal_pd', 'torque_limit': 0.18}" in table and "residual gains" in table


@pytest.mark.slow
def test_the_pipeline_on_the_virtual_hand(warm_grasps, tmp_path, one_torch_thread):
    """With ports the hand is LeapRotateReal over the emulated bus: the object on one virtual hand (seen
    by its tracker), the Chaos Box on another; the data comes from the serial readings."""
    from real.emulator.virtual_hand import VirtualHand

    tiny = Sizes(eval_episodes=2, box_episodes=2, sim_box_episodes=2, policy_episodes=2, steps=20, fit_epochs=2,
                 fit_patience=1, residual_epochs=1)
    asked, placed = [], []
    with VirtualHand(wrist="palm_up", object=OBJECT) as rotate, VirtualHand(wrist="palm_up", scene="chaos_box") as box:
        result = run_pipeline("scripted", workdir=tmp_path / "run", size=tiny, port=rotate.port, box_port=box.port,
                              tracker=rotate.tracker_address, object=OBJECT, wrist="palm_up", progress=False,
                              ready=asked.append, place_object=lambda seed: placed.append(seed)
                              or rotate.place_object(seed))
    assert [r["condition"] for r in result["rows"]] == list(CONDITIONS)
    assert result["gap"] is None and result["hand"]["box_port"] == box.port
    real = EpisodeDataset(tmp_path / "run" / "data" / "real_box")
    assert len(real) == 2 and real[0]["meta"]["source"] == "real" and real[0]["meta"]["object"] == "chaos_box"
    # periods measured on the bus: never faster than 20 Hz (slower only when the machine is busy)
    assert np.all(np.diff(real[0]["timestamps"]) > 0) and real[0]["timestamps"][-1] / 20 > 0.9 * 0.05
    direct = json.loads((tmp_path / "run" / "eval" / "direct.json").read_text())
    assert direct["env"] == "DexNDM/LeapRotateReal-v0" and "port" not in direct["env_kwargs"]
    # a person is asked only to move the hand into its box; the object goes back in before every
    # evaluation episode, from the grasp the simulator's episode with the same index starts from
    assert len(asked) == 1 and "Chaos Box" in asked[0]
    sim = json.loads((tmp_path / "run" / "eval" / "sim.json").read_text())
    seeds = [episode_seeds(sim["seed"], i)[0] for i in range(tiny.eval_episodes)]
    assert placed == 3 * seeds and len(set(seeds)) == tiny.eval_episodes


def test_the_simulator_is_the_one_the_policy_was_trained_in(tmp_path):
    capped = {"name": "ideal_pd", "torque_limit": 0.18}
    run = tmp_path / "oracle"
    run.mkdir()
    (run / "train.json").write_text(json.dumps({"env": "DexNDM/LeapRotate-v0",
                                                "env_kwargs": {"object": "cylinder", "actuator": capped}}))
    gait = tmp_path / "gait.json"
    gait.write_text(json.dumps({"period_steps": 16, **{k: [0.0] * 16 for k in ("cos", "sin", "offset")},
                                "env_kwargs": {"object": "cylinder"}}))
    assert policy_simulator(str(run / "model.zip")) == {"actuator": capped}
    assert policy_simulator(str(gait)) == {} and policy_simulator("scripted") == {}


def test_a_generalist_of_teachers_from_different_simulators_is_refused(monkeypatch):
    from baselines import generalist

    teachers = [{"env_kwargs": {"wrist": "palm_up"}},
                {"env_kwargs": {"wrist": "palm_down", "actuator": {"name": "ideal_pd", "torque_limit": 0.18}}}]
    monkeypatch.setattr(generalist, "load_generalist", lambda path: (None, {"info": {"teachers": teachers}}))
    with pytest.raises(ValueError, match="teachers were trained with different actuators"):
        policy_simulator("generalist.pt")
    monkeypatch.setattr(generalist, "load_generalist", lambda path: (None, {"info": {"teachers": teachers[1:]}}))
    assert policy_simulator("generalist.pt") == {"actuator": teachers[1]["env_kwargs"]["actuator"]}


def gap_closed(rows):
    return transfer_figure(rows, "gap_closed")


def gap_closed_interval(rot, **kwargs):
    return transfer_interval(rot, "gap_closed", **kwargs)


def test_gap_closed_is_the_share_of_the_lost_rotation_won_back():
    rows = {"sim": {"rot_rad": 10.0}, "direct": {"rot_rad": 4.0}, "whole_hand": {"rot_rad": 3.0},
            "joint_wise": {"rot_rad": 9.0}}
    assert gap_closed(rows) == pytest.approx({"joint_wise": 5 / 6, "whole_hand": -1 / 6})
    rows["direct"]["rot_rad"] = 10.0
    assert gap_closed(rows) == {"joint_wise": None, "whole_hand": None}


def test_improvement_is_the_papers_relative_gain_over_direct_transfer():
    rows = {"sim": {"rot_rad": 10.0}, "direct": {"rot_rad": 4.0}, "whole_hand": {"rot_rad": 3.0},
            "joint_wise": {"rot_rad": 6.0}}
    assert transfer_figure(rows, "improvement") == pytest.approx({"joint_wise": 0.5, "whole_hand": -0.25})
    rows["direct"]["rot_rad"] = -0.5  # the policy turned the object backwards on the hand: no ratio
    assert transfer_figure(rows, "improvement") == {"joint_wise": None, "whole_hand": None}
    with pytest.raises(ValueError, match="unknown figure 'speedup'; allowed: gap_closed, improvement"):
        transfer_figure(rows, "speedup")


def test_improvement_interval_is_paired_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    grasp = 2.0 * rng.standard_normal(200)  # each episode's grasp helps or hurts every condition alike
    rot = {c: mean + grasp + 1.5 * rng.standard_normal(200)
           for c, mean in (("sim", 7.0), ("direct", 3.0), ("whole_hand", 3.3), ("joint_wise", 4.5))}
    ci = transfer_interval(rot, "improvement")
    point = rot["joint_wise"].mean() / rot["direct"].mean() - 1
    assert ci["joint_wise"][0] < point < ci["joint_wise"][1] and ci["joint_wise"][0] > 0  # +50 %, resolved
    assert ci["whole_hand"][0] < 0 < ci["whole_hand"][1]  # +10 % under this noise: not resolved
    assert transfer_interval(rot, "improvement") == ci
    near_zero = {**rot, "direct": rot["direct"] - 3.0}  # direct Rot ~ 0: most resamples undefined or huge
    assert transfer_interval(near_zero, "improvement")["joint_wise"] is None
    figures = transfer_figures({c: {"rot_rad": float(v.mean())} for c, v in rot.items()}, rot)
    assert set(figures) == {"gap_closed", "gap_closed_ci95", "improvement", "improvement_ci95"}
    assert format_figure(figures, "improvement", "joint_wise").startswith(f"{100 * point:+.0f} % [+")


def test_gap_closed_interval_contains_the_estimate_and_narrows_with_more_episodes():
    rng = np.random.default_rng(0)

    def episodes(n, shared=0.0):  # per-episode Rot scattered by 3 rad, as the oracle's are; `shared` of
        grasp = shared * rng.standard_normal(n)  # it comes from the episode's grasp, common to all conditions
        return {c: mean + grasp + 3.0 * rng.standard_normal(n) for c, mean in
                (("sim", 7.0), ("direct", 4.0), ("whole_hand", 3.5), ("joint_wise", 6.0))}

    few, many = episodes(10), episodes(400)
    for rot in (few, many):
        ci = gap_closed_interval(rot)
        point = (rot["joint_wise"].mean() - rot["direct"].mean()) / (rot["sim"].mean() - rot["direct"].mean())
        assert ci["joint_wise"][0] < point < ci["joint_wise"][1]
    width = {k: np.diff(gap_closed_interval(r)["joint_wise"])[0] for k, r in (("few", few), ("many", many))}
    assert width["many"] < width["few"] / 3
    # paired: a grasp that helps or hurts every condition alike does not widen the interval
    paired = episodes(100, shared=6.0)
    unpaired = {c: v[np.random.default_rng(i).permutation(100)] for i, (c, v) in enumerate(paired.items())}
    width = {k: np.diff(gap_closed_interval(r)["joint_wise"])[0] for k, r in (("paired", paired),
                                                                              ("unpaired", unpaired))}
    assert width["paired"] < width["unpaired"] / 2
    assert gap_closed_interval(many) == gap_closed_interval(many)  # seeded
    no_gap = {**many, "direct": many["sim"] + 1.0}
    assert gap_closed_interval(no_gap) == {"joint_wise": None, "whole_hand": None}
    barely = {**few, "direct": few["sim"][::-1] - 0.05}  # a 0.05 rad gap under 3 rad of noise: no interval
    assert gap_closed_interval(barely) == {"joint_wise": None, "whole_hand": None}
    with pytest.raises(ValueError, match="same episodes"):
        gap_closed_interval({**many, "sim": many["sim"][:5]})


def test_bad_gap_is_a_clear_error_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="neither a built-in"):
        run_pipeline("scripted", workdir=tmp_path / "run", size=TOY, gap="no_such_gap", object=OBJECT)
    with pytest.raises(ValueError, match="unknown residual form 'transformer'; allowed: gains, mlp"):
        run_pipeline("scripted", workdir=tmp_path / "run", size=TOY, residual="transformer", object=OBJECT)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["--gap", "no_such_gap"], "neither a built-in"),
    (["--port", "/dev/null"], "tracker"),
    (["--port", "/dev/null", "--tracker", "127.0.0.1:1", "--gap", "leap_xc330"], "a hand on --port has its own"),
    (["--tracker", "127.0.0.1:1"], "give port too"),
    (["--policy", "missing.zip"], "no policy checkpoint"),
    (["--quick", "--full"], None),
])
def test_bad_demo_input_is_a_clear_error(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        cli.main(["demo", "--policy", "scripted", "--workdir", str(tmp_path / "run"), *argv])
    if message is None:  # argparse: mutually exclusive
        assert "not allowed with" in capsys.readouterr().err
    else:
        assert message in str(e.value)
    assert not (tmp_path / "run").exists()


def test_demo_refuses_a_workdir_with_data(tmp_path):
    (tmp_path / "keep.txt").write_text("earlier results")
    with pytest.raises(SystemExit, match="not an empty directory"):
        cli.main(["demo", "--policy", "scripted", "--object", OBJECT, "--workdir", str(tmp_path)])
    assert (tmp_path / "keep.txt").read_text() == "earlier results"


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_last_stage_and_gives_the_same_result(warm_grasps, toy_run, monkeypatch,
                                                                                  caplog):
    """Stopped in the real models' fit (after six stages and all its data), the run goes on with
    resume=True: the finished stages are not run again, the data are not collected twice, the sim
    models are not fitted again, and the result is the uninterrupted run's; other arguments than the
    run's are refused."""
    import logging

    import baselines.pipeline as pipeline

    result, done = toy_run
    policy, workdir = str(done.parent / "gait.json"), done.parent / "resumed"
    kwargs = dict(workdir=workdir, size=TOY, object=OBJECT, wrist="palm_up", seed=0, progress=False)

    def stopped(*args, **kw):
        if kw.get("init") is not None and args[1] == "joint":  # the second real model's fine-tuning
            raise KeyboardInterrupt
        return fit(*args, **kw)

    with monkeypatch.context() as m:
        m.setattr(pipeline, "fit", stopped)
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(policy, **kwargs)
    with pytest.raises(FileExistsError, match="--resume to continue"):
        run_pipeline(policy, **kwargs)
    with pytest.raises(ValueError, match="started with other arguments: seed 0, now 1"):
        run_pipeline(policy, **{**kwargs, "seed": 1}, resume=True)
    caplog.set_level(logging.INFO, logger="baselines.pipeline")
    resumed = run_pipeline(policy, **kwargs, resume=True)
    for stage in STAGES[:6]:
        assert f"stage {stage}: done by an earlier part of this run" in caplog.text
    assert "stage fit_real: dynamics models" in caplog.text
    assert "whole_real.json: fitted by an earlier part of this run" in caplog.text
    assert len(EpisodeDataset(workdir / "data" / "real_box")) == TOY.box_episodes
    assert [r["rot_rad"] for r in resumed["rows"]] == [r["rot_rad"] for r in result["rows"]]
    assert resumed["improvement"] == result["improvement"]


def test_runs_share_what_they_have_in_common(warm_grasps, toy_run, caplog):
    """A run with another residual form takes over all but the residual and its evaluation from a finished
    run of the same task; a run on another hand takes over only the simulator's stages. What it takes
    over is linked and reads as its own; what follows is its own."""
    import logging

    result, done = toy_run
    policy, root = str(done.parent / "gait.json"), done.parent
    kwargs = dict(size=TOY, object=OBJECT, wrist="palm_up", seed=0, progress=False)
    caplog.set_level(logging.INFO, logger="baselines.pipeline")
    mlp = run_pipeline(policy, workdir=root / "mlp", residual="mlp", share=[done], **kwargs)
    assert mlp["taken_over"] == {"from": str(done), "stages": list(STAGES[:7])}
    assert "stage residual: residual corrections" in caplog.text and "stage fit_real: dynamics" not in caplog.text
    before, after = ({r["condition"]: r for r in run["rows"]} for run in (result, mlp))
    for condition in ("sim", "direct"):
        assert after[condition]["rot_rad"] == before[condition]["rot_rad"]
        assert after[condition]["report"] == str(root / "mlp" / "eval" / f"{condition}.json")
    assert mlp["residual"] == "mlp" and "gains" in result["models"]["joint"] and "gains" not in mlp["models"]["joint"]
    episode = next((done / "data" / "real_box").rglob("*.npz"))
    assert (root / "mlp" / episode.relative_to(done)).samefile(episode)
    assert not (root / "mlp" / "models" / "joint_residual.pt").samefile(done / "models" / "joint_residual.pt")

    other = run_pipeline(policy, workdir=root / "xc330", gap="leap_xc330", share=[done, root / "mlp"], **kwargs)
    assert other["taken_over"]["stages"] == list(STAGES[:4])
    assert EpisodeDataset(root / "xc330" / "data" / "real_box")[0]["meta"]["gap"] == "leap_xc330"
    assert other["data"]["real_box"]["path"] == str(root / "xc330" / "data" / "real_box")
    assert other["models"]["joint"]["sim_checkpoint"] == str(root / "xc330" / "models" / "joint_sim.pt")


def test_resume_needs_a_run_to_continue(tmp_path):
    (tmp_path / "keep.txt").write_text("earlier results")
    with pytest.raises(FileExistsError, match="holds no pipeline run to continue"):
        run_pipeline("scripted", workdir=tmp_path, size=TOY, object=OBJECT, resume=True)
    with pytest.raises(SystemExit, match="--resume continues the run in --workdir; name it"):
        cli.main(["demo", "--policy", "scripted", "--resume"])


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="box_episodes=1"):
        Sizes(eval_episodes=2, box_episodes=1, sim_box_episodes=2, policy_episodes=2)
    with pytest.raises(ValueError, match="unknown size"):
        run_pipeline("scripted", workdir="unused", size="huge")
