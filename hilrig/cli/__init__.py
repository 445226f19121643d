"""The ``hilrig`` command. Only this package prints; everything it calls is library code.

Each subcommand lives in its own module with ``register(subparsers)``, which adds a parser whose
``handler`` default takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from hilrig import __version__
from hilrig.errors import HilrigError

# Subcommand modules, imported when the parser is built; each must stay cheap to import
# (pyocd and esptool are imported inside the handlers that need them).
_COMMANDS = (
    "hilrig.cli.mpy_cmd",
    "hilrig.cli.board_cmd",
    "hilrig.cli.info_cmd",
    "hilrig.cli.report_cmd",
    "hilrig.cli.targets_cmd",
    "hilrig.cli.init_cmd",
    "hilrig.cli.sim_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="hilrig", description="Hardware-in-the-loop tests for MicroPython boards."
    )
    parser.add_argument("--version", action="version", version=f"hilrig {__version__}")
    parser.add_argument("--debug", action="store_true", help="show library logs and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn hilrig errors into one sentence and exit code 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(name)s: %(message)s"
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except HilrigError as exc:
        if args.debug:
            raise
        print(f"hilrig: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hilrig: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `hilrig targets | head`: the reader left; say nothing more, and let Python's flush at
        # exit write into the void instead of raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
