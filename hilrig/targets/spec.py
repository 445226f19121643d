"""What a target file says, as frozen data: :class:`TargetSpec` and its sections.

A target says what kind of board it is (the host VM, a QEMU machine, a board on a serial port, or
a place of a labgrid board farm),
how to reach it, how to flash it, and how its output is compared. :mod:`hilrig.targets.load`
validates a file once into these, so every later step can trust them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Kind(enum.Enum):
    """How hilrig reaches a board."""

    HOSTVM = "hostvm"  # the unix port, `micropython -i` on a pty
    QEMU = "qemu"  # a qemu-system-* machine, its serial port on a Unix socket
    SERIAL = "serial"  # a board behind a serial device or a pyserial URL
    LABGRID = "labgrid"  # a place of a labgrid coordinator, leased for the run


class LoadMode(enum.Enum):
    """How a program reaches the board."""

    AUTO = "auto"  # .mpy when the board can import it, else source
    MPY = "mpy"
    SOURCE = "source"


@dataclass(frozen=True)
class HostVMSpec:
    """The unix port; ``command`` overrides how it is started, ``path`` extends its module path."""

    command: tuple[str, ...] | None = None
    path: tuple[Path, ...] = ()  # MICROPYPATH entries, before any the environment gives
    heap_bytes: int | None = None  # the VM's GC heap (-X heapsize), e.g. a board's; None: 2 MiB


@dataclass(frozen=True)
class QemuSpec:
    """A QEMU machine booting MicroPython firmware, serial console on a pty."""

    machine: str
    firmware: Path | None
    binary: str = "qemu-system-arm"
    loader: str = "device"  # "device": -device loader,file=...; "kernel": -kernel FILE
    args: tuple[str, ...] = ()
    boot_timeout_s: float = 15.0
    install_hint: str = ""
    firmware_env: str = ""  # an environment variable naming the firmware when none is given
    # The firmware reads its UART by polling the data register (MicroPython's qemu port), so
    # QEMU holds input until the guest reads it: nothing is lost, a program goes in one write,
    # and QEMU's multiplexer reads input ahead of the UART (hilrig.boards.qemu). False for
    # firmware that buffers input in an interrupt-fed ring (the micro:bit's drops what does not
    # fit), where input is paced or sent in raw-paste windows.
    lossless_input: bool = False


@dataclass(frozen=True)
class BoardSpec:
    """One physical board of a target: how to find its port and how to know it is this one."""

    port: str | None = None  # device path or pyserial URL (rfc2217://, socket://)
    usb_serial: str | None = None  # USB serial number of the board's serial port
    vid_pid: str | None = None  # "F055:9802"; used with usb_serial or alone
    probe_id: str | None = None  # pyOCD probe unique ID
    mac: str | None = None  # ESP chip MAC, "aa:bb:cc:dd:ee:ff"

    def label(self) -> str:
        """A short human name for messages: the port, probe or serial number."""
        return self.port or self.probe_id or self.usb_serial or self.mac or self.vid_pid or "board"


@dataclass(frozen=True)
class SerialSpec:
    """Serial settings shared by all boards of a serial target."""

    baud: int = 115200
    exclusive: bool = True
    reenumerates: bool = False  # native USB CDC: the port vanishes and returns after a reset


@dataclass(frozen=True)
class LabgridSpec:
    """A board farm run by labgrid: which coordinator, and which of its places fit.

    A place fits when it has every tag in ``tags`` (and is called ``place``, when that is set).
    ``lease_s``: how long a place a run holds stays its own without a sign of life from it; a run
    killed hard loses its places that long after its last heartbeat.
    """

    coordinator: str  # "host:port" of labgrid-coordinator
    place: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    lease_s: float = 60.0
    serial: str | None = None  # resource name of the NetworkSerialPort when a place has several
    power: str | None = None  # resource name of the power port when a place has several

    def wanted(self) -> str:
        """'place mb-1' or 'a place with tags board=microbit' for messages."""
        if self.place is not None:
            return f"place {self.place}"
        return "a place with tags " + ", ".join(f"{k}={v}" for k, v in self.tags)


@dataclass(frozen=True)
class PyocdSpec:
    """pyOCD flashing: the target type and probe settings."""

    target_type: str
    frequency_hz: int = 4_000_000
    flash_size: int | None = None  # bytes; checked against .bin files before touching the probe
    base_address: int | None = None  # where a .bin goes; default is the boot memory


@dataclass(frozen=True)
class EsptoolSpec:
    """esptool flashing: chip, offset and baud rate."""

    chip: str
    offset: int
    baud: int = 460800
    flash_size: int | None = None  # bytes
    erase: bool = False


@dataclass(frozen=True)
class FlashSpec:
    """How the target's boards are flashed; exactly one tool section is set."""

    tool: str  # "pyocd" | "esptool"
    pyocd: PyocdSpec | None = None
    esptool: EsptoolSpec | None = None


