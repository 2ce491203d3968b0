"""``dexndm emulate``: a virtual LEAP hand (16 XC330s, Protocol 2.0) on a pseudo-terminal."""

from __future__ import annotations

import argparse

HELP = "serve a virtual LEAP hand (16 XC330s, Protocol 2.0) on a pseudo-terminal"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from dexndm_envs.gap import DEFAULT_HAND
    from dexndm_envs.poses import WRISTS
    from real.emulator.virtual_hand import SCENES

    p.add_argument("--gap", default=DEFAULT_HAND,
                   help="reality-gap profile with an xc330 actuator (default: %(default)s)")
    p.add_argument("--scene", choices=SCENES, default=SCENES[0],
                   help="the hand holding an object, or in its Chaos Box (for data collection)")
    p.add_argument("--object", default="cylinder_d55_ar20")
    p.add_argument("--wrist", default="palm_down", choices=list(WRISTS))
    p.add_argument("--seed", type=int, default=0, help="which cached grasp the hand starts in")
    p.add_argument("--faults", default=None,
                   help="fault injection, e.g. crc=0.01,drop=0.01,late=0.01,overload=3@5 (see real.emulator.faults)")


def run(args: argparse.Namespace) -> None:
    import signal

    from baselines.collect import sigterm_as_interrupt
    from real.emulator.virtual_hand import VirtualHand

    # SIGTERM stops the hand as Ctrl-C does, by raising KeyboardInterrupt in the main thread. (A handler
    # that sets a threading.Event the main thread waits on can deadlock on the Event's own lock.) Ctrl-C
    # stops it even when started as a background job, which inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with sigterm_as_interrupt(), VirtualHand(gap=args.gap, object=args.object, wrist=args.wrist, seed=args.seed,
                                             faults=args.faults, scene=args.scene) as hand:
        print(f"port: {hand.port}", flush=True)
        print(f"tracker: {hand.tracker_address}", flush=True)
        settings = " ".join(f"{k}={v}" for k, v in hand.driver_settings.items())
        print(f"driver: {settings} (what this hand's profile assumes the driver writes)", flush=True)
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass
