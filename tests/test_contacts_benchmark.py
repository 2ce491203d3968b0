"""Which parts of the hand touch the object: the env's ``touching_parts`` in both engines, and
benchmarks/contacts.py's phase profile of a policy."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from conftest import OBJECT, benchmark_script

from dexndm_envs.hand import HAND_PARTS, NUM_JOINTS
from dexndm_envs.interface import PRIVILEGED_LAYOUT

ROTATE = "DexNDM/LeapRotate-v0"


@pytest.mark.parametrize("engine", [{}, {"gap": "mujoco_ideal_pd"}], ids=["pybullet", "mujoco"])
def test_the_parts_touching_a_held_object_include_the_palm_and_every_touching_fingertips_finger(warm_grasps,
                                                                                                engine):
    env = gym.make(ROTATE, object=OBJECT, wrist="palm_up", obs_mode="privileged", **engine)
    try:
        env.reset(seed=0)
        obs, *_ = env.step(np.zeros(16, np.float32))
        parts = env.unwrapped.touching_parts()
        assert parts.shape == (len(HAND_PARTS),) and parts.dtype == bool
        assert parts[HAND_PARTS.index("palm")]  # palm up: the object rests on the palm
        tips = obs[PRIVILEGED_LAYOUT["fingertip_contacts"]] > 0.5
        assert np.all(parts[:4][tips])  # a touching fingertip is its finger touching
    finally:
        env.close()


@pytest.fixture(scope="module")
def contacts():
    return benchmark_script("contacts")


def test_the_phase_profile_folds_the_policys_own_rotation_by_the_gaits_phase(warm_grasps, contacts, tmp_path):
    """The profile's rates, weighted by their step counts, add up to the rotation evaluate() measures
    for the same episode; the period defaults to the gait's; shares are fractions of steps."""
    from baselines.evaluate import evaluate

    rng = np.random.default_rng(3)
    gait = tmp_path / "gait.json"
    gait.write_text(json.dumps({"period_steps": 12, **{k: rng.uniform(-0.2, 0.2, NUM_JOINTS).tolist()
                                                       for k in ("cos", "sin", "offset")}}))
    task = {"object": OBJECT, "wrist": "palm_up", "axis": "+z"}
    profile = contacts.phase_profile(str(gait), task, None, episodes=1, steps=30, seed=0)
    assert profile["period"] == 12 and profile["count"].sum() == 30 and list(profile["count"][:6]) == [3] * 6
    touch = profile["touch"]
    assert touch.shape == (12, len(HAND_PARTS)) and 0 <= touch.min() <= touch.max() <= 1
    rot = evaluate(ROTATE, task, str(gait), 1, steps=30, progress=False)["rot_rad"]
    assert (profile["rate"] * profile["count"]).sum() / 20 == pytest.approx(rot, abs=1e-9)
    assert contacts.phase_profile(str(gait), task, 5, episodes=1, steps=10, seed=0)["period"] == 5


def test_env_kwargs_apply_to_the_policies_after_them_and_a_bad_policy_is_named(contacts):
    argv = ["--policy", "a=x.json", "--env-kwargs", '{"gap": "mujoco_ideal_pd"}', "--policy=b=x.json"]
    assert contacts._policies(argv) == [("a", "x.json", {}), ("b", "x.json", {"gap": "mujoco_ideal_pd"})]
    with pytest.raises(ValueError, match="--policy takes NAME=SPEC .*got 'x.json'"):
        contacts._policies(["--policy", "x.json"])
