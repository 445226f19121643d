"""``--hil-firmware`` before a run: QEMU boots the file; a real board is flashed unless it
already runs that build (its running identity is read with a short-lived probe)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from hilrig.boards.board import Board
from hilrig.errors import ConfigError, ToolMissing
from hilrig.run.connect import make_connection
from hilrig.targets.spec import BoardSpec, TargetSpec

if TYPE_CHECKING:
    from hilrig.boards.labgrid_place import HeldPlace
    from hilrig.flash.records import RunningIdentity

log = logging.getLogger(__name__)


def flash_for_run(
    spec: TargetSpec,
    firmware: Path,
    board_index: int,
    reflash: bool,
    place: HeldPlace | None,
) -> tuple[TargetSpec, str]:
    """The target to run against (QEMU's with the file to boot) and what was done, for the
    header and junit."""
    if spec.qemu is not None:
        if not firmware.is_file():
            raise ConfigError(f"--hil-firmware {firmware}: no such file")
        qemu = replace(spec.qemu, firmware=firmware.resolve())
        return replace(spec, qemu=qemu), f"QEMU boots {firmware}"
    from hilrig.flash import flash_if_needed
    from hilrig.flash.records import RunningIdentity

    def running_identity() -> RunningIdentity | None:
        probe = Board(make_connection(spec, board_index, place))
        try:
            return RunningIdentity.from_capabilities(probe.start())
        finally:
            probe.close()

    try:
        result = flash_if_needed(
            spec,
            _board_to_flash(spec, board_index, place),
            firmware,
            running_identity,
            force=reflash,
            progress=lambda report: log.info("flash: %s", report),
        )
    except ToolMissing as exc:  # a missing --hil-firmware file is the user's to fix, not a skip
        raise ConfigError(str(exc)) from exc
    return spec, f"{result.outcome.value} {firmware} (sha256 {result.firmware.short_sha})"


def _board_to_flash(spec: TargetSpec, board_index: int, place: HeldPlace | None) -> BoardSpec:
    if place is not None:
        from hilrig.flash.farm import farm_board

        return farm_board(spec, place)
    if spec.flash is None or not spec.boards:
        raise ConfigError(
            f"--hil-firmware was given, but target {spec.name} ({spec.path}) has "
            f"no [flash] section and [[boards]] to flash; add them or drop --hil-firmware"
        )
    return spec.boards[board_index % len(spec.boards)]
