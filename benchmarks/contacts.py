"""Which parts of the hand turn the object, over the gait cycle.

A rotation is steady when something pushes the object in every part of the cycle. This script shows
who does: for each ``--policy NAME=SPEC`` (repeatable) on one task (``--wrist``, ``--object``,
``--axis``), in the simulator the policy was trained in, nominal physics, ``--episodes`` episodes
(default 10, seed 0) of up to ``--steps`` control steps, it folds the control steps by their phase in
the cycle (step index mod ``--period``; default the policy's own gait period, else 32 steps) and
prints, per phase: the object's mean rotation rate about the axis (rad/s: 20 Hz x the step's rotation,
what Rot sums) and the share of steps in which each part of the hand
(:data:`dexndm_envs.hand.HAND_PARTS`: a finger is any of its links) touched the object at the step's
end. A summary line per policy gives each part's share over all steps and the share of steps that turn
the object forward (> 0.05 rad/s). ``--plot PATH`` draws the same as a heatmap under the rate curve.
``--env-kwargs JSON`` goes over the simulator of every ``--policy`` that follows it on the command
line, so one run can set a policy in its own simulator beside the same policy on the MuJoCo hand (a
``gap`` profile there replaces the policy's training actuator with the profile's own):

    python benchmarks/contacts.py --policy v8=runs/steady/v8/model.zip --wrist palm_up --object cylinder
    python benchmarks/contacts.py --policy v8=runs/steady/v8/model.zip \\
        --env-kwargs '{"gap": "mujoco_leap_sysid"}' --policy v8_mujoco=runs/steady/v8/model.zip --plot c.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
from policies import motion_profile
from report import header
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the env ids)
from baselines.episodes import episode_seeds, parse_env_kwargs
from baselines.gait import PeriodicGaitSource
from baselines.policy import load_policy, policy_env_kwargs, policy_simulator
from dexndm_envs.dynamics.recording import record_episode
from dexndm_envs.hand import HAND_PARTS
from dexndm_envs.metrics import CONTROL_HZ, EPISODE_STEPS

ENV_ID = "DexNDM/LeapRotate-v0"
DEFAULT_PERIOD = 32


def gait_period(source) -> float | None:
    """The period (policy steps) of the gait a loaded policy runs: a gait file's, or a residual model's
    gait's; None for a policy without one."""
    if isinstance(source, PeriodicGaitSource):
        return source.period
    residual = getattr(source, "residual", None)
    return residual.gait.period if residual is not None else None


class _Contacts(gym.Wrapper):
    """Keeps, per step of the episode, the cumulative rotation about the axis (rad, ``info["rot"]``) and
    which parts of the hand touch the object (:meth:`LeapRotateEnv.touching_parts`)."""

    def reset(self, **kwargs):
        self.rotation, self.touch = [0.0], []
        return self.env.reset(**kwargs)

    def step(self, action):
        out = self.env.step(action)
        self.rotation.append(float(out[4]["rot"]))
        self.touch.append(self.env.unwrapped.touching_parts())
        return out


def phase_profile(spec: str, env_kwargs: dict, period: float | None, episodes: int, steps: int,
                  seed: int) -> dict:
    """Roll ``spec`` out and fold its steps by phase (step index mod the period, rounded down to whole
    steps). Returns the period (steps), per phase the mean rate about the axis (rad/s) and each part's
    contact share ([P, len(HAND_PARTS)]), the step count per phase, each part's share over all steps and
    the share of steps turning forward (:func:`policies.motion_profile`'s)."""
    source = load_policy(spec)
    period = period or gait_period(source) or DEFAULT_PERIOD
    bins = int(period)
    simulator = {} if "gap" in env_kwargs else policy_simulator(spec)  # a gap profile brings its own actuator
    env = _Contacts(gym.make(ENV_ID, **policy_env_kwargs(source, ENV_ID, {**simulator, **env_kwargs})))
    curves, phases, rates, touches = [], [], [], []
    try:
        for i in tqdm(range(episodes), desc="contacts", unit="episode", leave=False):
            env_seed, rng = episode_seeds(seed, i)
            source.reset(rng)
            record_episode(env, source, steps, seed=env_seed)
            curves.append(np.array(env.rotation))
            rates.append(np.diff(curves[-1]) * CONTROL_HZ)
            phases.append((np.arange(len(env.touch)) % period).astype(int))
            touches.extend(env.touch)
    finally:
        env.close()
    phase, rate, touch = np.concatenate(phases), np.concatenate(rates), np.array(touches, dtype=float)
    count = np.bincount(phase, minlength=bins).astype(float)
    seen = np.maximum(count, 1)
    touch_sum = np.stack([np.bincount(phase, weights=touch[:, k], minlength=bins) for k in range(len(HAND_PARTS))], 1)
    return {"period": bins, "rate": np.bincount(phase, weights=rate, minlength=bins) / seen,
            "touch": touch_sum / seen[:, None], "count": count, "touch_all": touch.mean(0),
            "turning": motion_profile(curves)["turning"]}


