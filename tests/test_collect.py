"""``dexndm collect``: crash-safe, resumable data collection (sim, replay, policy, virtual hand)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import wait_for

from baselines import cli
from baselines.collect import CollectionStopped, collect
from baselines.episodes import env_factory, episode_seeds
from baselines.policy import PolicySource
from baselines.sources import ReplaySource, WaveSource
from dexndm_envs.dynamics.dataset import REQUIRED_META, EpisodeDataset, EpisodeWriter
from dexndm_envs.hand import LOWER_LIMITS, NUM_JOINTS, UPPER_LIMITS
from dexndm_envs.interface import ACTION_SCALE

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "baselines.cli", "collect"]
CHAOS = "DexNDM/LeapChaosBox-v0"
PALM_DOWN = json.dumps({"wrist": "palm_down"})


# -- helpers --------------------------------------------------------------------------------------------
def episode_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("episode_*.npz"))


def tmp_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.endswith(".tmp"))


def index_files(path: Path) -> list[str]:
    return [e["file"] for e in json.loads((path / "index.json").read_text())["episodes"]]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], check=False, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=timeout)


def _default_sigint() -> None:
    # A child of a shell job may start with SIGINT ignored; Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(log: Path, *args: str) -> subprocess.Popen:
    """Start ``dexndm collect`` in the background with stdout and stderr (tqdm's bar) into ``log``."""
    with open(log, "wb") as f:
        return subprocess.Popen([*CLI, *args], cwd=ROOT, env=dict(os.environ), stdout=f, stderr=subprocess.STDOUT,
                                preexec_fn=_default_sigint)  # noqa: PLW1509 (no threads start children here)


def check_dataset(path: Path, n: int, meta: dict, steps: int | None = None) -> EpisodeDataset:
    """``path`` holds exactly ``n`` valid episodes 0..n-1, all listed in the index, no temporary files,
    each with the complete metadata and ``meta``'s values."""
    assert episode_files(path) == [f"episode_{i:06d}.npz" for i in range(n)]
    assert index_files(path) == episode_files(path)
    assert tmp_files(path) == []
    ds = EpisodeDataset(path)
    assert len(ds) == n
    for i, ep in enumerate(ds):
        m = ep["meta"]
        assert set(REQUIRED_META) <= set(m)
        assert {"seed", "episode", "env", "env_kwargs", "bus_retries"} <= set(m)
        assert m["episode"] == i and m["joint_order"] == "motor" and not m.get("faulty", False)
        for key, value in meta.items():
            assert m[key] == value, (i, key, m[key], value)
        if steps is not None:
            assert ep["targets"].shape == (steps, NUM_JOINTS) and ep["actions"].shape == (steps, NUM_JOINTS)
        assert np.all(np.abs(ep["actions"]) <= 1.0)
    return ds


SIM_META = {"source": "sim", "wrist": "palm_down", "object": "chaos_box", "gap": None, "policy": "waves_mixed",
            "control_period_s": 0.05, "seed": 0, "env": CHAOS}


# -- crash safety ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_mid_episode_then_resume_gives_exactly_the_requested_episodes(tmp_path):
    out, log = tmp_path / "data", tmp_path / "killed.log"
    done = run_cli("--waves", "--episodes", "3", "--steps", "40", "--out", str(out), "--env-kwargs", PALM_DOWN)
    assert done.returncode == 0, done.stderr
    assert "3 episodes (120 transitions, 0 faulty)" in done.stdout
    assert episode_files(out) == [f"episode_{i:06d}.npz" for i in range(3)]

    # The killed run's 4th episode (index 3) is 2000 steps long (several seconds), so the kill lands in
    # the middle of it: the run is past start-up once tqdm's bar is out.
    long_kwargs = json.dumps({"wrist": "palm_down", "max_episode_steps": 2000})
    proc = start_cli(log, "--waves", "--episodes", "5", "--steps", "2000", "--resume", "--out", str(out),
                     "--env-kwargs", long_kwargs)
    try:
        wait_for(lambda: b"collect waves_mixed" in log.read_bytes(), 60, proc, "the progress bar")
        time.sleep(0.3)
        assert proc.poll() is None
        assert episode_files(out) == [f"episode_{i:06d}.npz" for i in range(3)], "the 4th episode was finished"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert episode_files(out) == [f"episode_{i:06d}.npz" for i in range(3)]
    assert len(EpisodeDataset(out)) == 3
    # As if a crash had also hit a write: a stray temporary file, which the next writer removes.
    (out / ".episode_000003.npz.tmp").write_bytes(b"PK\x03\x04 half a file")

    resumed = run_cli("--waves", "--episodes", "5", "--steps", "40", "--resume", "--out", str(out),
                      "--env-kwargs", PALM_DOWN)
    assert resumed.returncode == 0, resumed.stderr
    assert "5 episodes (200 transitions, 0 faulty)" in resumed.stdout
    assert "this run: 80 transitions" in resumed.stdout
    check_dataset(out, 5, {**SIM_META, "env_kwargs": {"wrist": "palm_down"}}, steps=40)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_with_the_finished_episodes_intact(tmp_path, sig):
    out, log = tmp_path / "data", tmp_path / "run.log"
    proc = start_cli(log, "--waves", "--episodes", "1000", "--steps", "40", "--out", str(out),
                     "--env-kwargs", PALM_DOWN)
    try:
        wait_for(lambda: (out / "episode_000001.npz").exists(), 60, proc, "two finished episodes")
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert rc == 1, text
    match = re.search(r"dexndm collect: interrupted; (\d+) finished episodes are on disk in (\S+) "
                      r"\(the one in progress was dropped\); --resume continues", text)
    assert match, text
    assert "Traceback" not in text
    n = int(match.group(1))
    assert 2 <= n < 1000 and match.group(2) == str(out)
    check_dataset(out, n, {**SIM_META, "env_kwargs": {"wrist": "palm_down"}}, steps=40)


def test_a_non_empty_directory_needs_resume(tmp_path):
    out = tmp_path / "data"
    make, meta, _ = env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)
    collect(make, WaveSource(), 1, out, meta, steps=5, progress=False)
    before = (out / "episode_000000.npz").read_bytes()
    with pytest.raises(SystemExit) as err:
        cli.main(["collect", "--waves", "--episodes", "2", "--steps", "5", "--out", str(out)])
    message = str(err.value.code)
    assert message.startswith("dexndm collect: error:") and "--resume" in message and "1 episodes" in message
    assert episode_files(out) == ["episode_000000.npz"] and (out / "episode_000000.npz").read_bytes() == before
    with pytest.raises(FileExistsError, match="resume"):
        collect(make, WaveSource(), 2, out, meta, steps=5, progress=False)
    # with --resume it goes on
    cli.main(["collect", "--waves", "--episodes", "2", "--steps", "5", "--out", str(out), "--resume",
              "--env-kwargs", json.dumps({"wrist": "palm_up", "balls": 0})])
    assert len(EpisodeDataset(out)) == 2


