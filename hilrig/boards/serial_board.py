"""Boards on serial ports: a device path or a pyserial URL (``rfc2217://``, ``socket://``).

The port comes from the board's entry in the target file: ``port`` directly, or found by USB
serial number / VID:PID. A hard reset uses the target's flashing tool (pyOCD reset over SWD, or
the RTS/DTR sequence for ESP32) and then waits for the port to come back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from hilrig.deadline import Deadline
from hilrig.errors import LinkError
from hilrig.targets.spec import BoardSpec, TargetSpec
from hilrig.transport.link import Link, SerialLink

log = logging.getLogger(__name__)


class HardReset(Protocol):
    """Something that resets a board without its help (pyOCD over SWD, esptool's RTS/DTR).

    The flashing backends implement it; the one who builds the connection passes it in, so this
    layer never imports the flashing tools.
    """

    def reset(self, timeout_s: float) -> None:
        """Reset the board; the caller closes its own link to the board first."""


def resolve_port(spec: TargetSpec, board: BoardSpec, deadline: Deadline) -> str:
    """The device path or URL of a board's serial port, found by USB IDs when not given."""
    if board.port and "://" in board.port:
        return board.port
    from hilrig.boards.ports import resolve_port as find

    return find(spec, board, timeout_s=deadline.remaining())


class SerialConnection:
    """One board on a serial port."""

    soft_reset_restarts = False
    lossless_input = False
    fast_input = False

    def __init__(
        self,
        spec: TargetSpec,
        board: BoardSpec,
        hard_reset: Callable[[], HardReset] | None = None,
    ) -> None:
        self.spec = spec
        self.board = board
        self.hard_reset = hard_reset  # made on first use: building it may import pyOCD
        self.label = f"{spec.name} on {board.label()}"
        self.link: SerialLink | None = None

    def open(self, deadline: Deadline) -> Link:
        """Find and open the port."""
        serial = self.spec.serial
        baud = serial.baud if serial else 115200
        exclusive = serial.exclusive if serial else True
        url = resolve_port(self.spec, self.board, deadline)
        self.link = SerialLink(url, baud, exclusive).open()
        self.label = f"{self.spec.name} on {url}"
        return self.link

    def restart(self, deadline: Deadline) -> Link:
        """Hard reset through the flashing tool, then reopen the port."""
        if self.hard_reset is None:
            raise LinkError(
                f"{self.label} has no hard reset: add a [flash] section to {self.spec.path} "
                f"(pyocd or esptool) so hilrig can reset it"
            )
        reset = self.hard_reset()
        self.close()
        reset.reset(deadline.remaining())
        return self.open(deadline)

    def interrupt(self, link: Link) -> None:
        """Ctrl-C on the line."""
        link.write(b"\x03")

    def fresh_link_entered(self) -> bool:
        """False: a serial board gets Ctrl-C and Ctrl-A first."""
        return False

    def close(self) -> None:
        """Close the port."""
        if self.link is not None:
            self.link.close()
            self.link = None
