"""Serial ports: which are attached, which look like MicroPython boards, which one is a board's.

A board's port is named in its target file by path or pyserial URL (``port``), by the USB serial
number of its USB device (``usb_serial``, optionally narrowed by ``vid_pid``) or by ``vid_pid``
alone. Native-USB boards (ESP32-S3, rp2, pyboard) drop off the bus on every reset and come back,
maybe under another /dev name, so resolving a port can wait for it with a deadline.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, LinkError
from hilrig.targets.spec import BoardSpec, TargetSpec, board_name

POLL_S = 0.1


class PortKind(enum.Enum):
    """What a USB serial port most likely is, from its VID:PID."""

    MICROPYTHON = "MicroPython USB"  # the firmware's own USB CDC
    ESPRESSIF = "Espressif USB"  # USB-Serial/JTAG or the ROM bootloader's CDC
    PROBE_VCP = "debug probe VCP"  # ST-Link or DAPLink virtual COM port
    USB_UART = "USB-UART bridge"
    OTHER = "other"


@dataclass(frozen=True)
class UsbId:
    """A USB vendor and product ID."""

    vid: int
    pid: int

    @classmethod
    def parse(cls, text: str) -> UsbId:
        """'F055:9802' → UsbId; ConfigError when malformed."""
        try:
            vid, pid = (int(part, 16) for part in text.split(":"))
        except ValueError as exc:
            raise ConfigError(f"vid_pid {text!r} is not of the form VVVV:PPPP (hex)") from exc
        return cls(vid, pid)

    def __str__(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}"


# MicroPython's own USB IDs (F055:9802, pid.codes) and the bridges and probes boards sit behind.
_KNOWN: tuple[tuple[int, range, PortKind, str], ...] = (
    (0xF055, range(0x9800, 0x9810), PortKind.MICROPYTHON, "MicroPython (stm32/samd)"),
    (0x2E8A, range(0x0005, 0x0006), PortKind.MICROPYTHON, "MicroPython (rp2)"),
    (0x303A, range(0x4000, 0x4010), PortKind.MICROPYTHON, "MicroPython (ESP32 native USB)"),
    (0x303A, range(0x1001, 0x1002), PortKind.ESPRESSIF, "Espressif USB-Serial/JTAG"),
    (0x303A, range(0x0002, 0x0003), PortKind.ESPRESSIF, "Espressif ROM download mode"),
    (0x0483, range(0x3748, 0x3760), PortKind.PROBE_VCP, "ST-Link VCP"),
    (0x0D28, range(0x0204, 0x0205), PortKind.PROBE_VCP, "DAPLink VCP"),
    (0x10C4, range(0xEA60, 0xEA61), PortKind.USB_UART, "Silicon Labs CP210x"),
    (0x10C4, range(0xEA70, 0xEA71), PortKind.USB_UART, "Silicon Labs CP2105"),
    (0x1A86, range(0x7523, 0x7524), PortKind.USB_UART, "WCH CH340"),
    (0x1A86, range(0x55D3, 0x55D5), PortKind.USB_UART, "WCH CH9102/CH343"),
    (0x0403, range(0x6001, 0x6016), PortKind.USB_UART, "FTDI"),
)


def classify(usb: UsbId | None) -> tuple[PortKind, str]:
    """The kind of a port with these USB IDs and a short name for it."""
    if usb is not None:
        for vid, pids, kind, name in _KNOWN:
            if usb.vid == vid and usb.pid in pids:
                return kind, name
    return PortKind.OTHER, ""


@dataclass(frozen=True)
class PortInfo:
    """One serial port as pyserial's list_ports sees it."""

    device: str
    usb: UsbId | None
    serial_number: str | None
    description: str
    location: str | None
    kind: PortKind
    kind_name: str

    @property
    def likely_board(self) -> bool:
        """True for MicroPython's own USB IDs and for bridges and probes that boards use."""
        return self.kind is not PortKind.OTHER

    def summary(self) -> str:
        """'/dev/ttyACM0 F055:9802 SER=... MicroPython (stm32/samd)' for listings and errors."""
        parts = [self.device]
        if self.usb is not None:
            parts.append(str(self.usb))
        if self.serial_number:
            parts.append(f"SER={self.serial_number}")
        parts.append(self.kind_name or self.description)
        return " ".join(p for p in parts if p)


