"""The ``dexndm`` command line. Subcommands: ``demo``, ``render``, ``objects``, ``emulate``,
``collect``, ``train``, ``eval``, ``fit``, ``residual``, ``distill``."""

from __future__ import annotations

import argparse
import math
import logging
from pathlib import Path

from dexndm_envs.poses import WRISTS

RESIDUAL_FORMS = ("gains", "mlp")
"""``dexndm_envs.dynamics.residual.RESIDUALS``' names, default first (listed here: importing it loads torch)."""


def _demo(args: argparse.Namespace) -> None:
    from baselines.demo import demo

    logging.getLogger("baselines.pipeline").setLevel(logging.INFO)  # the stages, even without -v
    demo(size=args.size, gap=args.gap, port=args.port, box_port=args.box_port, tracker=args.tracker,
         policy=args.policy, wrist=args.wrist, object=args.object, axis=args.axis, residual=args.residual,
         workdir=args.workdir, seed=args.seed, json_path=args.json)


def _render(args: argparse.Namespace) -> None:
    from baselines.render import render_wrists

    out = args.out or Path("docs/wrists.png" if args.scene == "rotate" else "docs/chaos_box.png")
    print(render_wrists(args.object, out, args.seed, args.scene))


def _objects(args: argparse.Namespace) -> None:
    import json

    from dexndm_envs import objects

    if args.action == "list":
        specs = objects.list_objects(args.category)
        if args.json:
            print(json.dumps([s.to_dict() for s in specs], indent=1))
            return
        print(f"{'name':<26}{'category':<16}{'shape':<10}{'size (cm)':<22}{'aspect':>7}{'mass (g)':>10}  source")
        for s in specs:
            size = " x ".join(f"{100 * x:.1f}" for x in s.size)
            print(f"{s.name:<26}{s.category:<16}{s.shape:<10}{size:<22}{s.aspect_ratio:>7.2f}{1000 * s.mass:>10.1f}  {s.source}")
        print(f"{len(specs)} objects")
    elif args.action == "show":
        print(json.dumps(objects.get_object(args.name).to_dict(), indent=1))
    elif args.action == "import":
        spec = objects.import_mesh(args.mesh, args.name, scale=args.scale, mass=args.mass)
        print(f"imported {spec.name}: {' x '.join(f'{100 * x:.1f}' for x in spec.size)} cm, "
              f"{1000 * spec.mass:.1f} g, {'convex' if spec.convex else 'concave (convex hulls)'}; "
              f"catalogue {objects.user_catalogue_dir() / 'catalogue.json'}")
    elif args.action == "sheet":
        from baselines.object_sheet import contact_sheet

        print(contact_sheet(objects.list_objects(args.category), args.out))


def _emulate(args: argparse.Namespace) -> None:
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
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass


def _collect(args: argparse.Namespace) -> None:
    from baselines.collect import main as collect_main

    collect_main(args)


def _eval(args: argparse.Namespace) -> None:
    from baselines.evaluate import main as eval_main

    eval_main(args)


def _train(args: argparse.Namespace) -> None:
    from baselines.train import main as train_main

    train_main(args)


def _distill(args: argparse.Namespace) -> None:
    from baselines.distill import main as distill_main

    distill_main(args)


def _write_report(report: dict, path: Path | None) -> None:
    import json

    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1))


def _fit(args: argparse.Namespace) -> None:
    from dexndm_envs.dynamics.fitting import fit

    report = fit(args.data, args.model, args.out, history=args.history, init=args.init, hidden=args.hidden,
                 epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                 horizon=args.horizon, seed=args.seed)
    _write_report(report, args.json)
    e = report["eval"]
    print(f"{args.model}-wise model -> {args.out} ({report['train_transitions']} train / "
          f"{report['eval_transitions']} eval transitions, best epoch {report['best_epoch']}, "
          f"{report['seconds']:.1f} s)")
    print(f"{'eval RMSE (rad)':<18}{'1-step':>10}{'10-step':>10}")
    for name, scores in (("model", e), ("next q = q", e["naive_hold"]), ("next q = target", e["naive_target"])):
        print(f"{name:<18}{scores['rmse_1step']:>10.4f}{scores['rmse_10step']:>10.4f}")


