"""ESP32-family boards through esptool's Python API, and their hard reset over DTR/RTS.

Flashing follows esptool's "Embedding into Custom Scripts" flow: ``detect_chip`` → identity
check → ``run_stub`` → ``attach_flash`` → (``erase_flash``) → ``write_flash`` →
``reset_chip("hard-reset")``. esptool talks through its global logger; while hilrig drives it,
that logger is replaced by one that feeds Python logging and hilrig's progress callback, so the
library never prints. esptool is imported only when an esptool target is flashed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from esp_pylib.logger import EspLog, EspLogBase

from hilrig.boards import ports
from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, FlashError, HilrigError, LinkError, WrongBoard
from hilrig.flash.firmware import Firmware
from hilrig.flash.interfaces import ProgressFn, Stage, Tracker
from hilrig.targets.spec import BoardSpec, EsptoolSpec, TargetSpec, board_name

log = logging.getLogger(__name__)

ROM_BAUD = 115200  # the ROM bootloader's rate; the stub then switches to EsptoolSpec.baud
DEFAULT_CONNECT_ATTEMPTS = 7  # esptool's own default


class EsptoolFlasher:
    """Flashes one ESP board with esptool; refuses a board whose chip or MAC differs."""

    def __init__(
        self, spec: TargetSpec, board: BoardSpec, connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS
    ) -> None:
        self.spec = spec
        self.board = board
        self.connect_attempts = connect_attempts

    def flash(self, firmware: Firmware, *, progress: ProgressFn, timeout_s: float) -> None:
        """Connect to the ROM bootloader, check the chip, write the image, hard-reset."""
        esp_spec = _esptool_spec(self.spec)
        check_chip_name(self.spec)
        name = board_name(self.spec, self.board)
        deadline = Deadline.after(timeout_s)
        port = flash_port(self.spec, self.board, timeout_s=min(5.0, timeout_s))
        doing = f"flashing {firmware.path} onto {name} at {port}"
        tracker = Tracker(progress, deadline, doing)
        tracker.report(Stage.CONNECT, detail=port)
        with _esptool_logging(tracker), _translated(doing, port):
            self._write(port, firmware, esp_spec, tracker)

    def _write(
        self, port: str, firmware: Firmware, esp_spec: EsptoolSpec, tracker: Tracker
    ) -> None:
        from esptool import cmds

        with cmds.detect_chip(
            port,
            baud=ROM_BAUD,
            connect_mode="default-reset",
            connect_attempts=self.connect_attempts,
        ) as esp:
            steady_read_timeout(esp, port)
            check_identity(esp, self.spec, self.board)
            esp = cmds.run_stub(esp)
            if esp_spec.baud != ROM_BAUD:
                esp.change_baud(esp_spec.baud)
            cmds.attach_flash(esp)
            if esp_spec.erase:
                tracker.report(Stage.ERASE)
                cmds.erase_flash(esp)
            tracker.report(Stage.WRITE, 0.0)
            cmds.write_flash(esp, [(esp_spec.offset, firmware.data)])
            tracker.report(Stage.RESET)
            cmds.reset_chip(esp, "hard-reset")


def steady_read_timeout(esp: Any, port: str) -> None:
    """On an RFC 2217 port, keep the read timeout at esptool's default between commands.

    esptool leaves the port's timeout unset and sets each command's own (3 s for most) around it;
    pyserial's RFC 2217 client renegotiates every port setting on each change and polls for the
    answers in 50 ms steps, so each command costs 0.2 s and ``attach_flash`` alone 12 s. With the
    timeout already at the default, esptool leaves it alone: flashing the simulated ESP32 takes
    5 s instead of 21 s. A local tty reconfigures in microseconds, so it is left as esptool has it.
    """
    if port.startswith("rfc2217://"):
        from esptool.loader import DEFAULT_TIMEOUT

        esp._port.timeout = DEFAULT_TIMEOUT  # the stub loader shares this port object


def check_identity(esp: Any, spec: TargetSpec, board: BoardSpec) -> None:
    """WrongBoard unless the chip is the spec's chip (and has the MAC the board names)."""
    from esptool.targets import CHIP_DEFS

    esp_spec = _esptool_spec(spec)
    wanted = CHIP_DEFS[esp_spec.chip].CHIP_NAME
    name = board_name(spec, board)
    if esp.CHIP_NAME != wanted:
        raise WrongBoard(
            f"{name} is an {wanted} in {spec.path}, but the chip on the port is an "
            f"{esp.CHIP_NAME}; nothing was written. Connect the right board, or fix flash.chip."
        )
    if board.mac:
        mac = ":".join(f"{b:02x}" for b in esp.read_mac())
        if mac != board.mac.lower().replace("-", ":"):
            raise WrongBoard(
                f"{name} should have MAC {board.mac}, but the {esp.CHIP_NAME} on the port has "
                f"{mac}; nothing was written. Connect the right board, or fix its mac."
            )


