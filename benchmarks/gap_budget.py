"""Where a policy's rotation goes under a gap profile: the profile's parts switched on one at a time.

A joint-space correction (DexNDM's residual) can only change the targets the servos are sent, so it
can win back what the servos' dynamics cost below their current cap, not what the cap itself costs
(a servo at its Goal Current gives no more torque for a larger target error) nor what a heavier or more
slippery object costs. This benchmark measures those parts for one base policy: direct transfer
under

* ``full``: the profile as it is;
* ``actuator``: the profile's servo model, nominal object (mass and friction scales 1);
* ``object``: the simulator's actuator (the policy's training ideal PD), the profile's object scales;
* ``full, uncapped``: the profile with the Goal Current raised to the simulator's torque clip
  (its ``torque_limit`` / the XC330's torque constant), so the cap binds no earlier than in sim;
* ``actuator, uncapped``: both;
* ``best correction``: the simulator's ideal PD with its torque clip at the profile's Goal Current, with
  the profile's object: joints that move exactly as the simulator's would, as far as the servo's
  current allows. That is the most a perfect correction of the targets could give back.
* ``engine`` (a profile whose ``simulator`` is not PyBullet's, e.g. ``mujoco_leap_sysid``): the policy's
  own simulator, actuator, clip and objects, played by the profile's engine: what the contact model
  alone costs, which no correction of joint targets is made to win back.

Every condition but ``sim`` runs in the profile's engine.

"sim" is the policy's own simulator (its training actuator, :func:`baselines.policy.policy_simulator`;
for a policy trained with the clip at the Goal Current, ``object`` and ``best correction`` coincide).
Every condition runs the same seeded episodes (episode i starts from the same grasp). "Lost" is
sim Rot minus the condition's Rot; the share is of the full profile's loss. The last column is the
gap closed, (Rot - full Rot) / (sim Rot - full Rot), that a correction reaching the condition would
score: for ``best correction``, the ceiling of issue #8's measure.

    python benchmarks/gap_budget.py [--gaps leap_xc330 leap_xc330_worn mujoco_leap_sysid] [--episodes 30] [--policy P]
"""

from __future__ import annotations

import argparse
import dataclasses

from report import header

import dexndm_envs  # noqa: F401  (registers DexNDM/*)
from baselines.evaluate import evaluate, rot_standard_error
from baselines.pipeline import default_policy
from baselines.policy import policy_label, policy_obs_mode, policy_simulator
from dexndm_envs.actuators import TORQUE_CONSTANT, IdealPD, make_actuator
from dexndm_envs.gap import GapProfile, load_gap
from dexndm_envs.simulators import DEFAULT_SIMULATOR


def variants(gap: GapProfile, sim: IdealPD) -> dict[str, GapProfile]:
    """The profile's parts, named as in the module docstring, for a policy trained with the simulator's
    actuator ``sim`` (``gap`` must use the xc330 actuator)."""
    if gap.actuator != "xc330":
        raise ValueError(f"gap profile {gap.name}: the budget splits an xc330 profile; got {gap.actuator!r}")
    sim_current_ma = 1000.0 * sim.torque_limit / TORQUE_CONSTANT
    nominal_object = {"object_mass_scale": 1.0, "object_friction_scale": 1.0}
    ideal = {"actuator": "ideal_pd", "kp": sim.kp_nominal, "kd": sim.kd_nominal, "ki": 0.0}
    in_sim = dataclasses.replace(gap, goal_current_ma=sim_current_ma, torque_constant_nm_per_a=TORQUE_CONSTANT,
                                 **ideal, **nominal_object)  # the simulator's actuator and objects
    engine = {"engine": in_sim} if gap.simulator != DEFAULT_SIMULATOR else {}
    return {
        "full": gap,
        "actuator": dataclasses.replace(gap, **nominal_object),
        "object": dataclasses.replace(gap, goal_current_ma=sim_current_ma, **ideal),
        "full, uncapped": dataclasses.replace(gap, goal_current_ma=sim_current_ma),
        "actuator, uncapped": dataclasses.replace(gap, goal_current_ma=sim_current_ma, **nominal_object),
        "best correction": dataclasses.replace(gap, **ideal),
        **engine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaps", nargs="+", default=["leap_xc330", "leap_xc330_worn"])
    parser.add_argument("--wrist", default="palm_up")
    parser.add_argument("--object", default="cylinder")
    parser.add_argument("--policy", default=None, help="base policy (default: the pipeline's for the task)")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    header()
    policy = args.policy or default_policy(args.wrist, args.object)
    task = {"object": args.object, "wrist": args.wrist, "axis": "+z", "obs_mode": policy_obs_mode(policy)}

    simulator = policy_simulator(policy)
    sim_actuator = make_actuator(simulator.get("actuator", "ideal_pd"))
    if not isinstance(sim_actuator, IdealPD):
        raise ValueError(f"{policy} was trained with the {type(sim_actuator).__name__} actuator; the budget compares "
                         "against an ideal-PD simulator")

    def rot(gap: GapProfile | None) -> dict:
        """Rot under ``gap``, or in the policy's own simulator (its training actuator) for None."""
        report = evaluate("DexNDM/LeapRotate-v0", {**task, **({"gap": gap} if gap else simulator)},
                          policy, args.episodes, seed=args.seed, progress=False)
        return {"rot_rad": report["rot_rad"], "ttf": report["ttf"], "se": rot_standard_error(report)}

    print(f"policy {policy_label(policy)}, {args.wrist}, {args.object}; {args.episodes} paired episodes, "
          f"seed {args.seed}")
    sim = rot(None)
    print("| gap | condition | Rot | TTF | lost Rot | share of the full loss | gap closed if reached |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print(f"| - | sim (ideal PD, clip {sim_actuator.torque_limit:g} N m) | {sim['rot_rad']:.2f} +- {sim['se']:.2f} "
          f"| {sim['ttf']:.2f} | | | |")
    for name in args.gaps:
        full_loss = None
        for label, profile in variants(load_gap(name), sim_actuator).items():
            row = rot(profile)
            lost = sim["rot_rad"] - row["rot_rad"]
            full_loss = lost if full_loss is None else full_loss
            share, closed = ((f"{lost / full_loss:.2f}", f"{1 - lost / full_loss:.2f}") if full_loss > 0
                             else ("-", "-"))
            print(f"| {name} | {label} | {row['rot_rad']:.2f} +- {row['se']:.2f} | {row['ttf']:.2f} | {lost:.2f} "
                  f"| {share} | {closed} |", flush=True)


if __name__ == "__main__":
    main()