def test_resume_does_nothing_when_the_directory_is_complete(tmp_path):
    make, meta, _ = env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)
    collect(make, WaveSource(), 2, tmp_path, meta, steps=5, progress=False)
    result = collect(make, WaveSource(), 2, tmp_path, meta, steps=5, progress=False, resume=True)
    assert result["episodes"] == 2 and result["new_transitions"] == 0 and result["transitions"] == 10


# -- resume equivalence -----------------------------------------------------------------------------------
def collect_arrays(path: Path, kwargs: dict, plan: list[int], seed: int = 0) -> list[dict]:
    """Collect with the given stops (e.g. [2, 4]: 2 episodes, then --resume to 4); returns the episodes."""
    make, meta, _ = env_factory(CHAOS, kwargs, None)
    for i, episodes in enumerate(plan):
        collect(make, WaveSource(), episodes, path, meta, seed=seed, steps=40, resume=i > 0, progress=False)
    return list(EpisodeDataset(path))


def assert_same_episodes(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for key in ("q", "targets", "actions", "timestamps"):
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)
        assert x["meta"] == y["meta"]


@pytest.mark.parametrize("kwargs", [
    {"wrist": "palm_up"},
    {"wrist": "palm_down", "balls": 0},
    {"wrist": "palm_down"},
], ids=["palm_up_strapped", "palm_down_empty", "palm_down_balls"])
def test_resume_gives_the_same_episodes_as_one_run(tmp_path, kwargs):
    one = collect_arrays(tmp_path / "one", kwargs, [4])
    two = collect_arrays(tmp_path / "two", kwargs, [2, 4])
    assert_same_episodes(one, two)