@dataclass(frozen=True)
class CompareSpec:
    """Which normalisers apply when board output is compared with the reference."""

    floats: bool = True  # compare floats at the board's precision
    ints: bool = True  # accept board-side overflow where the host has bignums
    error_messages: bool = True  # compare exception types, not texts, where the board is terse
    line_endings: bool = True  # \r\n -> \n
    handler_frames: bool = True  # collapse 1.9's extra traceback entries per exception handler


@dataclass(frozen=True)
class ReplSpec:
    """How code is sent in plain raw mode (firmware without raw-paste has no flow control)."""

    # micro:bit 1.9.2 drops what its 64-byte receive ring cannot hold while its main loop is
    # busy; on a quiet host 16-byte chunks 2 ms apart lost none in 800 runs. Serial boards only:
    # QEMU targets pace against what the emulator has read (hilrig.boards.qemu.INPUT_IN_FLIGHT).
    plain_chunk_bytes: int = 16
    plain_pause_s: float = 0.002


@dataclass(frozen=True)
class Wiring:
    """How the test rig is wired (the target file's ``[wiring]`` table): names and values that
    programs and fixture tests import as the module ``target_wiring``, the module MicroPython's
    ``run-tests.py --target-wiring`` gives its hardware tests (``uart_loopback_args = [0]``)."""

    values: tuple[tuple[str, object], ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """The names the module defines."""
        return frozenset(name for name, _ in self.values)

    def as_dict(self) -> dict[str, object]:
        """Name to value (TOML arrays are lists, tables are dicts)."""
        return dict(self.values)

    def module_source(self) -> str:
        """Python source that defines the names: ``name = <repr of value>`` lines."""
        return "".join(f"{name} = {value!r}\n" for name, value in self.values)


@dataclass(frozen=True)
class TargetSpec:
    """Everything hilrig knows about a target before it talks to the board."""

    name: str
    path: Path
    kind: Kind
    description: str = ""
    timeout_s: float | None = None  # per-program wall-clock limit; None: the run's default
    load: LoadMode = LoadMode.AUTO
    emit: str = "bytecode"
    arch: str | None = None  # mpy-cross -march; None: from the board's sys.implementation._mpy
    hostvm: HostVMSpec | None = None
    qemu: QemuSpec | None = None
    serial: SerialSpec | None = None
    labgrid: LabgridSpec | None = None
    boards: tuple[BoardSpec, ...] = ()
    instances: int = 1  # QEMU / host VM: copies at once; labgrid: places leased at once
    flash: FlashSpec | None = None
    compare: CompareSpec = field(default_factory=CompareSpec)
    repl: ReplSpec = field(default_factory=ReplSpec)
    max_output_bytes: int = 1_000_000
    wiring: Wiring = field(default_factory=Wiring)

    def board_count(self) -> int:
        """How many boards of this target may run programs at the same time."""
        return len(self.boards) if self.kind is Kind.SERIAL else self.instances


def board_name(spec: TargetSpec, board: BoardSpec) -> str:
    """'board <id> of target <name>' for messages."""
    what = f" ({spec.description})" if spec.description else ""
    return f"board {board.label()} of target {spec.name}{what}"
