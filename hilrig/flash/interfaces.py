"""The flash package's shared vocabulary: progress reports and the two small protocols.

A :class:`Flasher` writes a checked firmware file onto one board; a :class:`HardReset` restarts
one board without its firmware's help. Both report progress through a plain callable, so the CLI
can print it and the pytest plugin can log it, while the library itself never prints.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, FlashError
from hilrig.targets.spec import FlashSpec, TargetSpec

if TYPE_CHECKING:
    from hilrig.flash.firmware import Firmware


class Stage(enum.Enum):
    """What a flash or reset is doing right now."""

    CONNECT = "connecting"  # opening the probe or the ROM bootloader and identifying the board
    ERASE = "erasing"
    WRITE = "writing"
    RESET = "resetting"
    WAIT_PORT = "waiting for the serial port"


@dataclass(frozen=True)
class Progress:
    """One progress report; ``fraction`` runs 0.0-1.0 within a stage, None when unknown."""

    stage: Stage
    fraction: float | None = None
    detail: str = ""


ProgressFn = Callable[[Progress], None]


def no_progress(report: Progress) -> None:
    """A progress callback that ignores every report."""


class Flasher(Protocol):
    """Writes firmware onto one board, checking first that it is the board the target names."""

    def flash(self, firmware: Firmware, *, progress: ProgressFn, timeout_s: float) -> None:
        """Identify the board, write the firmware, start it; FlashError or WrongBoard on failure."""
        ...


class Tracker:
    """Passes progress on and enforces the deadline each time the library reports progress.

    pyOCD and esptool have no overall timeout of their own, but both call back often while they
    work, so raising from the callback is how a slow flash is stopped.
    """

    def __init__(self, progress: ProgressFn, deadline: Deadline, doing: str) -> None:
        self.progress = progress
        self.deadline = deadline
        self.doing = doing
        self.stage = Stage.CONNECT

    def report(self, stage: Stage, fraction: float | None = None, detail: str = "") -> None:
        """Check the deadline, then hand the report to the callback."""
        self.stage = stage
        self.check()
        self.progress(Progress(stage, fraction, detail))

    def check(self) -> None:
        """Raise FlashError once the deadline has passed."""
        if self.deadline.expired():
            raise FlashError(
                f"{self.doing} did not finish within {self.deadline.budget_s:g} s "
                f"(stopped while {self.stage.value}); check the connection, or allow more time."
            )


def require_flash(spec: TargetSpec) -> FlashSpec:
    """The target's [flash] section, or a ConfigError saying it has none."""
    if spec.flash is None:
        raise ConfigError(
            f"target {spec.name} ({spec.path}) has no [flash] section, so hilrig cannot flash "
            f'it; add one with tool = "pyocd" or tool = "esptool".'
        )
    return spec.flash