def port_info(raw: Any) -> PortInfo:
    """A PortInfo from a pyserial ListPortInfo."""
    usb = UsbId(raw.vid, raw.pid) if raw.vid is not None and raw.pid is not None else None
    kind, name = classify(usb)
    return PortInfo(
        raw.device, usb, raw.serial_number, raw.description or "", raw.location, kind, name
    )


def list_serial_ports(include_all: bool = False) -> list[PortInfo]:
    """Attached serial ports; only USB ones unless ``include_all`` (ttyS* are rarely boards)."""
    from serial.tools import list_ports

    ports = [port_info(p) for p in list_ports.comports()]
    return sorted((p for p in ports if include_all or p.usb is not None), key=lambda p: p.device)


def matches(board: BoardSpec, port: PortInfo) -> bool:
    """True if the port carries the board's USB serial number and/or VID:PID."""
    if board.vid_pid and port.usb != UsbId.parse(board.vid_pid):
        return False
    if board.usb_serial:
        return (port.serial_number or "").lower() == board.usb_serial.lower()
    return bool(board.vid_pid)


def find_ports(board: BoardSpec) -> list[PortInfo]:
    """The attached ports that match the board's usb_serial / vid_pid."""
    return [p for p in list_serial_ports() if matches(board, p)]


def is_url(port: str) -> bool:
    """True for pyserial URLs (rfc2217://, socket://, loop://) rather than device paths."""
    return "://" in port


def resolve_port(spec: TargetSpec, board: BoardSpec, *, timeout_s: float = 0.0) -> str:
    """The board's device path or pyserial URL, waiting up to ``timeout_s`` for it to appear."""
    deadline = Deadline.after(timeout_s)
    if board.port and is_url(board.port):
        return board.port
    while True:
        found = _lookup(spec, board)
        if found is not None:
            return found
        if deadline.expired():
            raise LinkError(_missing_message(spec, board, timeout_s))
        time.sleep(min(POLL_S, deadline.remaining()))


def wait_for_reenumeration(
    spec: TargetSpec, board: BoardSpec, *, timeout_s: float, vanish_s: float = 2.0
) -> str:
    """After a reset of a native-USB board: let the old port vanish, then wait for it to return.

    Right after a reset the old /dev node can linger for a moment; opening it then fails a
    moment later, so first give it up to ``vanish_s`` to go away.
    """
    deadline = Deadline.after(timeout_s)
    gone = deadline.sooner(vanish_s)
    while not gone.expired() and _lookup(spec, board) is not None:
        time.sleep(POLL_S)
    return resolve_port(spec, board, timeout_s=deadline.remaining())


def port_info_for(device: str) -> PortInfo | None:
    """The list_ports entry of a device path (symlinks resolved), if it is listed."""
    real = os.path.realpath(device)
    for port in list_serial_ports(include_all=True):
        if port.device in (device, real):
            return port
    return None


def _lookup(spec: TargetSpec, board: BoardSpec) -> str | None:
    if board.port:
        return board.port if os.path.exists(board.port) else None
    found = find_ports(board)
    if len(found) > 1:
        listing = "; ".join(p.summary() for p in found)
        raise ConfigError(
            f"{len(found)} serial ports match {board_name(spec, board)}: {listing}. Set "
            f"usb_serial for the board in {spec.path} to tell them apart."
        )
    return found[0].device if found else None


def _missing_message(spec: TargetSpec, board: BoardSpec, timeout_s: float) -> str:
    if board.port:
        wanted = f"serial port {board.port} does not exist"
    elif board.usb_serial:
        wanted = f"no serial port with USB serial number {board.usb_serial} is attached"
    else:
        wanted = f"no serial port with USB ID {board.vid_pid} is attached"
    waited = f" (waited {timeout_s:g} s)" if timeout_s > 0 else ""
    return (
        f"{wanted}{waited}, so {board_name(spec, board)} cannot be reached; "
        f"{_attached(list_serial_ports())}. Plug the board in, or fix its port, usb_serial "
        f"or vid_pid in {spec.path} (hilrig list shows what is attached)."
    )


def _attached(ports: Iterable[PortInfo]) -> str:
    listing = "; ".join(p.summary() for p in ports)
    return f"attached USB serial ports: {listing}" if listing else "no USB serial port is attached"
