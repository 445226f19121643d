"""The real targets the tests run on: the host VM and the QEMU micro:bit (or a skip that says how
to install QEMU; under CI=true a missing QEMU is a failure instead).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hilrig.boards.board import Board
from hilrig.boards.hostvm import HostVM, host_vm_command
from hilrig.boards.qemu import QemuMachine, check_installed
from hilrig.deadline import Deadline
from hilrig.errors import ToolMissing
from hilrig.targets.load import load_target
from hilrig.targets.spec import QemuSpec
from hilrig.transport.rawrepl import RAW_PROMPT, RawRepl
from hilrig.transport.transcript import RecordingLink

ROOT = Path(__file__).resolve().parents[1]
MICROBIT = "microbit-qemu"


def microbit_spec() -> QemuSpec:
    """The micro:bit QEMU spec from targets/, or skip (fail under CI) when QEMU is missing."""
    spec = load_target(MICROBIT, ROOT).qemu
    assert spec is not None
    try:
        check_installed(spec, MICROBIT)
    except ToolMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the QEMU micro:bit: {exc}")
        pytest.skip(str(exc))
    return spec


def microbit_machine() -> QemuMachine:
    """A QEMU micro:bit, not yet booted."""
    return QemuMachine(microbit_spec(), MICROBIT, label="QEMU micro:bit")


@contextmanager
def start_host_vm() -> Iterator[tuple[HostVM, RawRepl]]:
    """A host VM at its raw prompt, over a recorded link; stopped afterwards."""
    vm = HostVM(host_vm_command(), label="host VM")
    try:
        repl = RawRepl(RecordingLink(vm.open(Deadline.after(10))), pacing_s=0)
        repl.read_until(RAW_PROMPT, Deadline.after(10))
        yield vm, repl
    finally:
        vm.close()


@contextmanager
def start_microbit() -> Iterator[tuple[QemuMachine, RawRepl]]:
    """A booted QEMU micro:bit at its raw prompt, over a recorded link; stopped afterwards."""
    machine = microbit_machine()
    try:
        repl = RawRepl(RecordingLink(machine.open(Deadline.after(15))), pacing_s=0)
        repl.enter(Deadline.after(15))
        yield machine, repl
    finally:
        machine.close()


@contextmanager
def started_board(kind: str) -> Iterator[Board]:
    """A started Board on the host VM ("host") or the QEMU micro:bit ("microbit")."""
    if kind == "host":
        board = Board(HostVM(host_vm_command(), label="host VM"))
    else:
        board = Board(microbit_machine())
    try:
        board.start()
        yield board
    finally:
        board.close()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children in their own sessions included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found