def test_another_seed_gives_other_data(tmp_path):
    kwargs = {"wrist": "palm_up"}
    a = collect_arrays(tmp_path / "a", kwargs, [2], seed=0)
    b = collect_arrays(tmp_path / "b", kwargs, [2], seed=1)
    assert [ep["meta"]["seed"] for ep in a] == [0, 0] and [ep["meta"]["seed"] for ep in b] == [1, 1]
    for x, y in zip(a, b):
        assert not np.array_equal(x["actions"], y["actions"])
        assert not np.array_equal(x["q"], y["q"])
    assert not np.array_equal(a[0]["actions"], a[1]["actions"])  # and episodes of one seed differ


def test_episode_seeds_depend_on_seed_and_index_only():
    s1, r1 = episode_seeds(3, 7)
    s2, r2 = episode_seeds(3, 7)
    assert s1 == s2 and np.array_equal(r1.random(5), r2.random(5))
    assert len({episode_seeds(3, i)[0] for i in range(50)} | {episode_seeds(4, i)[0] for i in range(50)}) == 100


# -- ReplaySource -----------------------------------------------------------------------------------------
ROLLOUT_META = {"source": "sim", "object": "cylinder", "gap": None, "policy": "ppo", "control_period_s": 0.05}


def write_rollouts(path: Path, lengths: list[int], wrist: str = "palm_down", tag: float = 0.0,
                   actions=True, fill=None) -> list[dict]:
    """Rollout episodes (targets inside the joint limits) whose action rows are unique: column 0 codes
    the episode, column 1 the step. Returns each one's float32 ``actions`` and ``targets``."""
    writer = EpisodeWriter(path)
    rng = np.random.default_rng(len(lengths))
    rollouts = []
    for r, n in enumerate(lengths):
        if fill is None:
            a = rng.uniform(-0.9, 0.9, (n, NUM_JOINTS)).astype(np.float32)
            a[:, 0] = tag + r / 10
            a[:, 1] = np.arange(n) / 1000
        else:
            a = np.full((n, NUM_JOINTS), fill, np.float32)
        q = rng.uniform(LOWER_LIMITS + 0.1, UPPER_LIMITS - 0.1, (n + 1, NUM_JOINTS))
        writer.write(q, q[1:], np.arange(n + 1) * 0.05, {**ROLLOUT_META, "wrist": wrist},
                     actions=a if actions else None)
        rollouts.append({"actions": a, "targets": q[1:].astype(np.float32)})
    return rollouts


def segments(actions: np.ndarray, rollouts: list[dict]) -> list[tuple[int, int, int]]:
    """Split a replayed action sequence into (rollout, start, length) runs of the rollouts' actions;
    fails unless it is such a concatenation, each run cut only by its rollout's end (or the episode's)."""
    sequences = [r["actions"] for r in rollouts]
    rows = {seq[t].tobytes(): (r, t) for r, seq in enumerate(sequences) for t in range(len(seq))}
    out, pos = [], 0
    while pos < len(actions):
        assert actions[pos].tobytes() in rows, f"action {pos} is not a rollout's action"
        r, t = rows[actions[pos].tobytes()]
        n = min(len(sequences[r]) - t, len(actions) - pos)
        np.testing.assert_array_equal(actions[pos:pos + n], sequences[r][t:t + n])
        out.append((r, t, n))
        pos += n
    return out


