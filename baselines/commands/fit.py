"""``dexndm fit``: a joint-wise or whole-hand neural dynamics model fitted on episode datasets."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "fit a joint-wise or whole-hand neural dynamics model on episode datasets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from dexndm_envs.dynamics.models import MODELS

    p.add_argument("--data", nargs="+", required=True, type=Path, help="dataset directories")
    p.add_argument("--model", choices=list(MODELS), default=next(iter(MODELS)))
    p.add_argument("--history", type=int, default=10, help="W, steps of history (default: 10 = 0.5 s)")
    p.add_argument("--init", type=Path, default=None, help="fine-tune from this checkpoint (e.g. sim-pretrained)")
    p.add_argument("--hidden", type=int, default=None, help="hidden width (default: 64 joint-wise, matched whole-hand)")
    p.add_argument("--epochs", type=int, default=100, help="at most this many epochs (default: 100)")
    p.add_argument("--patience", type=int, default=10,
                   help="early stop after this many epochs without a better eval loss")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--horizon", type=int, default=1,
                   help="train on the open-loop error over this many steps (default: 1, the one-step error)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--json", type=Path, default=None, help="write the evaluation report here")


def run(args: argparse.Namespace) -> None:
    from dexndm_envs.dynamics.fitting import fit
    from dexndm_envs.fileio import write_json

    report = fit(args.data, args.model, args.out, history=args.history, init=args.init, hidden=args.hidden,
                 epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                 horizon=args.horizon, seed=args.seed)
    if args.json is not None:
        write_json(args.json, report)
    e = report["eval"]
    print(f"{args.model}-wise model -> {args.out} ({report['train_transitions']} train / "
          f"{report['eval_transitions']} eval transitions, best epoch {report['best_epoch']}, "
          f"{report['seconds']:.1f} s)")
    print(f"{'eval RMSE (rad)':<18}{'1-step':>10}{'10-step':>10}")
    for name, scores in (("model", e), ("next q = q", e["naive_hold"]), ("next q = target", e["naive_target"])):
        print(f"{name:<18}{scores['rmse_1step']:>10.4f}{scores['rmse_10step']:>10.4f}")
