"""The ``dexndm`` subcommands, one module each, in the order ``dexndm --help`` lists them.

Each module holds ``HELP`` (its line in ``dexndm --help``), ``add_arguments(parser)`` and ``run(args)``.
A module loads only the standard library when imported; ``add_arguments`` and ``run`` import what
they use (choice lists from the library that defines them, the library that does the work), and
:mod:`baselines.cli` calls ``add_arguments`` only for the command being run, so ``dexndm --help``
imports no torch, PyBullet or Gymnasium. A new command is a new module here and a line in
:data:`COMMANDS`.
"""

from baselines.commands import (
    collect,
    demo,
    distill,
    emulate,
    evaluate,
    fit,
    objects,
    render,
    residual,
    train,
    train_grid,
)

COMMANDS = {"demo": demo, "render": render, "objects": objects, "emulate": emulate, "collect": collect,
            "train": train, "train-grid": train_grid, "eval": evaluate, "fit": fit, "residual": residual,
            "distill": distill}
"""Command name -> its module."""