def target_before(rollout: dict, t: int) -> np.ndarray:
    """The joint target in effect before a rollout's action ``t``."""
    return np.clip(rollout["targets"][t].astype(np.float64) - rollout["actions"][t] * ACTION_SCALE,
                   LOWER_LIMITS, UPPER_LIMITS)


def test_replay_without_noise_replays_runs_of_rollout_actions(tmp_path):
    rollouts = write_rollouts(tmp_path / "a", [12, 60, 35])
    write_rollouts(tmp_path / "b", [80], wrist="palm_up", tag=0.5)  # never replayed for palm_down
    source = ReplaySource([tmp_path / "a", tmp_path / "b"], "palm_down", steps=50, noise_prob=0.0)
    assert source.name == "replay" and len(source.sequences) == 3
    used, long_starts, multi = set(), set(), 0
    for i in range(60):
        source.reset(episode_seeds(0, i)[1])
        assert source.actions.shape == (50, NUM_JOINTS) and source.actions.dtype == np.float32
        assert source.episode_meta == {"action_noise_std": 0.0} and not source.noisy
        parts = segments(source.actions, rollouts)
        used |= {r for r, _, _ in parts}
        (r, t, n), rest = parts[0], parts[1:]
        if len(rollouts[r]["actions"]) >= 50:  # a long enough rollout: one window of 50 actions in it
            assert n == 50 and not rest
            long_starts.add(t)
        else:  # shorter ones: whole rollouts, concatenated (the last one cut at 50)
            multi += 1
            assert all(start == 0 for _, start, _ in parts) and rest
        # the episode starts from the target the rollout had before its first replayed action
        np.testing.assert_allclose(source.reset_options["target"], target_before(rollouts[r], t), atol=1e-6)
        replayed = np.array([source(None) for _ in range(50)])
        np.testing.assert_array_equal(replayed, source.actions)
        np.testing.assert_array_equal(source(None), source.actions[-1])  # past the end: the last one
    assert used == {0, 1, 2}, "every palm_down rollout gets replayed"
    assert long_starts <= set(range(11)) and len(long_starts) >= 6, "windows start anywhere that leaves 50"
    assert multi > 10


def test_replay_is_seeded(tmp_path):
    write_rollouts(tmp_path, [30, 40])
    a, b = ReplaySource(tmp_path, "palm_down", steps=25), ReplaySource(tmp_path, "palm_down", steps=25)
    a.reset(np.random.default_rng(5))
    b.reset(np.random.default_rng(5))
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.reset_options["target"], b.reset_options["target"])


def test_replay_noise_has_std_0_01(tmp_path):
    write_rollouts(tmp_path, [100, 80], fill=0.3)
    source = ReplaySource(tmp_path, "palm_down", steps=400, noise_prob=1.0)
    noise = []
    for i in range(3):
        source.reset(episode_seeds(1, i)[1])
        assert source.noisy and source.episode_meta == {"action_noise_std": 0.01}
        noise.append(source.actions.astype(np.float64) - 0.3)
    noise = np.concatenate(noise)
    assert abs(noise.mean()) < 0.001
    assert 0.0095 < noise.std() < 0.0105, noise.std()
    assert not np.array_equal(noise[:400], noise[400:800])  # fresh noise per episode


def test_replay_noise_is_drawn_per_episode_about_half_the_time(tmp_path):
    write_rollouts(tmp_path, [40], fill=-0.2)
    source = ReplaySource(tmp_path, "palm_down", steps=20)
    noisy = []
    for i in range(200):
        source.reset(episode_seeds(0, i)[1])
        noisy.append(source.noisy)
        if source.noisy:
            assert source.episode_meta["action_noise_std"] == 0.01
            assert (source.actions != np.float32(-0.2)).all()  # every action of the episode
        else:
            assert source.episode_meta["action_noise_std"] == 0.0
            assert (source.actions == np.float32(-0.2)).all()
    assert 0.35 < np.mean(noisy) < 0.65, np.mean(noisy)


