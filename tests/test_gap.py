"""Reality-gap profiles and the Dynamixel XC330 actuator model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import OBJECT, make_env

from dexndm_envs.actuators import TORQUE_CONSTANT, DynamixelXC330, IdealPD, make_actuator
from dexndm_envs.gap import DEFAULT_HAND, builtin_gaps, load_gap
from dexndm_envs.hand import NUM_JOINTS, SIDE_JOINTS, TICKS_PER_RAD

ZERO = np.zeros(NUM_JOINTS)


def xc330(**kwargs) -> DynamixelXC330:
    defaults = dict(latency_s=0.0, backlash_rad=0.0, coulomb_friction_nm=0.0, viscous_friction_nms=0.0)
    act = DynamixelXC330(**{**defaults, **kwargs})
    act.reset(ZERO, rng=np.random.default_rng(0))
    return act


# -- profiles -----------------------------------------------------------------------------------------------
def test_builtin_profile_loads():
    assert "leap_xc330" in builtin_gaps()
    gap = load_gap("leap_xc330")
    assert gap.actuator == "xc330" and gap.kp == 800 and gap.kd == 200 and gap.goal_current_ma == 350
    assert isinstance(gap.make_actuator(), DynamixelXC330)
    assert gap.object_params(0.03, 1.0) == pytest.approx((0.03 * gap.object_mass_scale, gap.object_friction_scale))


def test_the_second_builtin_is_another_hand_on_the_same_driver_settings():
    """leap_xc330_worn (the sim-to-real benchmark's untuned check) keeps the registers the LEAP driver
    writes (so the emulator, whose driver sets them, agrees with the in-process env) and differs elsewhere."""
    base, worn = load_gap("leap_xc330"), load_gap("leap_xc330_worn")
    assert {"leap_xc330", "leap_xc330_worn"} <= set(builtin_gaps())
    assert (worn.kp, worn.kd, worn.goal_current_ma) == (base.kp, base.kd, base.goal_current_ma)
    assert worn.latency_s > base.latency_s and worn.backlash_rad > base.backlash_rad
    assert isinstance(worn.make_actuator(), DynamixelXC330)


def _write(tmp_path, **changes) -> str:
    data = json.loads((load_gap.__globals__["BUILTIN_DIR"] / "leap_xc330.json").read_text())
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_profile_from_a_path_with_the_ideal_actuator(tmp_path):
    gap = load_gap(_write(tmp_path, actuator="ideal_pd", kp=2.0, kd=0.05, goal_current_ma=500))
    act = gap.make_actuator()
    assert isinstance(act, IdealPD)
    assert act.torque_limit == pytest.approx(TORQUE_CONSTANT * 0.5)


@pytest.mark.parametrize("changes, message", [
    ({"stiction": 0.1}, "unknown keys ['stiction']"),
    ({"latency_s": None}, "missing keys ['latency_s']"),
    ({"backlash_rad": -0.01}, "backlash_rad must be a finite number >= 0"),
    ({"kp": "high"}, "kp must be a finite number"),
    ({"goal_current_ma": 0}, "goal_current_ma must be > 0"),
    ({"actuator": "xm430"}, "actuator 'xm430' is not one of"),
    ({"pd_units": "amps"}, "pd_units must be one of register, current, got 'amps'"),
    ({"torque_constant_nm_per_a": 0}, "torque_constant_nm_per_a must be > 0"),
    ({"torque_constant_nm_per_a": True}, "torque_constant_nm_per_a must be a finite number"),
    ({"side_gain_scale": 0}, "side_gain_scale must be > 0"),
    ({"side_gain_scale": 1.5}, "side_gain_scale must be in (0, 1]"),
    ({"stiffness_scale": [1.0, 1.2]}, "stiffness_scale must be a number >= 0 or 16 of them in motor order; "
                                      "got [1.0, 1.2]"),
    ({"damping_scale": -0.5}, "damping_scale must be a number >= 0 or 16 of them"),
    ({"damping_scale": "soft"}, "damping_scale must be a number >= 0 or 16 of them"),
    ({"latency_s": [0.1, 0.0]}, "latency_s must be a number >= 0 (s) or a range [min, max] with 0 <= min <= max; "
                                "got [0.1, 0.0]"),
    ({"latency_s": [0.0, 0.05, 0.1]}, "latency_s must be a number >= 0 (s) or a range [min, max]"),
    ({"latency_s": -0.01}, "latency_s must be a number >= 0 (s) or a range [min, max]"),
    ({"latency_s": [0.0, True]}, "latency_s must be a number >= 0 (s) or a range [min, max]"),
    ({"simulator": "bullet"}, "simulator must be one of pybullet, mujoco, got 'bullet'"),
    ({"extends": 3}, "extends must name another profile"),
    ({"extends": "no_such_hand"}, "extends 'no_such_hand': gap profile"),
])
def test_bad_profiles_name_the_problem(tmp_path, changes, message):
    with pytest.raises(ValueError, match="profile .*profile.json") as err:
        load_gap(_write(tmp_path, **changes))
    assert message in str(err.value)


def test_the_identified_hand_reads_the_registers_in_current_units_and_cites_its_sources():
    sysid, register = load_gap("leap_sysid"), load_gap("leap_xc330")
    assert "leap_sysid" in builtin_gaps() and DEFAULT_HAND == "leap_sysid"
    assert (sysid.pd_units, register.pd_units, load_gap("leap_xc330_worn").pd_units) == ("current", "register",
                                                                                         "register")
    assert (sysid.kp, sysid.kd) == (register.kp, register.kd) == (800, 200)  # the same registers, read two ways
    assert "in-hand-rotation-mjlab" in sysid.description and "leap_right_constants.py" in sysid.description
    assert sysid.latency_s == 0.05 and sysid.side_gain_scale == 0.75 and sysid.goal_current_ma == 550
    stiffness, damping = sysid.make_actuator().pd_gains()
    side = np.isin(np.arange(NUM_JOINTS), SIDE_JOINTS)
    # 800 mA/rad x 1.35 x 0.53 N m/A (0.57 N m/rad) and 200 mA s/rad x 0.8 x 0.53 N m/A; side joints at 0.75
    assert stiffness == pytest.approx(np.where(side, 0.75, 1.0) * 800e-3 * 1.35 * 0.53)
    assert damping == pytest.approx(np.where(side, 0.75, 1.0) * 200e-3 * 0.8 * 0.53)
    reg_stiffness, reg_damping = register.make_actuator().pd_gains()  # the register reading of the same values
    assert reg_stiffness == pytest.approx(np.full(NUM_JOINTS, 800 / 128 * TICKS_PER_RAD * TORQUE_CONSTANT / 1000))
    assert reg_damping == pytest.approx(np.full(NUM_JOINTS, 200 / 16 * TICKS_PER_RAD / 1000 * TORQUE_CONSTANT / 1000))


def test_the_register_reading_is_what_it_was():
    """The default reading (no new keys) gives the same torques as the model always did: P/128 mA per
    tick, D/16 mA per tick/ms, 0.517 N m/A."""
    act, q = xc330(p_gain=800, d_gain=200), ZERO
    target = np.full(NUM_JOINTS, 20 / TICKS_PER_RAD)
    first = act.torque(target, q, ZERO)
    q = np.full(NUM_JOINTS, 2 / TICKS_PER_RAD)  # the error shrinks by 2 ticks in one 1/120 s step
    second = act.torque(target, q, ZERO)
    assert first == pytest.approx(np.full(NUM_JOINTS, TORQUE_CONSTANT * 20 * 800 / 128 / 1000), rel=1e-12)
    d_ma = 200 / 16 * (-2 / (1000 / 120))
    assert second == pytest.approx(np.full(NUM_JOINTS, TORQUE_CONSTANT * (18 * 800 / 128 + d_ma) / 1000), rel=1e-12)


def test_current_units_scales_and_torque_constant():
    act = xc330(p_gain=800, d_gain=200, pd_units="current", torque_constant_nm_per_a=0.53, goal_current_ma=2000,
                stiffness_scale=[1.4] * 8 + [1.3] * 8, damping_scale=0.7)
    error_rad = 40 / TICKS_PER_RAD
    first = act.torque(np.full(NUM_JOINTS, error_rad), ZERO, ZERO)
    expected = 0.53e-3 * 800 * np.array([1.4] * 8 + [1.3] * 8) * error_rad  # mA/rad x rad x N m/mA
    assert first == pytest.approx(expected, rel=1e-9)
    moved = np.full(NUM_JOINTS, 4 / TICKS_PER_RAD)  # the joints move 4 ticks in 1/120 s: 0.74 rad/s
    second = act.torque(np.full(NUM_JOINTS, error_rad), moved, ZERO)
    rate = -(4 / TICKS_PER_RAD) * 120  # rad/s of the error
    expected = 0.53e-3 * (800 * np.array([1.4] * 8 + [1.3] * 8) * (36 / TICKS_PER_RAD) + 200 * 0.7 * rate)
    assert second == pytest.approx(expected, rel=1e-9)


def test_side_gain_scale_softens_motors_0_4_8_only():
    soft, even = xc330(side_gain_scale=0.75), xc330()
    target = np.full(NUM_JOINTS, 20 / TICKS_PER_RAD)
    ratio = soft.torque(target, ZERO, ZERO) / even.torque(target, ZERO, ZERO)
    assert ratio == pytest.approx(np.where(np.isin(np.arange(NUM_JOINTS), SIDE_JOINTS), 0.75, 1.0))


def test_a_latency_range_is_drawn_per_episode_from_the_given_generator():
    act = xc330(latency_s=[0.0, 0.1])
    drawn = []
    for seed in range(40):
        act.reset(ZERO, rng=np.random.default_rng(seed))
        drawn.append(act.delay_steps)
    assert min(drawn) >= 0 and max(drawn) <= 12 and len(set(drawn)) > 5  # 0-100 ms in 1/120 s steps
    again = []
    for seed in range(40):
        act.reset(ZERO, rng=np.random.default_rng(seed))
        again.append(act.delay_steps)
    assert again == drawn
    act.reset(ZERO, rng=np.random.default_rng(0))
    steps = act.delay_steps
    torques = [act.torque(np.full(NUM_JOINTS, 0.5), ZERO, ZERO)[0] for _ in range(steps + 2)]
    assert all(t == 0.0 for t in torques[:steps]) and torques[steps] > 0.0


def test_an_env_with_a_latency_range_is_deterministic(warm_grasps, tmp_path):
    profile = _write(tmp_path, latency_s=[0.0, 0.1])
    a, b = make_env(gap=profile), make_env(gap=profile)
    try:
        assert np.array_equal(_joint_trajectory(a, 30), _joint_trajectory(b, 30))
    finally:
        a.close()
        b.close()


def test_profile_errors_for_files_and_names(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_gap(bad)
    with pytest.raises(ValueError, match="leap_xc330"):  # lists the built-ins
        load_gap("no_such_profile")


# -- the servo model ----------------------------------------------------------------------------------------
def test_current_cap_limits_the_torque():
    act = xc330(goal_current_ma=350)
    tau = act.torque(np.full(NUM_JOINTS, 1.0), ZERO, ZERO)
    assert tau == pytest.approx(np.full(NUM_JOINTS, TORQUE_CONSTANT * 0.35))


def test_stiffness_below_saturation_follows_the_p_register():
    act = xc330(p_gain=800, d_gain=0)
    error = 20 / TICKS_PER_RAD  # 20 ticks: 125 mA, below the cap
    tau = act.torque(np.full(NUM_JOINTS, error), ZERO, ZERO)
    assert tau == pytest.approx(np.full(NUM_JOINTS, TORQUE_CONSTANT * 20 * 800 / 128 / 1000), rel=1e-6)


def test_errors_below_half_a_tick_are_invisible():
    act = xc330()
    assert np.all(act.torque(np.full(NUM_JOINTS, 0.4 / TICKS_PER_RAD), ZERO, ZERO) == 0.0)


def test_latency_delays_a_new_target_by_whole_physics_steps():
    act = xc330(latency_s=3 / 120)
    target = np.full(NUM_JOINTS, 0.5)
    torques = [act.torque(target, ZERO, ZERO)[0] for _ in range(5)]
    assert torques[:3] == [0.0, 0.0, 0.0] and torques[3] > 0.0


def test_friction_opposes_motion():
    act = xc330(coulomb_friction_nm=0.02, viscous_friction_nms=0.005)
    tau = act.torque(ZERO, ZERO, np.full(NUM_JOINTS, 1.0))
    assert tau == pytest.approx(np.full(NUM_JOINTS, -(0.02 * np.tanh(1.0 / 0.05) + 0.005)))


def test_backlash_costs_torque_when_the_drive_reverses():
    gap = 0.1  # rad, large so that crossing it takes longer than one physics step
    act = xc330(backlash_rad=gap)
    push = np.full(NUM_JOINTS, 0.5)
    for _ in range(5):
        engaged = act.torque(push, ZERO, ZERO)  # slack taken up: full torque
    reversed_first = act.torque(-push, ZERO, ZERO)
    assert engaged[0] == pytest.approx(TORQUE_CONSTANT * 0.35)
    assert 0.0 <= -reversed_first[0] < 0.5 * engaged[0]


def test_measure_quantizes_to_encoder_ticks_and_adds_seeded_noise():
    q = np.linspace(-1.0, 1.0, NUM_JOINTS)
    exact = xc330().measure(q)
    assert np.allclose(exact * TICKS_PER_RAD, np.rint(q * TICKS_PER_RAD))
    noisy = [DynamixelXC330(encoder_noise_rad=0.01) for _ in range(2)]
    for act in noisy:
        act.reset(ZERO, rng=np.random.default_rng(7))
    a, b = (act.measure(q) for act in noisy)
    assert np.array_equal(a, b) and not np.allclose(a, exact)


# -- the gap env --------------------------------------------------------------------------------------------
def _joint_trajectory(env, steps=60):
    env.reset(seed=3)
    rng = np.random.default_rng(11)
    out = []
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(-1, 1, NUM_JOINTS).astype(np.float32))
        out.append(env.unwrapped.hand.joint_state()[0])
    return np.array(out)


def test_the_gap_changes_the_joint_trajectories(warm_grasps):
    ideal, gapped = make_env(), make_env(gap="leap_xc330")
    try:
        rms = np.sqrt(np.mean((_joint_trajectory(ideal) - _joint_trajectory(gapped)) ** 2, axis=0))
        assert isinstance(gapped.unwrapped.actuator, DynamixelXC330)
        assert gapped.unwrapped.params.mass == pytest.approx(ideal.unwrapped.params.mass * 1.2)
    finally:
        ideal.close()
        gapped.close()
    assert np.sum(rms > 0.002) >= 12, f"per-joint RMS difference (rad): {np.round(rms, 4)}"


def test_gap_env_is_deterministic(warm_grasps):
    a, b = make_env(gap="leap_xc330"), make_env(gap="leap_xc330")
    try:
        assert np.array_equal(_joint_trajectory(a, 30), _joint_trajectory(b, 30))
    finally:
        a.close()
        b.close()


def test_gap_and_actuator_together_is_an_error(dexndm_cache):
    with pytest.raises(ValueError, match="either actuator= or gap="):
        make_env(object=OBJECT, gap="leap_xc330", actuator="xc330")


def test_xc330_refuses_negative_or_non_finite_parameters():
    with pytest.raises(ValueError, match="bad: \\['backlash_rad'\\]"):
        DynamixelXC330(backlash_rad=-0.01)
    with pytest.raises(ValueError, match="latency_s"):
        DynamixelXC330(latency_s=float("nan"))


def test_an_actuator_from_a_mapping_as_json_env_kwargs_give_it():
    capped = make_actuator({"name": "ideal_pd", "torque_limit": 0.18})
    assert isinstance(capped, IdealPD) and capped.torque_limit == 0.18 and capped.kp_nominal == IdealPD().kp_nominal
    tau = capped.torque(np.ones(NUM_JOINTS), np.zeros(NUM_JOINTS), np.zeros(NUM_JOINTS))
    assert np.allclose(tau, 0.18)  # kp * 1 rad = 3 N m, clipped at the given limit
    with pytest.raises(ValueError, match="no parameter torque; allowed: kp, kd, torque_limit"):
        make_actuator({"name": "ideal_pd", "torque": 0.18})
    with pytest.raises(ValueError, match="unknown actuator 'servo'; allowed: ideal_pd, xc330"):
        make_actuator({"name": "servo"})


def test_every_actuator_starts_a_seed_from_the_same_grasp(warm_grasps):
    envs = [make_env(), make_env(actuator={"name": "ideal_pd", "torque_limit": 0.18}), make_env(gap="leap_xc330")]
    try:
        starts = []
        for env in envs:
            _, info = env.reset(seed=3)
            u = env.unwrapped
            starts.append((info["grasp_index"], u.q_init, u.world.body_pose(u.objects.body)[0]))
    finally:
        for env in envs:
            env.close()
    for index, q, pos in starts[1:]:
        assert index == starts[0][0] and np.array_equal(q, starts[0][1]) and np.allclose(pos, starts[0][2])


def test_the_servo_model_refuses_bad_parameters_with_its_own_message():
    with pytest.raises(ValueError, match=r"latency_s must be a number >= 0 \(s\) or a range"):
        make_actuator({"name": "xc330", "latency_s": ["a"]})
    with pytest.raises(ValueError, match="stiffness_scale must be a number >= 0 or 16 of them"):
        make_actuator({"name": "xc330", "stiffness_scale": [[1.0]]})
    with pytest.raises(ValueError, match=r"side_gain_scale must be in \(0, 1\]"):
        make_actuator({"name": "xc330", "side_gain_scale": 2.0})
    with pytest.raises(ValueError, match="torque_constant_nm_per_a and dt > 0"):
        make_actuator({"name": "xc330", "torque_constant_nm_per_a": 0.0})
    with pytest.raises(ValueError, match="pd_units must be one of register, current"):
        make_actuator({"name": "xc330", "pd_units": "volts"})
