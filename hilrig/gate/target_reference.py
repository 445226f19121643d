"""Another target as the reference (``--hil-reference=target:NAME``): yesterday's firmware on the
same kind of board, another board, or a board-sized host VM.

The reference board is leased like any board and started by its own session (with
``--hil-reference-firmware`` flashed, or booted for QEMU). Its results are cached by firmware
identity and program, so a rerun against an unchanged reference build costs only the board's
runs. Only finished runs are cached (:class:`~hilrig.run.reference.ResultCache`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hilrig.capabilities import Capabilities
from hilrig.compare.gap import firmware_name
from hilrig.errors import ConfigError
from hilrig.gate.lease import Held
from hilrig.gate.policy import start_leased
from hilrig.results import RunResult
from hilrig.run.program import Program
from hilrig.run.reference import ResultCache, cache_key
from hilrig.run.session import HilSession, Options
from hilrig.targets.load import load_target

PREFIX = "target:"


def target_name(reference: str) -> str | None:
    """NAME of ``--hil-reference=target:NAME``, or None for the other kinds."""
    if not reference.startswith(PREFIX):
        return None
    name = reference[len(PREFIX) :].strip()
    if not name:
        raise ConfigError("--hil-reference=target: needs a target name, e.g. target:stm32-qemu")
    return name


class TargetReference:
    """A leased, started board of another target that runs each program to say what it should
    print."""

    def __init__(self, session: HilSession, lease: Held, cache: Path) -> None:
        assert session.caps is not None and session.runner is not None
        self.session = session
        self.lease = lease
        self.caps: Capabilities = session.caps
        self.identity = firmware_identity(session)
        self.firmware = firmware_name(session.caps)
        self.label = f"target {session.spec.name} ({self.firmware})"
        self.results = ResultCache(cache / "target-ref.pack")

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """Run (or recall) the program on the reference board; CompileError propagates."""
        runner = self.session.runner
        assert runner is not None
        prepared = runner.prepare(program)
        wiring = runner.wiring.module_source() if program.wiring_needed is not None else ""
        key = cache_key("target", self.identity, program.name, prepared.payload, wiring)
        return self.results.recall(key, lambda: runner.run(program, prepared, timeout_s))

    def close(self) -> None:
        """Stop the reference board, then give its lease back."""
        try:
            self.session.close()
        finally:
            self.lease.release()


def firmware_identity(session: HilSession) -> str:
    """What makes the reference's results reusable: its target file, firmware file and banner."""
    caps, spec = session.caps, session.spec
    assert caps is not None
    h = hashlib.sha256()
    h.update(spec.path.read_bytes() if spec.path.is_file() else spec.name.encode())
    firmware = spec.qemu.firmware if spec.qemu is not None else session.options.firmware
    if firmware is not None and firmware.is_file():
        h.update(firmware.read_bytes())
    for part in (caps.banner, caps.sys_version, caps.platform, session.mode):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def start_target_reference(
    name: str,
    options: Options,
    lock_timeout_s: float,
    on_wait: Callable[[str], None] | None = None,
) -> TargetReference:
    """Lease and start the reference target's board; on failure nothing stays held."""
    spec = load_target(name, options.rootdir)
    own = replace(
        options,
        reference="exp",  # the reference board needs no reference of its own
        firmware=options.reference_firmware,
        reflash=False,
        mpy_cross=None,  # the board's compiler; the reference's is chosen for its firmware
        load=None,
        board_index=0,
    )
    session, lease = start_leased(spec, own, lock_timeout_s, on_wait=on_wait)
    try:
        return TargetReference(session, lease, options.cache_folder)
    except BaseException:
        session.close()
        lease.release()
        raise
