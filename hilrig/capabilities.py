"""What a board's firmware can do, as learned by the capability probe at connect."""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass

# Native architectures by number, as in MicroPython's py/persistentcode.h and mpy-cross -march.
ARCH_NAMES: tuple[str | None, ...] = (
    None,
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)


class ErrorReporting(enum.IntEnum):
    """MICROPY_ERROR_REPORTING level, from the length of a TypeError message."""

    NONE = 0
    TERSE = 1
    NORMAL = 2
    DETAILED = 3


@dataclass(frozen=True)
class Capabilities:
    """The capability probe's answer; everything later steps need to know about the firmware."""

    platform: str  # sys.platform: "linux", "microbit", "pyboard", "esp32" ...
    version: tuple[int, int, int]  # sys.implementation.version
    banner: str  # the friendly REPL banner line, e.g. "MicroPython v1.9.2-34-gd64154c73 on ..."
    sys_version: str = ""  # sys.version
    mpy: int | None = None  # sys.implementation._mpy (or .mpy before 1.19); None when absent
    machine: str = ""  # sys.implementation._machine or os.uname().machine
    build: str = ""  # sys.implementation._build
    float_bits: int = 0  # 0 no floats, 30, 32 single, 64 double
    small_int_bits: int = 31  # bits of a small int including sign (31 on 32-bit boards, 63 unix)
    bigint: bool = True  # ints grow past small ints (mpz / long long)
    error_reporting: ErrorReporting = ErrorReporting.NORMAL
    mem_free: int | None = None
    modules: frozenset[str] = frozenset()  # modules of interest that import on the board
    can_import_mpy: bool = False  # a RAM VFS + .mpy import works
    raw_paste: bool = False
    features: frozenset[str] = frozenset()  # language features the probe found (FEATURES' names)
    byteorder: str = ""  # sys.byteorder

    @property
    def mpy_version(self) -> int | None:
        """The .mpy major version the firmware loads, or None if it cannot say."""
        return None if self.mpy is None else self.mpy & 0xFF

    @property
    def mpy_sub_version(self) -> int:
        """The .mpy sub-version (v6 firmware: 0-3)."""
        return 0 if self.mpy is None else (self.mpy >> 8) & 3

    @property
    def arch_number(self) -> int:
        """Native arch number; 0 means the firmware loads no native code."""
        return 0 if self.mpy is None else (self.mpy >> 10) & 0x0F

    @property
    def arch(self) -> str | None:
        """Native arch name for mpy-cross -march, or None."""
        n = self.arch_number
        return ARCH_NAMES[n] if n < len(ARCH_NAMES) else None

    @property
    def version_text(self) -> str:
        """'1.9.2' style version string."""
        return ".".join(str(p) for p in self.version)


# CPython as a reference (--hil-reference=cpython), and what a reference without capabilities is
# taken to be: a .py.exp file, as MicroPython's own test suite records them from CPython.
CPYTHON_CAPS = Capabilities(
    platform="cpython",
    version=(sys.version_info[0], sys.version_info[1], sys.version_info[2]),
    banner=f"CPython {sys.version.split()[0]}",
    float_bits=64,
    small_int_bits=64,
    bigint=True,
    error_reporting=ErrorReporting.DETAILED,
    features=frozenset(
        "int_big int_64 bytearray set slice async reverse_ops fstring complex".split()
        + (["tstring"] if sys.version_info >= (3, 14) else [])
    ),
    byteorder=sys.byteorder,
)