def test_replay_refuses_rollouts_without_actions_or_for_another_wrist(tmp_path):
    write_rollouts(tmp_path / "plain", [10], actions=False)
    with pytest.raises(ValueError, match="recorded with actions"):
        ReplaySource(tmp_path / "plain", "palm_down")
    write_rollouts(tmp_path / "up", [10], wrist="palm_up")
    write_rollouts(tmp_path / "side", [10], wrist="thumb_up")
    with pytest.raises(ValueError, match="'palm_down'") as err:
        ReplaySource([tmp_path / "up", tmp_path / "side"], "palm_down")
    assert "['palm_up', 'thumb_up']" in str(err.value)


def test_collect_replays_rollouts_through_the_cli(tmp_path):
    rollouts = write_rollouts(tmp_path / "rollouts", [30, 15])
    out = tmp_path / "data"
    cli.main(["collect", "--rollouts", str(tmp_path / "rollouts"), "--episodes", "6", "--steps", "20",
              "--out", str(out), "--seed", "3"])
    ds = check_dataset(out, 6, {**SIM_META, "policy": "replay", "seed": 3}, steps=20)
    noise = [ep["meta"]["action_noise_std"] for ep in ds]
    assert set(noise) == {0.0, 0.01}  # seed 3: 2 clean, 4 noisy episodes
    for ep in ds:
        if ep["meta"]["action_noise_std"] == 0.0:
            # the recorded actions are the replayed rollout actions, and the episode started from the
            # rollout's target, so the first executed target is the rollout's
            (r, t, _), *_ = segments(ep["actions"], rollouts)
            np.testing.assert_allclose(ep["targets"][0], rollouts[r]["targets"][t], atol=1e-5)
        else:  # noisy: still near the rollouts' (column 0 codes the rollout: 0.0 or 0.1)
            assert np.abs(ep["actions"][:, 0] - np.round(ep["actions"][:, 0], 1)).max() < 0.05


# -- PolicySource -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_ppo(tmp_path_factory, one_torch_thread):
    from stable_baselines3 import PPO

    path = tmp_path_factory.mktemp("policy") / "tiny_ppo.zip"
    env = gym.make(CHAOS, wrist="palm_up", balls=0)
    try:
        model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu",
                    policy_kwargs={"net_arch": [16]})
        model.learn(total_timesteps=64)
        model.save(path)
    finally:
        env.close()
    return path


def test_collect_with_a_policy_checkpoint_through_the_cli(tmp_path, tiny_ppo):
    out = tmp_path / "data"
    done = run_cli("--policy", str(tiny_ppo), "--episodes", "1", "--steps", "8", "--out", str(out),
                   "--env-kwargs", json.dumps({"wrist": "palm_up"}))
    assert done.returncode == 0, done.stderr
    ds = check_dataset(out, 1, {"source": "sim", "wrist": "palm_up", "object": "chaos_box", "gap": None,
                                "policy": "policy:tiny_ppo.zip", "seed": 0}, steps=8)
    # the recorded actions are the deterministic policy's on the recorded observations
    policy, env = PolicySource(tiny_ppo), gym.make(CHAOS, wrist="palm_up")
    try:
        obs, _ = env.reset(seed=episode_seeds(0, 0)[0])
        for action in ds[0]["actions"]:
            np.testing.assert_allclose(policy(obs), action, atol=1e-6)
            obs, *_ = env.step(action)
    finally:
        env.close()