def print_profiles(profiles: dict[str, dict]) -> None:
    """One Markdown table per policy (a row per phase) and a summary line each."""
    for name, p in profiles.items():
        print(f"\n{name}: phase of the {p['period']}-step cycle, rate (rad/s), share of steps each part touches")
        print("| phase | rate | " + " | ".join(HAND_PARTS) + " |")
        print("|---:|---:|" + "---:|" * len(HAND_PARTS))
        for phase in range(p["period"]):
            print(f"| {phase} | {p['rate'][phase]:.2f} | " + " | ".join(f"{v:.2f}" for v in p["touch"][phase]) + " |")
    print()
    for name, p in profiles.items():
        parts = ", ".join(f"{part} {share:.0%}" for part, share in zip(HAND_PARTS, p["touch_all"], strict=True))
        print(f"{name}: turning in {p['turning']:.0%} of the steps; touching: {parts}")


def plot_profiles(profiles: dict[str, dict], path: Path) -> Path:
    """Per policy, the mean rate over the cycle above a heatmap of each part's contact share."""
    from baselines import plots

    fig, axes = plots.figure(2, len(profiles), size=(4.5 * len(profiles), 4.5), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 1.2]}, sharex="col", sharey="row")
    for col, (name, p) in enumerate(profiles.items()):
        top, bottom = axes[0, col], axes[1, col]
        top.bar(np.arange(p["period"]), p["rate"], color="tab:orange")
        top.axhline(0.5, color="grey", lw=0.8, ls="--", label="reward clip")
        top.set_title(f"{name}\nturning in {p['turning']:.0%} of the steps", fontsize=9)
        top.set_ylabel("rate about the axis (rad/s)")
        top.legend(fontsize=7)
        image = bottom.imshow(p["touch"].T, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        bottom.set_yticks(range(len(HAND_PARTS)), HAND_PARTS)
        bottom.set_xlabel("phase (policy steps into the cycle)")
    fig.colorbar(image, ax=axes[1, -1], label="share of steps touching")
    return plots.save(fig, path, dpi=110)


class _PolicyEntry(argparse.Action):
    """``--env-kwargs JSON`` sets the env kwargs of the ``--policy`` entries after it; ``--policy
    NAME=SPEC`` appends ``(name, spec, those env kwargs)``. A malformed entry is a ValueError."""

    def __call__(self, parser, namespace, value, option_string=None):
        if self.dest == "env_kwargs":
            namespace.env_kwargs = parse_env_kwargs(value)
            return
        name, sep, spec = value.partition("=")
        if not sep or not name or not spec:
            raise ValueError(f"--policy takes NAME=SPEC (a gait .json or an SB3 model.zip); got {value!r}")
        namespace.policy = [*(namespace.policy or []), (name, spec, namespace.env_kwargs)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", action=_PolicyEntry, required=True, metavar="NAME=SPEC")
    parser.add_argument("--env-kwargs", action=_PolicyEntry, default={}, metavar="JSON",
                        help="env kwargs over the policy's simulator, for the --policy entries after it")
    parser.add_argument("--wrist", default="palm_up")
    parser.add_argument("--object", default="cylinder")
    parser.add_argument("--axis", default="+z")
    parser.add_argument("--period", type=float, default=None, help="cycle length, policy steps (default: the gait's)")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=EPISODE_STEPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=None)
    return parser


def _policies(argv: list[str]) -> list[tuple[str, str, dict]]:
    """(name, spec, env kwargs) per ``--policy`` of a command line, each with the ``--env-kwargs`` given
    before it."""
    return _parser().parse_args(argv).policy


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except ValueError as e:
        parser.error(str(e))
    if args.episodes < 1 or not 1 <= args.steps <= EPISODE_STEPS or (args.period is not None and not args.period >= 2):
        parser.error(f"need --episodes >= 1, 1 <= --steps <= {EPISODE_STEPS} and --period >= 2; got "
                     f"{args.episodes}, {args.steps}, {args.period}")
    task = {"wrist": args.wrist, "object": args.object, "axis": args.axis}
    header()
    try:
        profiles = {name: phase_profile(spec, {**task, **extra}, args.period, args.episodes, args.steps, args.seed)
                    for name, spec, extra in args.policy}
    except ValueError as e:
        parser.error(str(e))
    print(f"\n{args.wrist}, {args.object}, axis {args.axis}; {args.episodes} episodes of up to {args.steps} steps, "
          f"seed {args.seed}")
    print_profiles(profiles)
    if args.plot is not None:
        print(f"plot: {plot_profiles(profiles, args.plot)}")


if __name__ == "__main__":
    main()
