"""``dexndm collect``: episodes of any env into a dataset directory, crash-safe and resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "record episodes (Chaos Box data, rollouts) into a dataset directory, crash-safe"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from baselines.cluster import add_ray_argument
    from baselines.policy import BASELINE_POLICIES
    from baselines.sources import WAVE_CHOICES
    from dexndm_envs.dynamics.dataset import SOURCES

    p.add_argument("--env", default="DexNDM/LeapChaosBox-v0", help="env id (default: DexNDM/LeapChaosBox-v0)")
    p.add_argument("--env-kwargs", default=None,
                   help='JSON object of env arguments, e.g. \'{"wrist": "palm_down", "gap": "leap_xc330"}\'')
    p.add_argument("--port", default=None,
                   help="serial port of a real or virtual hand (with --env DexNDM/LeapRotateReal-v0)")
    actions = p.add_mutually_exclusive_group(required=True)
    actions.add_argument("--rollouts", nargs="+", type=Path, help="replay action sequences from these rollout datasets")
    actions.add_argument("--waves", nargs="?", const="mixed", choices=WAVE_CHOICES,
                         help="wave actions (default kind: mixed)")
    actions.add_argument("--policy", help="an SB3 policy checkpoint (.zip; vecnormalize.pkl and train.json beside it "
                         "are used), a distilled generalist (.pt), a gait (.json), or " + " | ".join(BASELINE_POLICIES))
    p.add_argument("--episodes", type=int, required=True, help="collect until the directory holds this many episodes")
    p.add_argument("--steps", type=int, default=400, help="steps per episode (default: 400 = 20 s)")
    p.add_argument("--out", type=Path, required=True, help="dataset directory")
    p.add_argument("--resume", action="store_true", help="add to the episodes already in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source-label", choices=SOURCES, default=None,
                   help="the dataset's 'source' metadata (default: from the env: sim, gap or real)")
    p.add_argument("--object-label", default=None,
                   help="the dataset's 'object' metadata, e.g. chaos_box for a real hand in its box "
                        "(default: from the env)")
    add_ray_argument(p)


def run(args: argparse.Namespace) -> None:
    from baselines.cluster import ray_lost_the_run
    from baselines.collect import CollectionStopped, collect, sigterm_as_interrupt
    from baselines.episodes import env_factory, parse_env_kwargs
    from baselines.policy import load_policy, policy_env_kwargs
    from baselines.sources import ReplaySource, WaveSource
    from dexndm_envs.dynamics.dataset import EpisodeWriter

    kwargs = parse_env_kwargs(args.env_kwargs)
    source = load_policy(args.policy) if args.policy else None
    if source is not None:  # an SB3 policy runs on the observation it was trained on
        kwargs = policy_env_kwargs(source, args.env, kwargs)
    make_env, meta, faults = env_factory(args.env, kwargs, args.port)
    if args.source_label:
        meta["source"] = args.source_label
    if args.object_label:
        meta["object"] = args.object_label
    if args.rollouts:
        source = ReplaySource(args.rollouts, meta["wrist"], steps=args.steps)
    elif source is None:
        source = WaveSource(args.waves)
    with sigterm_as_interrupt():
        try:
            result = collect(make_env, source, args.episodes, args.out, meta, seed=args.seed, steps=args.steps,
                             resume=args.resume, faults=faults, ray_address=args.ray)
        except KeyboardInterrupt:
            done = EpisodeWriter(args.out, resume=True)
            dropped = "the ones in progress were dropped" if args.ray else "the one in progress was dropped"
            raise SystemExit(f"dexndm collect: interrupted; {len(done)} finished episodes are on disk in "
                             f"{args.out} ({dropped}); --resume continues") from None
        except (CollectionStopped, *faults) as e:
            raise SystemExit(f"dexndm collect: stopped: {e}") from None
        except Exception as e:
            if not ray_lost_the_run(e):
                raise
            done = EpisodeWriter(args.out, resume=True)
            raise SystemExit(f"dexndm collect: Ray lost the run ({type(e).__name__}: {e}); {len(done)} finished "
                             f"episodes are on disk in {args.out}; --resume continues") from None
    print(f"{result['episodes']} episodes ({result['transitions']} transitions, {result['faulty_episodes']} faulty) "
          f"in {args.out}; this run: {result['new_transitions']} transitions at {result['transitions_per_s']:.0f}/s; "
          f"disk {result['bytes'] / 1e6:.1f} MB, {result['bytes_per_episode'] / 1e3:.0f} kB per episode")
