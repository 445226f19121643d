"""SWD boards through pyOCD's Python API: list probes, identify the board, flash, reset.

pyOCD is imported only by this module, and this module only when a pyOCD target is used. The
probe is chosen here, not by pyOCD: pyOCD's own chooser prints and may prompt on stdin, so the
probe list is read first, checked against the target file, and then the one chosen probe is
opened with ``ConnectHelper.session_with_chosen_probe(unique_id=..., return_first=True)``.
"""

from __future__ import annotations

import difflib
import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hilrig.boards import ports
from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, FlashError, HilrigError, WrongBoard
from hilrig.flash.firmware import Firmware, FirmwareFormat
from hilrig.flash.interfaces import ProgressFn, Stage, Tracker
from hilrig.targets.spec import BoardSpec, PyocdSpec, TargetSpec, board_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeInfo:
    """A connected debug probe and the board it says it sits on (DAPLink / ST-Link board ID)."""

    unique_id: str
    description: str
    board_name: str | None = None
    board_target: str | None = None  # pyOCD target type of that board, e.g. "nrf51"


def list_probes() -> list[ProbeInfo]:
    """The connected debug probes; never waits for one to appear."""
    from pyocd.core.helpers import ConnectHelper

    with _translated("listing debug probes", "check the USB connection of each probe"):
        probes = ConnectHelper.get_all_connected_probes(blocking=False)
        return [_probe_info(p) for p in probes]


def select_probe(probes: Sequence[ProbeInfo], spec: TargetSpec, board: BoardSpec) -> ProbeInfo:
    """The probe of ``board``, or WrongBoard/FlashError saying why none can be trusted."""
    name = board_name(spec, board)
    if not probes:
        raise FlashError(
            f"no debug probe attached for {name}; connect the board's debug USB port "
            f"(ST-Link or DAPLink) and, on Linux, install pyOCD's udev rules."
        )
    if board.probe_id:
        chosen = [p for p in probes if p.unique_id.lower() == board.probe_id.lower()]
        if not chosen:
            raise WrongBoard(
                f"no debug probe with unique ID {board.probe_id} is attached for {name} "
                f"(attached: {_listing(probes)}); connect that board, or set probe_id in "
                f"{spec.path} to the right ID. Nothing was written."
            )
        probe = chosen[0]
    elif len(probes) > 1:
        raise WrongBoard(
            f"{len(probes)} debug probes are attached ({_listing(probes)}) and {spec.path} names "
            f"none for {name}; set probe_id for the board to one of these IDs. Nothing was written."
        )
    else:
        probe = probes[0]
    _check_board_target(probe, spec, name)
    return probe


def _check_board_target(probe: ProbeInfo, spec: TargetSpec, name: str) -> None:
    target_type = _pyocd_spec(spec).target_type
    if probe.board_target and probe.board_target.lower() != target_type.lower():
        raise WrongBoard(
            f"debug probe {probe.unique_id} sits on a {probe.board_name} ({probe.board_target}), "
            f"not on the {target_type} that {spec.path} names for {name}; nothing was written. "
            f"Connect the right board, or fix flash.target_type."
        )


class PyocdFlasher:
    """Flashes one SWD board with pyOCD's FileProgrammer, then resets it."""

    def __init__(self, spec: TargetSpec, board: BoardSpec) -> None:
        self.spec = spec
        self.board = board

    def flash(self, firmware: Firmware, *, progress: ProgressFn, timeout_s: float) -> None:
        """Identify the board, program the file (sector erase, smart flash), reset the target."""
        from pyocd.flash.file_programmer import FileProgrammer

        doing = f"flashing {firmware.path} onto {board_name(self.spec, self.board)}"
        tracker = Tracker(progress, Deadline.after(timeout_s), doing)
        check_target_type(self.spec)
        check_fits_flash(self.spec, self.board, firmware)
        tracker.report(Stage.CONNECT)
        with _translated(doing, "check the cable and the board's power, then try again"):
            with open_session(self.spec, self.board, connect_mode="halt") as session:
                tracker.report(Stage.WRITE, 0.0)
                programmer = FileProgrammer(
                    session,
                    progress=lambda done: tracker.report(Stage.WRITE, done),
                    chip_erase="sector",
                    smart_flash=True,
                )
                programmer.program(
                    _stream(firmware),
                    file_format=firmware.format.value,
                    **self._bin_options(firmware),
                )
                tracker.report(Stage.RESET)
                session.target.reset()

    def _bin_options(self, firmware: Firmware) -> dict[str, int]:
        base = _pyocd_spec(self.spec).base_address
        if firmware.format is FirmwareFormat.BIN and base is not None:
            return {"base_address": base}
        return {}


