"""``hilrig init [DIR]``: start a project (or a firmware repository) with hilrig's files."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hilrig.cli.scaffold import EXAMPLE_TARGET, SUITES, plan_project, write_project


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``init`` command."""
    parser = subparsers.add_parser(
        "init",
        help="write a pytest section, an example program, a target file and a GitHub workflow",
    )
    parser.add_argument(
        "folder", type=Path, nargs="?", default=Path("."), metavar="DIR", help="default: here"
    )
    parser.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Write the files (or refuse, writing none) and say what to run next."""
    folder: Path = args.folder
    plan = plan_project(folder)
    write_project(plan)
    for item in plan:
        verb = "Appended a [tool.pytest.ini_options] section to" if item.append else "Wrote"
        print(f"{verb} {item.path}")
    cd = "" if folder.resolve() == Path.cwd().resolve() else f"cd {os.fspath(folder)} && "
    print("Next:")
    print(f"  {cd}pytest --target=unix    # the example program on the host MicroPython VM")
    print(
        f"  hilrig targets    # which targets are usable here; set your board's port in "
        f"targets/{EXAMPLE_TARGET}.toml"
    )
    print(
        f"  pytest --target={EXAMPLE_TARGET} {SUITES}    # on the board; --hil-firmware FILE "
        f"flashes it first"
    )
    return 0
