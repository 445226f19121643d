"""Flashing boards and resetting them the hard way.

``flash_if_needed`` is what a run calls before its first program: it checks the firmware file,
skips the flash when the board's record and running identity say the build is already there,
and otherwise flashes, waits for the serial port, asks the board who it is, and records that.
``hard_reset_for`` gives the recovery ladder a reset that needs no help from the firmware.

The tool is chosen by an explicit ``match`` on the target's ``[flash] tool``; pyOCD and esptool
are imported only inside that branch, so importing this package costs neither.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path

from hilrig.boards import ports
from hilrig.boards.serial_board import HardReset
from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, FlashError, LinkError, ReplError
from hilrig.flash.firmware import Firmware, FirmwareFormat, check_firmware
from hilrig.flash.interfaces import (
    Flasher,
    Progress,
    ProgressFn,
    Stage,
    no_progress,
    require_flash,
)
from hilrig.flash.records import (
    FlashRecord,
    FlashRecords,
    IdentityFn,
    RunningIdentity,
    board_key,
)
from hilrig.targets.spec import BoardSpec, TargetSpec, board_name

__all__ = [
    "Firmware",
    "FirmwareFormat",
    "FlashOutcome",
    "FlashRecord",
    "FlashRecords",
    "FlashResult",
    "Flasher",
    "HardReset",
    "IdentityFn",
    "Progress",
    "ProgressFn",
    "RunningIdentity",
    "Stage",
    "board_key",
    "check_firmware",
    "flash_board",
    "flash_if_needed",
    "flasher_for",
    "hard_reset_for",
    "no_progress",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0  # a 2 MB STM32 image over ST-Link takes about a minute


class FlashOutcome(enum.Enum):
    """What flash_if_needed did."""

    FLASHED = "flashed"
    SKIPPED = "skipped"  # the record and the running identity show the build is there


@dataclass(frozen=True)
class FlashResult:
    """The outcome, the checked file, and the identity the board reported (None if not asked)."""

    outcome: FlashOutcome
    firmware: Firmware
    identity: RunningIdentity | None


def flasher_for(spec: TargetSpec, board: BoardSpec) -> Flasher:
    """The flasher of the target's tool for one of its boards."""
    flash = require_flash(spec)
    match flash.tool:
        case "pyocd":
            from hilrig.flash.pyocd_backend import PyocdFlasher

            return PyocdFlasher(spec, board)
        case "esptool":
            from hilrig.flash.esptool_backend import EsptoolFlasher

            return EsptoolFlasher(spec, board)
        case other:
            raise ConfigError(f"{spec.path}: flash.tool {other!r} is not pyocd or esptool.")


def hard_reset_for(spec: TargetSpec, board: BoardSpec) -> HardReset:
    """A reset that needs no help from the firmware: the probe (pyOCD) or EN via RTS (ESP)."""
    flash = require_flash(spec)
    match flash.tool:
        case "pyocd":
            from hilrig.flash.pyocd_backend import PyocdHardReset

            return PyocdHardReset(spec, board)
        case "esptool":
            from hilrig.flash.esptool_backend import EspHardReset

            return EspHardReset(spec, board)
        case other:
            raise ConfigError(f"{spec.path}: flash.tool {other!r} is not pyocd or esptool.")


def flash_if_needed(
    spec: TargetSpec,
    board: BoardSpec,
    firmware_path: Path,
    running_identity: IdentityFn,
    *,
    force: bool = False,
    progress: ProgressFn = no_progress,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    records: FlashRecords | None = None,
) -> FlashResult:
    """Flash ``firmware_path`` onto the board unless it already runs that build.

    ``running_identity`` asks the board (over the raw REPL) who it is, and must release the
    port before it returns; None, LinkError or ReplError mean "cannot tell", which flashes.
    ``force`` (``--hil-reflash``) flashes regardless.
    """
    firmware = check_firmware(firmware_path, spec, board)
    store = records if records is not None else FlashRecords.default()
    key = board_key(board)
    if not force:
        running = store.confirmed(key, firmware.sha256, lambda: _ask_quietly(running_identity, key))
        if running is not None:
            log.info("%s already runs %s (sha256 %s)", key, firmware.path, firmware.short_sha)
            return FlashResult(FlashOutcome.SKIPPED, firmware, running)
    return _flash_checked(spec, board, firmware, running_identity, progress, timeout_s, store)


def flash_board(
    spec: TargetSpec,
    board: BoardSpec,
    firmware_path: Path,
    *,
    running_identity: IdentityFn | None = None,
    progress: ProgressFn = no_progress,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    records: FlashRecords | None = None,
) -> FlashResult:
    """Flash unconditionally (``hilrig flash``); the record notes the file, and the identity
    only when ``running_identity`` is given."""
    firmware = check_firmware(firmware_path, spec, board)
    store = records if records is not None else FlashRecords.default()
    return _flash_checked(spec, board, firmware, running_identity, progress, timeout_s, store)


def _flash_checked(
    spec: TargetSpec,
    board: BoardSpec,
    firmware: Firmware,
    running_identity: IdentityFn | None,
    progress: ProgressFn,
    timeout_s: float,
    store: FlashRecords,
) -> FlashResult:
    deadline = Deadline.after(timeout_s)
    key = board_key(board)
    store.forget(key)  # from here on the board may hold half a firmware
    flasher_for(spec, board).flash(firmware, progress=progress, timeout_s=deadline.remaining())
    _wait_for_port(spec, board, firmware, deadline, progress)
    identity = _ask_after_flash(running_identity, spec, board, firmware)
    store.record_flash(
        FlashRecord(key, firmware.sha256, str(firmware.path.resolve()), identity, spec.name)
    )
    return FlashResult(FlashOutcome.FLASHED, firmware, identity)


def _wait_for_port(
    spec: TargetSpec,
    board: BoardSpec,
    firmware: Firmware,
    deadline: Deadline,
    progress: ProgressFn,
) -> None:
    """After the reset that ends a flash: the board's serial port must be there (again)."""
    progress(Progress(Stage.WAIT_PORT))
    reenumerates = spec.serial is not None and spec.serial.reenumerates
    try:
        if reenumerates:
            ports.wait_for_reenumeration(spec, board, timeout_s=deadline.remaining())
        else:
            ports.resolve_port(spec, board, timeout_s=deadline.remaining())
    except LinkError as exc:
        raise FlashError(
            f"flashed {firmware.path} onto {board_name(spec, board)}, but "
            f"its serial port did not come back: {exc}"
        ) from exc


def _ask_quietly(running_identity: IdentityFn, key: str) -> RunningIdentity | None:
    try:
        return running_identity()
    except (LinkError, ReplError) as exc:  # a board with broken firmware is why we flash
        log.info("%s does not say what it runs (%s); flashing", key, exc)
        return None


def _ask_after_flash(
    running_identity: IdentityFn | None, spec: TargetSpec, board: BoardSpec, firmware: Firmware
) -> RunningIdentity | None:
    if running_identity is None:
        return None
    try:
        return running_identity()
    except (LinkError, ReplError) as exc:
        raise FlashError(
            f"flashed {firmware.path} onto {board_name(spec, board)}, but the board does not "
            f"answer on its REPL afterwards ({exc}); is the file a MicroPython build for it?"
        ) from exc