class PyocdHardReset:
    """Resets an SWD board through its probe (``target.reset()``), without halting it first."""

    def __init__(self, spec: TargetSpec, board: BoardSpec) -> None:
        self.spec = spec
        self.board = board

    def reset(self, timeout_s: float) -> None:
        """Attach to the running target and reset it; the firmware restarts from its vector."""
        doing = f"resetting {board_name(self.spec, self.board)} through its debug probe"
        deadline = Deadline.after(timeout_s)
        tracker = Tracker(lambda report: None, deadline, doing)
        tracker.report(Stage.CONNECT)
        with _translated(doing, "unplug and replug the board's USB cable"):
            with open_session(self.spec, self.board, connect_mode="attach") as session:
                tracker.report(Stage.RESET)
                session.target.reset()
        if self.spec.serial is not None and self.spec.serial.reenumerates:
            # a board with its own USB port (pyboard, rp2) drops off the bus while it restarts
            ports.wait_for_reenumeration(self.spec, self.board, timeout_s=deadline.remaining())


@contextmanager
def open_session(spec: TargetSpec, board: BoardSpec, connect_mode: str) -> Iterator[Any]:
    """An open pyOCD session on the board's own probe, checked before it is opened."""
    from pyocd.core.helpers import ConnectHelper

    probe = select_probe(list_probes(), spec, board)
    pyocd_spec = _pyocd_spec(spec)
    session = ConnectHelper.session_with_chosen_probe(
        blocking=False,
        return_first=True,
        unique_id=probe.unique_id,
        target_override=pyocd_spec.target_type,
        frequency=pyocd_spec.frequency_hz,
        connect_mode=connect_mode,
        options={"hide_programming_progress": True},
    )
    if session is None:
        raise FlashError(
            f"debug probe {probe.unique_id} of {board_name(spec, board)} disappeared before it "
            f"could be opened; check its USB cable."
        )
    with session:
        opened = str(session.probe.unique_id)
        if opened != probe.unique_id:  # unique_id is a substring match in pyOCD
            raise WrongBoard(f"pyOCD opened probe {opened} instead of {probe.unique_id}.")
        yield session


def check_target_type(spec: TargetSpec) -> None:
    """ConfigError unless pyOCD knows flash.target_type (built in or from an installed pack)."""
    from pyocd.target import TARGET

    wanted = _pyocd_spec(spec).target_type.lower()
    if wanted in TARGET:
        return
    packs = _pack_targets()
    if wanted in packs:
        return
    close = difflib.get_close_matches(wanted, [*TARGET, *packs], n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ConfigError(
        f"{spec.path}: flash.target_type {wanted!r} is not a pyOCD target type{hint}; "
        f"`pyocd list --targets` lists them, `pyocd pack install {wanted}` adds pack targets."
    )


def check_fits_flash(spec: TargetSpec, board: BoardSpec, firmware: Firmware) -> None:
    """FlashError if the file puts data outside the target's flash, checked against pyOCD's
    memory map of a built-in target type (pack targets are left to pyOCD).

    pyOCD itself only logs a warning and skips such data, so a micro:bit .hex "flashed" onto an
    STM32 would write nothing and still succeed.
    """
    from pyocd.target import TARGET

    pyocd_spec = _pyocd_spec(spec)
    memory_map = getattr(TARGET.get(pyocd_spec.target_type.lower()), "MEMORY_MAP", None)
    if memory_map is None:
        return
    boot = memory_map.get_boot_memory()
    base = pyocd_spec.base_address
    if base is None:
        base = boot.start if boot is not None else 0
    for start, end in _data_ranges(firmware, base):
        if not _in_flash(memory_map, start, end):
            raise FlashError(
                f"{firmware.path} puts data at {start:#010x}-{end - 1:#010x}, outside the flash "
                f"of {board_name(spec, board)} ({pyocd_spec.target_type}: "
                f"{_flash_ranges(memory_map)}); is it the firmware of another board? Nothing "
                f"was written."
            )


def _data_ranges(firmware: Firmware, base: int) -> list[tuple[int, int]]:
    """[start, end) address ranges the file writes."""
    if firmware.format is FirmwareFormat.BIN:
        return [(base, base + len(firmware.data))]
    if firmware.format is FirmwareFormat.HEX:
        from intelhex import IntelHex

        segments = IntelHex(io.StringIO(firmware.data.decode("ascii"))).segments()
        return [(int(start), int(end)) for start, end in segments]
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(firmware.data))
        return [
            (seg["p_paddr"], seg["p_paddr"] + seg["p_filesz"])
            for seg in elf.iter_segments()
            if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]
        ]
    except ELFError as exc:
        raise FlashError(f"{firmware.path} is not a valid ELF file: {exc}.") from exc