def test_policy_source_uses_vecnormalize_beside_it(tmp_path, tiny_ppo):
    import shutil

    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    path = tmp_path / "model.zip"
    shutil.copy(tiny_ppo, path)
    plain = PolicySource(path)
    vec = VecNormalize(DummyVecEnv([lambda: gym.make(CHAOS, wrist="palm_up", balls=0)]))
    vec.obs_rms.mean[:] = 0.5
    vec.obs_rms.var[:] = 4.0
    vec.save(path.with_name("vecnormalize.pkl"))
    vec.close()
    normed = PolicySource(path)
    assert normed.obs_rms is not None and plain.obs_rms is None
    obs = np.random.default_rng(0).uniform(-1, 1, 327).astype(np.float32)
    expected = plain(np.clip((obs - 0.5) / np.sqrt(4.0 + normed.eps), -normed.clip, normed.clip).astype(np.float32))
    np.testing.assert_allclose(normed(obs), expected, atol=1e-6)
    with pytest.raises(ValueError, match="no policy checkpoint"):
        PolicySource(tmp_path / "missing.zip")
    with pytest.raises(ValueError, match="unknown algorithm"):
        PolicySource(path, algo="dqn")


# -- the virtual hand ---------------------------------------------------------------------------------------
def torque_is_off(vh, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(vh.bus.tables[i].get("torque_enable") == 0 for i in range(NUM_JOINTS)):
            return True
        time.sleep(0.01)
    return False


def test_collect_on_the_virtual_chaos_box(tmp_path):
    from real.bus import BusError
    from real.emulator.virtual_hand import VirtualHand

    with VirtualHand(scene="chaos_box", wrist="palm_down") as vh:
        make, meta, faults = env_factory("DexNDM/LeapRotateReal-v0", {"wrist": "palm_down"}, vh.port)
        assert faults == (BusError,) and meta["source"] == "real" and "port" not in meta["env_kwargs"]
        result = collect(make, WaveSource(), 3, tmp_path, {**meta, "source": "emulator"}, steps=20,
                         faults=faults, progress=False)
        assert result["episodes"] == 3 and result["faulty_episodes"] == 0 and result["transitions"] == 60
        assert torque_is_off(vh), "closing the env switches the torque off"
    ds = check_dataset(tmp_path, 3, {"source": "emulator", "wrist": "palm_down", "gap": None, "policy": "waves_mixed",
                                     "env": "DexNDM/LeapRotateReal-v0"}, steps=20)
    for ep in ds:
        assert "faulty" not in ep["meta"]
        # retried reads are counted (a busy machine can make the emulator answer late), none failed
        assert isinstance(ep["meta"]["bus_retries"], int) and ep["meta"]["bus_retries"] >= 0
        periods = np.diff(ep["timestamps"])
        assert ep["timestamps"][0] == 0.0 and (periods > 0).all()
        assert np.median(periods) > 0.04, periods  # 20 Hz, measured (slower only on a busy machine)
        assert np.ptp(ep["q"], axis=0).max() > 0.02, "the hand moved"


@pytest.mark.slow
def test_kill_9_and_resume_through_the_emulator(tmp_path):
    """The crash test on the byte-level path: `dexndm emulate --scene chaos_box` in one process,
    `dexndm collect` on its port in another, killed with SIGKILL in its 4th episode, then resumed."""
    emulator = subprocess.Popen([sys.executable, "-m", "baselines.cli", "emulate", "--scene", "chaos_box",
                                 "--wrist", "palm_down"], cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                                text=True)
    out, log = tmp_path / "data", tmp_path / "killed.log"
    try:
        port = emulator.stdout.readline().strip().split(": ", 1)[1]
        real = ["--env", "DexNDM/LeapRotateReal-v0", "--port", port, "--env-kwargs", PALM_DOWN,
                "--source-label", "emulator", "--object-label", "chaos_box", "--waves", "--out", str(out)]
        done = run_cli(*real, "--episodes", "3", "--steps", "10")
        assert done.returncode == 0, done.stderr
        # the 4th episode lasts 60 steps = 3 s at the hand's 20 Hz: the kill lands inside it
        proc = start_cli(log, *real, "--episodes", "5", "--steps", "60", "--resume")
        try:
            wait_for(lambda: b"collect waves_mixed" in log.read_bytes(), 60, proc, "the progress bar")
            time.sleep(1.0)
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert episode_files(out) == [f"episode_{i:06d}.npz" for i in range(3)], "no 4th episode, not half of one"
        resumed = run_cli(*real, "--episodes", "5", "--steps", "10", "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert "5 episodes (50 transitions, 0 faulty)" in resumed.stdout
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=10)
    ds = check_dataset(out, 5, {"source": "emulator", "object": "chaos_box", "wrist": "palm_down",
                                "env": "DexNDM/LeapRotateReal-v0", "control_period_s": 0.05}, steps=10)
    for ep in ds:
        assert (np.diff(ep["timestamps"]) > 0).all()


def test_a_persistent_overload_marks_the_episode_faulty_and_stops(tmp_path):
    from real.emulator.virtual_hand import VirtualHand

    with VirtualHand(scene="chaos_box", wrist="palm_down", faults="overload=3@2.0") as vh:
        make, meta, faults = env_factory("DexNDM/LeapRotateReal-v0", {"wrist": "palm_down"}, vh.port)
        # Each episode is 1 s: the overload 2 s after start hits episode 1 or 2, never episode 0.
        # It persists (no reboot), so reopening the hand fails too and the collection stops; the
        # message names the motor and the fault.
        with pytest.raises(CollectionStopped, match="motor 3: overload"):
            collect(make, WaveSource(), 8, tmp_path, meta, steps=20, faults=faults, max_faults=2, progress=False)
        assert torque_is_off(vh)
    ds = EpisodeDataset(tmp_path)
    assert len(EpisodeDataset(tmp_path, include_faulty=False)) == len(ds) - 1 >= 1
    *good, bad = list(ds)
    for i, ep in enumerate(good):
        assert ep["meta"]["episode"] == i and "faulty" not in ep["meta"] and len(ep["targets"]) == 20
    assert bad["meta"]["faulty"] is True and bad["meta"]["episode"] == len(good)
    assert re.fullmatch(r"BusError: hardware error \(motor 3: overload\).*", bad["meta"]["fault"])
    assert 1 <= len(bad["targets"]) < 20
    assert json.loads((tmp_path / "index.json").read_text())["episodes"][-1]["faulty"] is True


# -- faults, without hardware -------------------------------------------------------------------------------
class FakeBusError(Exception):
    pass


class FailingAt(gym.Wrapper):
    """Raises FakeBusError at step ``at`` of every episode of the episodes in ``failing`` (None: all)."""

    def __init__(self, env, at: int, failing, counter: dict):
        super().__init__(env)
        self.at, self.failing, self.counter = at, failing, counter

    def reset(self, **kwargs):
        self.t = 0
        self.counter["episode"] += 1
        return self.env.reset(**kwargs)

    def step(self, action):
        self.t += 1
        if self.t == self.at and (self.failing is None or self.counter["episode"] in self.failing):
            raise FakeBusError("motor 3: overload")
        return self.env.step(action)


def test_max_faults_consecutive_faulty_episodes_stop_the_collection(tmp_path):
    counter, opened = {"episode": -1}, []

    def make():
        opened.append(1)
        return FailingAt(gym.make(CHAOS, wrist="palm_up", balls=0), at=4, failing={1, 3, 4, 5, 6}, counter=counter)

    meta = {**env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)[1], "source": "emulator"}
    with pytest.raises(RuntimeError, match=r"3 episodes in a row ended with a fault \(last: FakeBusError: motor 3"):
        collect(make, WaveSource(), 10, tmp_path, meta, steps=10, faults=(FakeBusError,), max_faults=3,
                progress=False)
    ds = EpisodeDataset(tmp_path)
    faulty = [bool(ep["meta"].get("faulty")) for ep in ds]
    assert faulty == [False, True, False, True, True, True]  # episode 2 reset the count
    assert [len(ep["targets"]) for ep in ds] == [10, 3, 10, 3, 3, 3]
    assert len(opened) == 1 + 3, "the env is made again after every faulty episode except the last"
    assert len(EpisodeDataset(tmp_path, include_faulty=False)) == 2


