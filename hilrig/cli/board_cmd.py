"""``hilrig list`` and ``hilrig flash``: what is attached; firmware onto a target's boards.

pyOCD is imported only inside the handlers (through the flash package's backends), so building
the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from hilrig.boards.ports import PortInfo, list_serial_ports
from hilrig.errors import ConfigError, FlashError
from hilrig.flash import (
    FlashOutcome,
    FlashResult,
    IdentityFn,
    Progress,
    RunningIdentity,
    Stage,
    flash_board,
    flash_if_needed,
)
from hilrig.flash.interfaces import require_flash
from hilrig.limits import FLASH_TIMEOUT
from hilrig.targets.find import find_rootdir
from hilrig.targets.load import load_target
from hilrig.targets.spec import BoardSpec, TargetSpec

VERIFY_TIMEOUT_S = 15.0  # a board's boot after flashing: ESP32 prints its ROM log first


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``list`` and ``flash`` commands."""
    lister = subparsers.add_parser(
        "list", help="list debug probes and serial ports, marking likely MicroPython boards"
    )
    lister.add_argument(
        "--all", action="store_true", help="also list serial ports without USB IDs (ttyS*)"
    )
    lister.set_defaults(handler=run_list)
    flasher = subparsers.add_parser("flash", help="flash a firmware file onto a target's boards")
    flasher.add_argument("--target", required=True, help="target name or path to a .toml file")
    flasher.add_argument(
        "--board", type=int, metavar="N", help="only the N-th [[boards]] entry (from 0)"
    )
    flasher.add_argument(
        "--timeout", default=300.0, metavar="S", help="seconds per board (default 300)"
    )
    flasher.add_argument(
        "--no-verify",
        action="store_true",
        help="do not ask the board over its REPL which build it runs (and so always flash)",
    )
    flasher.add_argument(
        "--force", action="store_true", help="flash even if the board already runs this file"
    )
    flasher.add_argument("firmware", type=Path, metavar="FILE", help=".hex/.elf/.bin firmware")
    flasher.set_defaults(handler=run_flash)


def run_list(args: argparse.Namespace) -> int:
    """Print the attached debug probes and serial ports."""
    from hilrig.flash.pyocd_backend import list_probes

    try:
        probes = list_probes()
    except FlashError as exc:  # still show the serial ports
        print(f"hilrig: {exc}", file=sys.stderr)
        probes = []
    serial_ports = list_serial_ports(include_all=args.all)
    if not probes and not serial_ports:
        print("No debug probes or serial ports attached.")
        return 0
    print("Debug probes (pyOCD):" if probes else "Debug probes (pyOCD): none")
    for probe in probes:
        board = f"  {probe.board_name} [{probe.board_target}]" if probe.board_name else ""
        print(f"  {probe.unique_id}  {probe.description}{board}")
    print("Serial ports:" if serial_ports else "Serial ports: none")
    for port in serial_ports:
        print(f"  {_port_line(port)}")
    return 0


def _port_line(port: PortInfo) -> str:
    usb = str(port.usb) if port.usb else "no USB IDs"
    serial = f" SER={port.serial_number}" if port.serial_number else ""
    mark = f"  <- {port.kind_name}" if port.likely_board else ""
    return f"{port.device}  {usb}{serial}  {port.description}{mark}"


def run_flash(args: argparse.Namespace) -> int:
    """Flash the file onto every board of the target (or the one chosen with --board), except
    boards whose flash record and running identity show they already run it."""
    timeout_s = FLASH_TIMEOUT.check(args.timeout, "--timeout")
    spec = load_target(args.target, find_rootdir(Path.cwd()))
    require_flash(spec)
    for board in _chosen_boards(spec, args.board):
        printer = ProgressPrinter(sys.stderr, board.label())
        result = _flash_one(args, spec, board, printer, timeout_s)
        printer.finish()
        where = f"board {board.label()} of target {spec.name}"
        fw = f"{result.firmware.path} (sha256 {result.firmware.short_sha})"
        if result.outcome is FlashOutcome.SKIPPED:
            says = f" (it says {_shown(result.identity)})" if result.identity else ""
            print(f"Skipped {where}: it already runs {fw}{says}; --force flashes anyway.")
        else:
            runs = f"; it runs {_shown(result.identity)}" if result.identity else ""
            print(f"Flashed {fw} onto {where}{runs}.")
    return 0


def _flash_one(
    args: argparse.Namespace,
    spec: TargetSpec,
    board: BoardSpec,
    printer: ProgressPrinter,
    timeout_s: float,
) -> FlashResult:
    if args.no_verify:  # without asking the board nothing can show the build is there
        return flash_board(spec, board, args.firmware, progress=printer, timeout_s=timeout_s)
    return flash_if_needed(
        spec,
        board,
        args.firmware,
        running_identity(spec, board),
        force=args.force,
        progress=printer,
        timeout_s=timeout_s,
    )


def _shown(identity: RunningIdentity) -> str:
    """The banner when the board printed one (it names the board and build), else sys.version."""
    return identity.banner or identity.sys_version


def running_identity(spec: TargetSpec, board: BoardSpec) -> IdentityFn:
    """Asks the board over its raw REPL which build it runs; the record keeps the answer, so
    a following ``pytest --hil-firmware`` with the same file does not flash again."""

    def ask() -> RunningIdentity | None:
        from hilrig.boards.board import Board
        from hilrig.boards.serial_board import SerialConnection

        board_repl = Board(SerialConnection(spec, board), boot_timeout_s=VERIFY_TIMEOUT_S)
        try:
            return RunningIdentity.from_capabilities(board_repl.start())
        finally:
            board_repl.close()

    return ask


def _chosen_boards(spec: TargetSpec, index: int | None) -> tuple[BoardSpec, ...]:
    if index is None:
        return spec.boards
    if not 0 <= index < len(spec.boards):
        raise ConfigError(
            f"--board {index}: target {spec.name} has {len(spec.boards)} board(s), "
            f"numbered from 0 ({spec.path})."
        )
    return (spec.boards[index],)


class ProgressPrinter:
    """Prints progress for one board: a line per stage, percentages every 10 %."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.stage: Stage | None = None
        self.shown = -1

    def __call__(self, report: Progress) -> None:
        if report.stage is not self.stage:
            self.stage = report.stage
            self.shown = -1
            detail = f" {report.detail}" if report.detail else ""
            self._line(f"{report.stage.value}{detail}")
        if report.fraction is not None:
            percent = int(report.fraction * 100) // 10 * 10
            if percent > self.shown:
                self.shown = percent
                self._line(f"{report.stage.value} {percent:3d}%")

    def finish(self) -> None:
        """Flush what was printed."""
        self.stream.flush()

    def _line(self, text: str) -> None:
        print(f"{self.label}: {text}", file=self.stream)