def check_chip_name(spec: TargetSpec) -> None:
    """ConfigError unless esptool knows flash.chip."""
    from esptool.targets import CHIP_DEFS

    chip = _esptool_spec(spec).chip
    if chip not in CHIP_DEFS:
        raise ConfigError(
            f"{spec.path}: flash.chip {chip!r} is not a chip esptool knows; use one of "
            f"{', '.join(CHIP_DEFS)}."
        )


def flash_port(spec: TargetSpec, board: BoardSpec, *, timeout_s: float) -> str:
    """The board's port; failing that, the one Espressif download-mode port attached.

    A blank ESP32-S3, or one held in download mode with BOOT, shows up as the chip's own
    USB-Serial/JTAG (303A:1001) rather than MicroPython's 303A:4001.
    """
    try:
        return ports.resolve_port(spec, board, timeout_s=timeout_s)
    except LinkError:
        download = [p for p in ports.list_serial_ports() if p.kind is ports.PortKind.ESPRESSIF]
        if len(download) != 1:
            raise
        log.info(
            "%s: using %s, an Espressif port in download mode", board.label(), download[0].device
        )
        return download[0].device


class EspHardReset:
    """Pulls EN low through RTS, as esptool's hard reset does (its ``HardReset``).

    DTR stays released throughout: DTR drives IO0, and IO0 low at reset means download mode.
    Only boards behind a USB-UART bridge (or the chip's USB-Serial/JTAG) have RTS wired to EN;
    MicroPython's own TinyUSB CDC (303A:40xx) has no EN line, so that case is refused.
    """

    def __init__(
        self, spec: TargetSpec, board: BoardSpec, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.spec = spec
        self.board = board
        self.sleep = sleep

    def reset(self, timeout_s: float) -> None:
        """Pulse RTS on the board's port; wait for a re-enumerating port to come back."""
        deadline = Deadline.after(timeout_s)
        port = ports.resolve_port(self.spec, self.board, timeout_s=deadline.remaining())
        hold_s, settle_s = self._timing(port)
        self._pulse(port, hold_s)
        self.sleep(settle_s)
        if self.spec.serial is not None and self.spec.serial.reenumerates:
            ports.wait_for_reenumeration(self.spec, self.board, timeout_s=deadline.remaining())

    def _timing(self, port: str) -> tuple[float, float]:
        name = board_name(self.spec, self.board)
        if port.startswith("socket://"):
            raise FlashError(
                f"cannot hard-reset {name} over {port}: socket:// carries no modem lines; "
                f"use an rfc2217:// URL (ser2net or esp_rfc2217_server)."
            )
        info = None if ports.is_url(port) else ports.port_info_for(port)
        if info is not None and info.kind is ports.PortKind.MICROPYTHON:
            raise FlashError(
                f"cannot hard-reset {name}: {port} is MicroPython's own USB port ({info.usb}), "
                f"which has no reset line; power-cycle the board."
            )
        if info is not None and info.kind is ports.PortKind.ESPRESSIF:
            return 0.2, 0.2  # USB-Serial/JTAG needs the longer pulse (esp_pylib serial_reset)
        return 0.1, 0.0

    def _pulse(self, port: str, hold_s: float) -> None:
        import serial

        try:
            ser = serial.serial_for_url(port, do_not_open=True)
            ser.dtr = False  # set before open(): opening would otherwise assert both lines
            ser.rts = False
            ser.open()
            try:
                pulse_reset(ser, hold_s, self.sleep)
            finally:
                ser.close()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise FlashError(
                f"cannot hard-reset {board_name(self.spec, self.board)} through {port}: {exc}; "
                f"close other programs using the port and check the cable."
            ) from exc


def pulse_reset(ser: Any, hold_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """``dtr=False; rts=True; sleep; rts=False`` on an open port: EN low, then released."""
    ser.dtr = False
    ser.rts = True
    sleep(hold_s)
    ser.rts = False


class _ToLogging(EspLogBase):
    """esptool's logger while hilrig drives it: text to logging, bars to the progress callback."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def print(self, *args: Any, **kwargs: Any) -> None:
        text = " ".join(str(a) for a in args).strip()
        if text:
            log.debug("esptool: %s", text)
        self.tracker.check()  # esptool prints while it retries to connect

    def note(self, *args: Any) -> None:
        log.info("esptool: %s", " ".join(str(a) for a in args))

    def hint(self, *args: Any) -> None:
        log.info("esptool: %s", " ".join(str(a) for a in args))

    def debug(self, *args: Any) -> None:
        log.debug("esptool: %s", "".join(str(a) for a in args))

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        log.warning("esptool: %s", " ".join(str(a) for a in args))

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        log.error("esptool: %s", " ".join(str(a) for a in args))

    def warning(self, message: str, suggestion: str | None = None) -> None:
        self.warn(message)

    def error(self, message: str, suggestion: str | None = None) -> None:
        self.err(message)

    def set_verbosity(self, mode: int | str) -> None:
        pass

    def progress_bar(
        self,
        cur_iter: int,
        total_iters: int,
        prefix: str = "",
        suffix: str = "",
        bar_length: int = 30,
    ) -> None:
        if total_iters > 0:
            self.tracker.report(self.tracker.stage, cur_iter / total_iters)


@contextmanager
def _esptool_logging(tracker: Tracker) -> Iterator[None]:
    from esptool.reset import ResetStrategy
    from esptool.util import PrintOnce

    ours = _ToLogging(tracker)
    saved, saved_once = EspLog.instance, ResetStrategy.print_once
    EspLog.instance = ours
    # esptool binds its "Chip was NOT reset" warning to the logger of import time.
    ResetStrategy.print_once = PrintOnce(ours.warn)
    try:
        yield
    finally:
        EspLog.instance, ResetStrategy.print_once = saved, saved_once


@contextmanager
def _translated(doing: str, port: str) -> Iterator[None]:
    """Turn esptool's, pyserial's and the OS's exceptions into FlashError sentences."""
    import serial
    from esptool.util import FatalError

    try:
        yield
    except HilrigError:
        raise
    except FatalError as exc:
        raise FlashError(f"{doing} failed: {_first_line(exc)}; {_fix_for(str(exc))}") from exc
    except (serial.SerialException, OSError) as exc:
        raise FlashError(
            f"{doing} failed: the serial port went away ({exc}); check the USB cable, then "
            f"flash again (the board holds no complete firmware now)."
        ) from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__


def _fix_for(message: str) -> str:
    if "Failed to connect" in message or "No serial data received" in message:
        return (
            "the chip's ROM bootloader did not answer: check the port and cable, or hold "
            "BOOT while pressing EN/RESET to enter download mode, then flash again."
        )
    if "Could not open" in message or "busy" in message:
        return "close any program holding the port (mpremote, screen, a running test)."
    return "see `hilrig --debug flash ...` for esptool's log."


def _esptool_spec(spec: TargetSpec) -> EsptoolSpec:
    if spec.flash is None or spec.flash.esptool is None:
        raise ConfigError(f'target {spec.name} ({spec.path}) has no [flash] tool = "esptool".')
    return spec.flash.esptool