def test_a_fault_on_the_first_step_writes_nothing_but_counts(tmp_path):
    counter = {"episode": -1}

    def make():
        return FailingAt(gym.make(CHAOS, wrist="palm_up", balls=0), at=1, failing={1}, counter=counter)

    meta = env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)[1]
    collect(make, WaveSource(), 3, tmp_path, meta, steps=5, faults=(FakeBusError,), progress=False)
    # the first try at episode 1 had no step to keep (a file needs T >= 1): it is tried again with the
    # same index and seeds, so the directory ends with the 3 episodes asked for
    assert [ep["meta"]["episode"] for ep in EpisodeDataset(tmp_path)] == [0, 1, 2]


def test_a_hand_that_cannot_be_reopened_counts_towards_max_faults(tmp_path):
    counter, made = {"episode": -1}, []

    def make():
        made.append(1)
        if len(made) > 1:
            raise FakeBusError("hardware error (motor 3: overload); torque switched off, reboot the motor(s)")
        return FailingAt(gym.make(CHAOS, wrist="palm_up", balls=0), at=4, failing={1}, counter=counter)

    meta = env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)[1]
    with pytest.raises(RuntimeError, match="in a row"):
        collect(make, WaveSource(), 10, tmp_path, meta, steps=10, faults=(FakeBusError,), max_faults=2,
                progress=False)


