"""The ESP serial download protocol's vocabulary: opcodes, error codes, data-block checks.

A request is a SLIP frame ``00 op len16 chk32 data``; the answer is ``01 op len16 val32 data``
whose data ends in status bytes. Data blocks (MEM_DATA, FLASH_DATA, FLASH_DEFL_DATA) start with
``size, seq, 0, 0`` and carry a checksum: 0xEF XORed with every payload byte.
"""

from __future__ import annotations

import enum
import struct

from hilrig.sim.image import xor_bytes

CHECKSUM_SEED = 0xEF
SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32
ROM_SYNC_VALUE = 0x20120707  # any non-zero value tells esptool the ROM (not a stub) answered


class Op(enum.IntEnum):
    """Command opcodes (esptool's ESP_CMDS)."""

    FLASH_BEGIN = 0x02
    FLASH_DATA = 0x03
    FLASH_END = 0x04
    MEM_BEGIN = 0x05
    MEM_END = 0x06
    MEM_DATA = 0x07
    SYNC = 0x08
    WRITE_REG = 0x09
    READ_REG = 0x0A
    SPI_SET_PARAMS = 0x0B
    SPI_ATTACH = 0x0D
    READ_FLASH_SLOW = 0x0E
    CHANGE_BAUDRATE = 0x0F
    FLASH_DEFL_BEGIN = 0x10
    FLASH_DEFL_DATA = 0x11
    FLASH_DEFL_END = 0x12
    SPI_FLASH_MD5 = 0x13
    ERASE_FLASH = 0xD0
    ERASE_REGION = 0xD1
    READ_FLASH = 0xD2
    RUN_USER_CODE = 0xD3


GET_SECURITY_INFO = 0x14  # ESP32-S2 and later; esptool tries it first to tell chips apart
ROM_ONLY = frozenset({Op.READ_FLASH_SLOW})
STUB_ONLY = frozenset({Op.ERASE_FLASH, Op.ERASE_REGION, Op.READ_FLASH, Op.RUN_USER_CODE})


class Failure(enum.Enum):
    """Why a command failed, with the ROM's and the stub's error code for it."""

    INVALID = (0x05, 0xC3)  # malformed request / unknown command
    FAILED = (0x06, 0xC4)  # well-formed, but the chip cannot do it
    CHECKSUM = (0x07, 0xC1)
    BAD_LENGTH = (0x05, 0xC0)
    INFLATE = (0x0B, 0xC7)
    TOO_MUCH = (0x06, 0xC9)
    NOT_IN_FLASH_MODE = (0x06, 0xC6)
    NOT_IMPLEMENTED = (0x05, 0xFF)


class CommandFailed(Exception):
    """Raised inside a handler; answered with the failure's status code."""

    def __init__(self, failure: Failure, why: str) -> None:
        super().__init__(why)
        self.failure = failure


def unpack(fmt: str, data: bytes) -> tuple[int, ...]:
    if len(data) != struct.calcsize(fmt):
        raise CommandFailed(Failure.BAD_LENGTH, f"{len(data)} parameter bytes")
    return struct.unpack(fmt, data)


def block_payload(data: bytes, chk: int, expected_seq: int) -> bytes:
    """The payload of a *_DATA request, after checking its length, sequence and checksum."""
    if len(data) < 16:
        raise CommandFailed(Failure.BAD_LENGTH, "data block without its 16-byte header")
    size, seq, _, _ = struct.unpack_from("<IIII", data)
    block = data[16:]
    if size != len(block):
        raise CommandFailed(Failure.BAD_LENGTH, f"block says {size} bytes, carries {len(block)}")
    if seq != expected_seq:
        raise CommandFailed(Failure.INVALID, f"block {seq} where {expected_seq} was due")
    if checksum(block) != chk & 0xFF:
        raise CommandFailed(Failure.CHECKSUM, f"checksum of block {seq} does not match")
    return block


def checksum(data: bytes) -> int:
    """The loader's XOR checksum, seeded with 0xEF."""
    return xor_bytes(data, CHECKSUM_SEED)
