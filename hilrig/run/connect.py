"""Making a target's board: the connection chosen by an explicit match on its kind."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hilrig.boards.board import Board, Connection
from hilrig.errors import ConfigError
from hilrig.targets.spec import HostVMSpec, Kind, TargetSpec

if TYPE_CHECKING:
    from hilrig.boards.labgrid_place import HeldPlace


def make_connection(
    spec: TargetSpec,
    index: int,
    place: HeldPlace | None = None,
    module_path: Sequence[Path] = (),
) -> Connection:
    """The connection for board ``index`` of a target (or the acquired labgrid ``place``),
    chosen by an explicit match on kind."""
    match spec.kind:
        case Kind.HOSTVM:
            from hilrig.boards.hostvm import HostVM, host_vm_command, with_heap

            vm = spec.hostvm or HostVMSpec()
            command = with_heap(host_vm_command(vm.command), vm.heap_bytes)
            return HostVM(command, label=f"{spec.name} VM", path=(*vm.path, *module_path))
        case Kind.QEMU:
            from hilrig.boards.qemu import QemuMachine

            assert spec.qemu is not None
            return QemuMachine(spec.qemu, spec.name, label=f"{spec.name} #{index}")
        case Kind.SERIAL:
            from hilrig.boards.serial_board import SerialConnection
            from hilrig.flash import hard_reset_for

            board = spec.boards[index % len(spec.boards)]
            reset = partial(hard_reset_for, spec, board) if spec.flash is not None else None
            return SerialConnection(spec, board, hard_reset=reset)
        case Kind.LABGRID:
            from hilrig.boards.labgrid_place import LabgridConnection

            if place is None or spec.labgrid is None:
                raise ConfigError(f"target {spec.name} needs an acquired labgrid place")
            return LabgridConnection(spec.name, place, spec.labgrid)
    raise ConfigError(f"{spec.path}: unsupported kind {spec.kind}")  # pragma: no cover


def make_board(
    spec: TargetSpec,
    index: int,
    module_path: Sequence[Path] = (),
    place: HeldPlace | None = None,
) -> Board:
    """Board ``index`` of a target, not yet started."""
    boot = spec.qemu.boot_timeout_s if spec.qemu else 15.0
    connection = make_connection(spec, index, place, module_path)
    return Board(connection, boot_timeout_s=boot, plain=spec.repl)