def _residual(args: argparse.Namespace) -> None:
    from dexndm_envs.dynamics.residual import fit_residual

    report = fit_residual(args.ndm, args.sim_data, args.out, form=args.form, max_correction=args.max_correction,
                          hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          seed=args.seed)
    _write_report(report, args.json)
    print(f"residual -> {args.out}: model-predicted standardised error on held-out sim episodes "
          f"{report['eval_loss_uncorrected']:.4f} uncorrected -> {report['eval_loss_corrected']:.4f} corrected; "
          f"mean |correction| {report['mean_abs_correction_rad']:.4f} rad"
          + "".join(f"; {term} gain {gain:.3f}" for term, gain in report.get("gains", {}).items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dexndm", description="DexNDM LEAP hand tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (grasp generation, ...)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the DexNDM pipeline end to end: direct transfer, Chaos Box data, dynamics models, "
                       "correction, and the sim / direct / whole-hand / joint-wise table")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="small sizes, <= 10 min on 2 cores (the default)")
    size.add_argument("--full", dest="size", action="store_const", const="full",
                      help="the benchmark sizes (100k real transitions)")
    p.set_defaults(size="quick")
    p.add_argument("--gap", default=None, help="gap profile of the in-process pseudo-real hand: a built-in name or "
                   "a JSON file (default: leap_xc330)")
    p.add_argument("--port", default=None, help="serial port of a real or virtual hand holding the object, instead "
                   "of the in-process one (needs --tracker)")
    p.add_argument("--box-port", default=None, help="serial port of the hand in its Chaos Box (default: --port; "
                   "you are asked to move the hand between stages)")
    p.add_argument("--tracker", default=None, help="host:port of the object tracker (with --port)")
    p.add_argument("--policy", default=None, help="base policy: an SB3 .zip, a generalist .pt, a gait .json "
                   "or scripted (default: the shipped oracle for the wrist and object; on a hand the generalist "
                   "where it was distilled for them, else their searched gait; else scripted)")
    p.add_argument("--wrist", default="palm_up", choices=list(WRISTS))
    p.add_argument("--object", default="cylinder", help="object name or category (default: cylinder)")
    p.add_argument("--axis", default="+z", help="rotation axis (default: +z)")
    p.add_argument("--residual", choices=RESIDUAL_FORMS, default=RESIDUAL_FORMS[0],
                   help="the correction's form: three gains shared by the joints (default) or the paper's MLP")
    p.add_argument("--workdir", type=Path, default=None,
                   help="new or empty directory for every artefact (default: runs/demo-<date>-<time>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the result JSON here")
    p.set_defaults(func=_demo)
    p = sub.add_parser("render", help="render the hand holding an object (or in its Chaos Box) in the six wrist orientations")
    p.add_argument("--scene", choices=["rotate", "chaos_box"], default="rotate")
    p.add_argument("--object", default="cylinder_d55_ar20", help="object name (default: cylinder_d55_ar20)")
    p.add_argument("--out", type=Path, default=None,
                   help="PNG to write (default: docs/wrists.png, or docs/chaos_box.png for the Chaos Box)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_render)

    p = sub.add_parser("objects", help="list, show and import objects, or draw the catalogue")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="list the catalogue (shipped and imported objects)")
    a.add_argument("--category", default=None, help="only this category")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = actions.add_parser("show", help="everything about one object")
    a.add_argument("name")
    a = actions.add_parser("import", help="add a mesh file (OBJ, STL, PLY, ...) to the user catalogue")
    a.add_argument("mesh", type=Path)
    a.add_argument("--name", required=True, help="name for the new object (letters, digits, _ and -)")
    a.add_argument("--scale", type=float, default=1.0, help="factor to metres (0.001 for a file in mm)")
    a.add_argument("--mass", type=float, default=None, help="mass in kg (default: from 400 kg/m^3)")
    a = actions.add_parser("sheet", help="render a contact sheet of the catalogue")
    a.add_argument("--category", default=None)
    a.add_argument("--out", type=Path, default=Path("docs/objects.png"))
    p.set_defaults(func=_objects)

    p = sub.add_parser("emulate", help="serve a virtual LEAP hand (16 XC330s, Protocol 2.0) on a pseudo-terminal")
    p.add_argument("--gap", default="leap_xc330", help="reality-gap profile with an xc330 actuator")
    p.add_argument("--scene", choices=["rotate", "chaos_box"], default="rotate",
                   help="the hand holding an object, or in its Chaos Box (for data collection)")
    p.add_argument("--object", default="cylinder_d55_ar20")
    p.add_argument("--wrist", default="palm_down", choices=list(WRISTS))
    p.add_argument("--seed", type=int, default=0, help="which cached grasp the hand starts in")
    p.add_argument("--faults", default=None,
                   help="fault injection, e.g. crc=0.01,drop=0.01,late=0.01,overload=3@5 (see real.emulator.faults)")
    p.set_defaults(func=_emulate)

    p = sub.add_parser("collect", help="record episodes (Chaos Box data, rollouts) into a dataset directory, crash-safe")
    p.add_argument("--env", default="DexNDM/LeapChaosBox-v0", help="env id (default: DexNDM/LeapChaosBox-v0)")
    p.add_argument("--env-kwargs", default=None, help='JSON object of env arguments, e.g. \'{"wrist": "palm_down", "gap": "leap_xc330"}\'')
    p.add_argument("--port", default=None, help="serial port of a real or virtual hand (with --env DexNDM/LeapRotateReal-v0)")
    actions = p.add_mutually_exclusive_group(required=True)
    actions.add_argument("--rollouts", nargs="+", type=Path, help="replay action sequences from these rollout datasets")
    actions.add_argument("--waves", nargs="?", const="mixed", choices=["sine", "square", "noisy_square", "mixed"],
                         help="wave actions (default kind: mixed)")
    actions.add_argument("--policy", help="an SB3 policy checkpoint (.zip; vecnormalize.pkl beside it is used), a "
                         "distilled generalist (.pt), or scripted | random | hold")
    p.add_argument("--episodes", type=int, required=True, help="collect until the directory holds this many episodes")
    p.add_argument("--steps", type=int, default=400, help="steps per episode (default: 400 = 20 s)")
    p.add_argument("--out", type=Path, required=True, help="dataset directory")
    p.add_argument("--resume", action="store_true", help="add to the episodes already in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source-label", choices=["sim", "gap", "emulator", "real"], default=None,
                   help="the dataset's 'source' metadata (default: from the env: sim, gap or real)")
    p.add_argument("--object-label", default=None,
                   help="the dataset's 'object' metadata, e.g. chaos_box for a real hand in its box (default: from the env)")
    p.set_defaults(func=_collect)

    p = sub.add_parser("train", help="train an SB3 policy (zoo-format hyperparameters, VecNormalize, eval and checkpoints)")
    p.add_argument("--env", default="DexNDM/LeapRotate-v0")
    p.add_argument("--env-kwargs", default=None, help='JSON object, e.g. \'{"object": "cylinder", "obs_mode": "privileged"}\'')
    p.add_argument("--algo", choices=["ppo"], default="ppo")
    p.add_argument("--config", type=Path, default=None, help="zoo-format YAML (default: baselines/configs/ppo.yml)")
    p.add_argument("--steps", type=int, default=None, help="env steps (default: the config's n_timesteps)")
    p.add_argument("--n-envs", type=int, default=None, help="parallel envs, one process each (default: the config's)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue the model in --out")
    p.add_argument("--warm-start", default=None, metavar="POLICY",
                   help="clone this demonstrator (a gait .json from baselines.gait_search, or any --policy) into "
                        "the new model before training")
    p.add_argument("--warm-start-episodes", type=int, default=20, help="demonstrator episodes to clone (default: 20)")
    p.add_argument("--residual-over", default=None, metavar="GAIT",
                   help="train a residual over this gait file (baselines/residual_gait.py): the policy sees the "
                        "gait's phase and bends its targets; a zero residual is the gait")
    p.add_argument("--residual-scale", type=float, default=None,
                   help="radians the residual may move the gait's targets (default: 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="a policy's rotation metrics (Rot, TTF, RotR, RotP) per condition, JSON + plot")
    p.add_argument("--policy", required=True, help="an SB3 checkpoint (.zip), a distilled generalist (.pt), or a "
                   "baseline: scripted (finger gait), random, hold (zero actions)")
    p.add_argument("--env", default="DexNDM/LeapRotate-v0")
    p.add_argument("--env-kwargs", default=None, help='JSON object, e.g. \'{"object": "cylinder", "wrist": "palm_up", "gap": "leap_xc330"}\'')
    p.add_argument("--port", default=None, help="serial port of a real or virtual hand (with --env DexNDM/LeapRotateReal-v0)")
    p.add_argument("--correction", type=Path, default=None, help="a residual checkpoint: evaluate under NDMCorrection")
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--steps", type=int, default=400, help="steps per episode at most (default: 400 = 20 s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, required=True, help="report to write (the rotation plot goes beside it as .png)")
    p.add_argument("--video", type=Path, default=None, help="write GIFs of the first two episodes into this directory")
    p.add_argument("--save-rollouts", type=Path, default=None,
                   help="save the episodes (with actions) in the dataset format, e.g. for Chaos Box replay")
    p.set_defaults(func=_eval)

    p = sub.add_parser("fit", help="fit a joint-wise or whole-hand neural dynamics model on episode datasets")
    p.add_argument("--data", nargs="+", required=True, type=Path, help="dataset directories")
    p.add_argument("--model", choices=["joint", "whole"], default="joint")
    p.add_argument("--history", type=int, default=10, help="W, steps of history (default: 10 = 0.5 s)")
    p.add_argument("--init", type=Path, default=None, help="fine-tune from this checkpoint (e.g. sim-pretrained)")
    p.add_argument("--hidden", type=int, default=None, help="hidden width (default: 64 joint-wise, matched whole-hand)")
    p.add_argument("--epochs", type=int, default=100, help="at most this many epochs (default: 100)")
    p.add_argument("--patience", type=int, default=10, help="early stop after this many epochs without a better eval loss")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--horizon", type=int, default=1,
                   help="train on the open-loop error over this many steps (default: 1, the one-step error)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--json", type=Path, default=None, help="write the evaluation report here")
    p.set_defaults(func=_fit)

    p = sub.add_parser("residual", help="train the residual correction through a frozen dynamics model")
    p.add_argument("--ndm", type=Path, required=True, help="dynamics model checkpoint fitted on real-hand data")
    p.add_argument("--sim-data", nargs="+", required=True, type=Path, help="the base policy's sim episodes")
    p.add_argument("--form", choices=RESIDUAL_FORMS, default=RESIDUAL_FORMS[0],
                   help="gains: three gains shared by all joints (damping, stiffness, lead; default); "
                        "mlp: the paper's MLP over all joints' histories")
    p.add_argument("--max-correction", type=float, default=0.1, help="bound per joint, rad (default: 0.1)")
    p.add_argument("--hidden", type=int, default=256, help="the MLP's width (--form mlp)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--json", type=Path, default=None, help="write the training report here")
    p.set_defaults(func=_residual)

    p = sub.add_parser("distill", help="behaviour-clone privileged oracles into one proprioceptive generalist (DAgger)")
    p.add_argument("--teachers", nargs="+", required=True, type=Path,
                   help="oracle model.zip files written by `dexndm train` (train.json beside each names its env)")
    p.add_argument("--episodes", type=int, default=20, help="teacher rollouts per teacher and per DAgger round")
    p.add_argument("--dagger-rounds", type=int, default=2, help="rounds of student rollouts labelled by the teachers")
    p.add_argument("--min-rot", type=float, default=math.pi,
                   help="a teacher rollout is cloned if it rotated at least this much (rad) without a fall")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--blocks", type=int, default=2, help="residual blocks of the MLP")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="generalist checkpoint (.pt) to write")
    p.add_argument("--json", type=Path, default=None, help="write the distillation report here")
    p.set_defaults(func=_distill)
    return parser


def gym_error() -> type[Exception]:
    """Gymnasium's base error (an unknown env id, say), imported only when it is needed."""
    from gymnasium.error import Error

    return Error


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except (ValueError, FileExistsError, gym_error()) as e:
        raise SystemExit(f"dexndm {args.command}: error: {e}") from None


if __name__ == "__main__":
    main()
