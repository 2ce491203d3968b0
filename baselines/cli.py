"""The ``dexndm`` command line. Subcommands: ``demo``, ``render``, ``objects``, ``emulate``,
``collect``, ``train``, ``train-grid``, ``eval``, ``fit``, ``residual``, ``distill`` (one module each in
:mod:`baselines.commands`)."""

from __future__ import annotations

import argparse
import logging
from types import ModuleType

from baselines.commands import COMMANDS


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser that asks its command module for its arguments the first time it parses or
    prints help, so that building the whole ``dexndm`` parser imports no command's libraries."""

    def __init__(self, *args, command: ModuleType | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._command = command

    def _register(self) -> None:
        if self._command is not None:
            command, self._command = self._command, None
            command.add_arguments(self)
            self.set_defaults(func=command.run)

    def parse_known_args(self, args=None, namespace=None):
        self._register()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._register()
        return super().format_usage()

    def format_help(self) -> str:
        self._register()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    """The ``dexndm`` parser: ``-v`` and one subparser per :data:`~baselines.commands.COMMANDS` entry."""
    parser = argparse.ArgumentParser(prog="dexndm", description="DexNDM LEAP hand tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (grasp generation, ...)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.HELP, description=command.HELP, command=command)
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