def _in_flash(memory_map: Any, start: int, end: int) -> bool:
    address = start
    while address < end:
        region = memory_map.get_region_for_address(address)
        if region is None or not region.is_flash:
            return False
        address = region.end + 1
    return True


def _flash_ranges(memory_map: Any) -> str:
    """The flash of a memory map as merged address ranges, e.g. '0x08000000-0x081fffff'."""
    merged: list[list[int]] = []
    for region in sorted((r for r in memory_map.regions if r.is_flash), key=lambda r: r.start):
        if merged and region.start == merged[-1][1] + 1:
            merged[-1][1] = region.end
        else:
            merged.append([region.start, region.end])
    return ", ".join(f"{start:#010x}-{end:#010x}" for start, end in merged)


def _pack_targets() -> list[str]:
    from pyocd.target.pack.pack_target import ManagedPacks

    try:
        return [str(dev.part_number).lower() for dev in ManagedPacks.get_installed_targets()]
    except Exception as exc:  # noqa: BLE001 - a broken pack cache must not hide the real answer
        log.debug("cannot read pyOCD's installed packs: %s", exc)
        return []


def _pyocd_spec(spec: TargetSpec) -> PyocdSpec:
    if spec.flash is None or spec.flash.pyocd is None:
        raise ConfigError(f'target {spec.name} ({spec.path}) has no [flash] tool = "pyocd".')
    return spec.flash.pyocd


def _probe_info(probe: Any) -> ProbeInfo:
    info = probe.associated_board_info
    return ProbeInfo(
        unique_id=str(probe.unique_id),
        description=str(probe.description),
        board_name=info.name if info else None,
        board_target=info.target if info else None,
    )


def _listing(probes: Sequence[ProbeInfo]) -> str:
    return ", ".join(f"{p.unique_id} ({p.board_name or p.description})" for p in probes)


def _stream(firmware: Firmware) -> io.IOBase:
    """The checked bytes for FileProgrammer; pyOCD reads Intel HEX as text."""
    if firmware.format is FirmwareFormat.HEX:
        return io.StringIO(firmware.data.decode("ascii"))
    return io.BytesIO(firmware.data)


@contextmanager
def _translated(doing: str, fix: str) -> Iterator[None]:
    """Turn pyOCD's and the USB stack's exceptions into FlashError sentences."""
    from pyocd.core import exceptions as pe

    try:
        yield
    except HilrigError:
        raise
    except pe.ProbeDisconnected as exc:
        raise FlashError(f"{doing} failed: the debug probe disconnected ({exc}); {fix}.") from exc
    except pe.TransferError as exc:
        raise FlashError(
            f"{doing} failed: an SWD transfer failed ({exc}); check the target's power and that "
            f"no other debugger (OpenOCD, STM32CubeProgrammer, another pyOCD) holds the probe."
        ) from exc
    except pe.FlashFailure as exc:
        raise FlashError(
            f"{doing} failed: the flash algorithm reported an error ({exc}); the flash may be "
            f"write-protected (read-out protection or option bytes) and need unlocking."
        ) from exc
    except pe.Error as exc:
        raise FlashError(f"{doing} failed: {type(exc).__name__}: {exc}; {fix}.") from exc
    except OSError as exc:
        raise FlashError(
            f"{doing} failed: USB access to the probe failed ({exc}); on Linux install pyOCD's "
            f"udev rules and replug the probe."
        ) from exc
