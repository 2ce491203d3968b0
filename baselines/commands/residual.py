"""``dexndm residual``: the residual action correction trained through a frozen dynamics model."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train the residual correction through a frozen dynamics model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from dexndm_envs.dynamics.residual import RESIDUALS

    p.add_argument("--ndm", type=Path, required=True, help="dynamics model checkpoint fitted on real-hand data")
    p.add_argument("--sim-data", nargs="+", required=True, type=Path, help="the base policy's sim episodes")
    p.add_argument("--form", choices=list(RESIDUALS), default=next(iter(RESIDUALS)),
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


def run(args: argparse.Namespace) -> None:
    from dexndm_envs.dynamics.residual import fit_residual
    from dexndm_envs.fileio import write_json

    report = fit_residual(args.ndm, args.sim_data, args.out, form=args.form, max_correction=args.max_correction,
                          hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          seed=args.seed)
    if args.json is not None:
        write_json(args.json, report)
    print(f"residual -> {args.out}: model-predicted standardised error on held-out sim episodes "
          f"{report['eval_loss_uncorrected']:.4f} uncorrected -> {report['eval_loss_corrected']:.4f} corrected; "
          f"mean |correction| {report['mean_abs_correction_rad']:.4f} rad"
          + "".join(f"; {term} gain {gain:.3f}" for term, gain in report.get("gains", {}).items()))
