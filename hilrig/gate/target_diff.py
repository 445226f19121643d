"""Two versions of a target compared field by field, and what a target would start on this host.

``hilrig repro`` runs a bundle on the project's own target file and only compares the bundle's
copy with it (:mod:`hilrig.gate.repro`). A bundle is data that travels (CI
artifacts, bug reports), so
a copy that differs in a field which starts a host process or reaches host files and devices —
``[hostvm] command``, ``[qemu]`` binary, machine, loader, firmware and args, ``[flash]``,
``[[boards]]``, ``kind`` — must never be used without the user's say-so. Other fields (timeouts,
``[compare]`` switches, description) only change how a run is judged.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from hilrig.errors import HilrigError
from hilrig.targets.spec import Kind, TargetSpec

# Fields (and sections, by prefix) that start a host process or name host files or devices.
_HOST_FIELDS: tuple[str, ...] = (
    *("kind", "hostvm", "flash", "boards", "labgrid"),
    *("qemu.binary", "qemu.machine", "qemu.loader", "qemu.firmware", "qemu.args"),
)
_IGNORED = ("path",)  # where each file is, not what it says


@dataclass(frozen=True)
class Difference:
    """One field that differs: its name, the two values as TOML-ish text, and whether it reaches
    the host (starts a process, names a file or a device)."""

    field: str
    bundle: str
    local: str
    host: bool

    def describe(self) -> str:
        """'qemu.firmware: bundle "/a.hex", local "/b.hex"'."""
        return f"{self.field}: bundle {self.bundle}, local {self.local}"


def differences(copy: TargetSpec, local: TargetSpec) -> tuple[Difference, ...]:
    """Every field in which the bundle's ``copy`` differs from the ``local`` target, host fields
    first."""
    ours, theirs = _flatten(local), _flatten(copy)
    found = [
        Difference(name, _shown(theirs.get(name)), _shown(ours.get(name)), _reaches_host(name))
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]
    return tuple(sorted(found, key=lambda d: not d.host))


def host_actions(spec: TargetSpec) -> tuple[str, ...]:
    """What running ``spec`` starts or opens on this host: argv, firmware file, ports."""
    match spec.kind:
        case Kind.HOSTVM:
            from hilrig.boards.hostvm import host_vm_command

            command = spec.hostvm.command if spec.hostvm is not None else None
            try:
                return (f"runs the host VM command: {shlex.join(host_vm_command(command))}",)
            except HilrigError as exc:
                return (f"runs the default host VM, which is not usable here: {exc}",)
        case Kind.QEMU:
            from hilrig.boards.qemu import qemu_command

            assert spec.qemu is not None
            argv = qemu_command(spec.qemu, "SOCKET")
            firmware = spec.qemu.firmware
            return (
                f"runs QEMU: {shlex.join(argv)} (SOCKET: a socket in a new temporary folder)",
                f"boots the firmware file {firmware}" if firmware else "boots no firmware file",
            )
        case Kind.SERIAL:
            return tuple(f"opens the board {board.label()}" for board in spec.boards)
        case Kind.LABGRID:
            lab = spec.labgrid
            assert lab is not None
            return (f"acquires {lab.wanted()} of the labgrid coordinator {lab.coordinator}",)
    return ()  # pragma: no cover


def _reaches_host(name: str) -> bool:
    return any(name == f or name.startswith((f + ".", f + "[")) for f in _HOST_FIELDS)


def _flatten(value: object, name: str = "") -> dict[str, object]:
    """Dotted field names to plain values; ``boards[0].port`` for the board list."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        flat: dict[str, object] = {}
        for item in dataclasses.fields(value):
            if item.name not in _IGNORED:
                key = f"{name}.{item.name}" if name else item.name
                flat |= _flatten(getattr(value, item.name), key)
        return flat
    if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        rows: dict[str, object] = {}
        for i, row in enumerate(value):
            rows |= _flatten(row, f"{name}[{i}]")
        return rows
    return {name: _plain(value)}


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value] if value else None  # () and a missing list alike
    return value


def _shown(value: object) -> str:
    return "(not set)" if value is None else json.dumps(value)
