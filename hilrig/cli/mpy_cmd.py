"""``hilrig mpy inspect FILE.mpy``: what a .mpy file holds, as text or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hilrig.errors import ConfigError
from hilrig.mpy.reader import format_summary, read_mpy, to_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mpy`` command and its ``inspect`` action."""
    mpy = subparsers.add_parser("mpy", help="look inside .mpy files")
    actions = mpy.add_subparsers(dest="mpy_action", metavar="ACTION", required=True)
    inspect = actions.add_parser(
        "inspect", help="show format, arch, functions, line tables and constants of a .mpy file"
    )
    inspect.add_argument("file", type=Path, metavar="FILE.mpy")
    inspect.add_argument("--json", action="store_true", help="print the parse as JSON")
    inspect.add_argument(
        "--source", type=Path, metavar="FILE.py", help="the source, to quote the lines covered"
    )
    inspect.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    """Print the summary (or JSON) of one .mpy file; bad files raise a hilrig error."""
    path: Path = args.file
    parsed = read_mpy(_read(path, "the .mpy file"), str(path))
    if args.json:
        print(json.dumps(to_json(parsed), indent=2, ensure_ascii=False))
        return 0
    source = None
    if args.source is not None:
        source = _read(args.source, "the source file").decode("utf-8", errors="replace")
    print(format_summary(parsed, source))
    return 0


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