# -- CLI errors ---------------------------------------------------------------------------------------------
def test_unknown_env_and_port_with_a_sim_env_are_clear_errors(tmp_path):
    out = tmp_path / "data"
    with pytest.raises(SystemExit) as err:
        cli.main(["collect", "--env", "Foo/Bar-v0", "--waves", "--episodes", "1", "--out", str(out)])
    assert str(err.value.code).startswith("dexndm collect: error:") and "Foo" in str(err.value.code)
    with pytest.raises(SystemExit) as err:
        cli.main(["collect", "--port", "/dev/ttyUSB0", "--waves", "--episodes", "1", "--out", str(out)])
    assert ("--port is for DexNDM/LeapRotateReal-v0 (a real or virtual hand), not DexNDM/LeapChaosBox-v0"
            in str(err.value.code))
    with pytest.raises(SystemExit) as err:
        cli.main(["collect", "--env-kwargs", "[1]", "--waves", "--episodes", "1", "--out", str(out)])
    assert "--env-kwargs must be a JSON object" in str(err.value.code)
    assert not out.exists(), "nothing is created for a refused command"


def test_the_cli_runs_as_a_module_and_reports_errors_without_a_traceback(tmp_path):
    done = run_cli("--env", "Foo/Bar-v0", "--waves", "--episodes", "1", "--out", str(tmp_path / "x"))
    assert done.returncode == 1
    assert "dexndm collect: error: Namespace Foo not found" in done.stderr and "Traceback" not in done.stderr
    # a source is required
    done = run_cli("--episodes", "1", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "one of the arguments --rollouts --waves --policy is required" in done.stderr


def test_nonsense_sizes_are_clear_errors_not_endless_loops(tmp_path):
    meta = env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)[1]
    for steps, episodes in ((0, 2), (-5, 2), (10, -1)):
        with pytest.raises(ValueError, match="steps must be >= 1"):
            collect(lambda: gym.make(CHAOS, wrist="palm_up", balls=0), WaveSource(), episodes, tmp_path, meta,
                    steps=steps, progress=False)


def test_a_fault_at_reset_counts_like_one_during_the_episode(tmp_path):
    class FailingReset(gym.Wrapper):
        def reset(self, **kwargs):
            raise FakeBusError("motor 7: no status packet")

    meta = env_factory(CHAOS, {"wrist": "palm_up", "balls": 0}, None)[1]
    with pytest.raises(CollectionStopped, match="motor 7"):
        collect(lambda: FailingReset(gym.make(CHAOS, wrist="palm_up", balls=0)), WaveSource(), 2, tmp_path, meta,
                steps=5, faults=(FakeBusError,), max_faults=2, progress=False)
    assert not list(tmp_path.glob("episode_*.npz"))
