"""What the simulated ROM checks before it boots an image from flash.

An ESP32 image is an 8-byte header (magic 0xE9, segment count, SPI mode, SPI speed/size, entry
point), a 16-byte extended header (chip ID, revisions, "SHA-256 appended" flag), then segments
of (load address, length, data), an XOR checksum byte (seed 0xEF) at the last byte of a 16-byte
block, and optionally the SHA-256 of everything before it. The real ROM checks the magic and
the checksum; the simulator also checks the chip ID and the appended SHA-256, so that a torn
write never boots.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
ESP32_CHIP_ID = 0
MAX_SEGMENTS = 16
HEADER = struct.Struct("<BBBBI")
EXTENDED = struct.Struct("<BBBBHBHH4sB")
SEGMENT = struct.Struct("<II")

ReadFn = Callable[[int, int], bytes]


@dataclass(frozen=True)
class BootImage:
    """The verdict on the image at one flash offset."""

    valid: bool
    header_word: int  # the first 32-bit word, which the ROM prints for a bad header
    reason: str = ""  # why it does not boot; empty when valid
    sha256: str = ""  # of the whole image (header to digest), when valid
    size: int = 0
    entry: int = 0


def check_image(read: ReadFn, offset: int, flash_size: int) -> BootImage:
    """Parse and check the image at ``offset``; never raises on garbage."""
    head = read(offset, HEADER.size + EXTENDED.size)
    word = int.from_bytes(head[:4], "little") if len(head) >= 4 else 0xFFFFFFFF
    if len(head) < HEADER.size + EXTENDED.size:
        return BootImage(False, word, "the image runs past the end of flash")
    magic, count, _mode, _speed, entry = HEADER.unpack_from(head)
    ext = EXTENDED.unpack_from(head, HEADER.size)
    chip_id, digest_flag = ext[4], ext[9]
    if magic != MAGIC:
        return BootImage(False, word, f"magic byte {magic:#04x} is not {MAGIC:#04x}")
    if not 1 <= count <= MAX_SEGMENTS:
        return BootImage(False, word, f"{count} segments (1-{MAX_SEGMENTS} allowed)")
    if chip_id != ESP32_CHIP_ID:
        return BootImage(False, word, f"chip ID {chip_id} is not the ESP32's {ESP32_CHIP_ID}")
    return _check_body(read, offset, flash_size, count, digest_flag == 1, word, entry)


def _check_body(
    read: ReadFn,
    offset: int,
    flash_size: int,
    count: int,
    digest: bool,
    word: int,
    entry: int,
) -> BootImage:
    pos = offset + HEADER.size + EXTENDED.size
    checksum = CHECKSUM_SEED
    for index in range(count):
        seg = read(pos, SEGMENT.size)
        if len(seg) < SEGMENT.size:
            return BootImage(False, word, f"segment {index} runs past the end of flash")
        _addr, length = SEGMENT.unpack(seg)
        if pos + SEGMENT.size + length > flash_size:
            return BootImage(False, word, f"segment {index} ({length} bytes) overruns flash")
        data = read(pos + SEGMENT.size, length)
        checksum = xor_bytes(data, checksum)
        pos += SEGMENT.size + length
    pos += 15 - (pos - offset) % 16  # the checksum ends a 16-byte block
    stored = read(pos, 1)
    if not stored or stored[0] != checksum:
        got = stored[0] if stored else None
        return BootImage(False, word, f"checksum {got!r} is not the computed {checksum:#04x}")
    end = pos + 1
    if digest:
        body = read(offset, end - offset)
        if read(end, 32) != hashlib.sha256(body).digest():
            return BootImage(False, word, "the appended SHA-256 does not match the image")
        end += 32
    whole = read(offset, end - offset)
    return BootImage(True, word, "", hashlib.sha256(whole).hexdigest(), end - offset, entry)


def xor_bytes(data: bytes, state: int) -> int:
    """``state`` XORed with every byte of ``data``."""
    # XOR of all bytes via one big integer: fast in CPython for images of megabytes.
    if not data:
        return state
    folded = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = (width + 1) // 2
        folded ^= folded >> (8 * half)
        folded &= (1 << (8 * half)) - 1
        width = half
    return state ^ (folded & 0xFF)
