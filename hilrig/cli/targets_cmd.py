"""``hilrig targets``: every target this project can see, where it comes from, and whether it is
usable on this machine. pyOCD is imported only with ``--probes``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hilrig.boards.ports import list_serial_ports
from hilrig.cli.availability import Availability, Status, Surroundings, check_target
from hilrig.errors import FlashError, HilrigError, UnsetVariable
from hilrig.targets.find import (
    BUILTIN_DIR,
    TargetFile,
    find_rootdir,
    project_targets_dir,
    target_files,
)
from hilrig.targets.load import load_target


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``targets`` command."""
    parser = subparsers.add_parser(
        "targets", help="list the targets this project can use and whether each is usable here"
    )
    parser.add_argument(
        "--probes", action="store_true", help="also list debug probes (imports pyOCD; slower)"
    )
    parser.add_argument(
        "--firmware", type=Path, metavar="FILE", help="check this firmware against each target"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_targets)


def run_targets(args: argparse.Namespace) -> int:
    """Print each visible target with its source and what was found for it."""
    root = find_rootdir(Path.cwd())
    here = Surroundings(list_serial_ports(), _probes() if args.probes else None, args.firmware)
    rows = [_row(entry, here) for entry in target_files(root)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    folder = project_targets_dir(root)
    absent = "" if folder.is_dir() else " (no such folder)"
    print(f"Targets in {folder}{absent}, then built into hilrig ({BUILTIN_DIR}):")
    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        print(f"  {row['name']:<{width}}  {row['status']:<10}  {row['kind']:<6}  {row['source']}")
        for line in row["findings"]:
            print(f"  {'':<{width}}    - {line}")
    return 0


def _probes() -> list[Any] | None:
    from hilrig.flash.pyocd_backend import list_probes

    try:
        return list(list_probes())
    except FlashError as exc:
        print(f"hilrig: {exc}", file=sys.stderr)
        return None


def _row(entry: TargetFile, here: Surroundings) -> dict[str, Any]:
    cwd = Path.cwd()
    shown = entry.path.relative_to(cwd) if entry.path.is_relative_to(cwd) else entry.path
    source = "built-in" if entry.builtin else str(shown)
    row: dict[str, Any] = {"name": entry.name, "source": source, "path": str(entry.path)}
    if entry.shadowed_by is not None:
        row.update(status="shadowed", kind="", findings=[f"{entry.shadowed_by} is used instead"])
        return row
    try:
        spec = load_target(str(entry.path), entry.path.parent)
    except UnsetVariable as exc:  # a valid file whose board is not there yet (a simulator)
        row.update(status=Status.MISSING.value, kind="", findings=[str(exc)])
        return row
    except HilrigError as exc:
        row.update(status="invalid", kind="", findings=[str(exc)])
        return row
    found: Availability = check_target(spec, here)
    row.update(
        status=found.status.value,
        kind=spec.kind.value,
        findings=[f.text for f in found.findings],
    )
    return row
