"""The simulated chip's SPI NOR flash: in memory, or in a file so it survives a restart.

NOR flash semantics are kept: erasing sets a whole 4 KiB sector to 0xFF, and programming can
only clear bits (the written byte is ANDed with what is there), so a loader that forgets to
erase before writing leaves the same garbage a real chip would.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

from hilrig.errors import ConfigError

SECTOR = 0x1000
SIZES = (1, 2, 4, 8, 16)  # MiB the simulated flash can have


class SimFlash:
    """Flash contents with erase, program, read and MD5; a context manager when file-backed."""

    def __init__(self, size: int, path: Path | None = None) -> None:
        if size not in [n << 20 for n in SIZES]:
            raise ConfigError(
                f"flash size {size} is not one of {', '.join(f'{n} MiB' for n in SIZES)}; "
                f"pass a size in bytes such as {4 << 20}."
            )
        self.size = size
        self.path = path
        self._file: int | None = None
        self._mem: bytearray | mmap.mmap = bytearray(b"\xff" * size)

    def open(self) -> SimFlash:
        """Map the backing file (created erased if absent); a no-op for in-memory flash."""
        if self.path is None:
            return self
        try:
            fresh = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(
                f"cannot open the flash file {self.path} ({exc.strerror}); pass a writable path."
            ) from exc
        have = os.fstat(fd).st_size
        if fresh or have == 0:
            os.write(fd, b"\xff" * self.size)
        elif have != self.size:
            os.close(fd)
            raise ConfigError(
                f"the flash file {self.path} holds {have} bytes, but the simulated flash has "
                f"{self.size}; pass --flash-size {have} or another file."
            )
        self._file = fd
        self._mem = mmap.mmap(fd, self.size)
        return self

    def close(self) -> None:
        """Flush and unmap the backing file."""
        if isinstance(self._mem, mmap.mmap):
            self._mem.flush()
            self._mem.close()
            self._mem = bytearray()
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def __enter__(self) -> SimFlash:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def contains(self, offset: int, length: int) -> bool:
        """True if the range lies inside the flash."""
        return 0 <= offset and length >= 0 and offset + length <= self.size

    def erase(self, offset: int, length: int) -> None:
        """Erase every sector the range touches."""
        start = offset - offset % SECTOR
        end = min(self.size, -(-(offset + length) // SECTOR) * SECTOR)
        if end > start:
            self._mem[start:end] = b"\xff" * (end - start)

    def erase_all(self) -> None:
        """Chip erase."""
        self.erase(0, self.size)

    def program(self, offset: int, data: bytes) -> None:
        """Write ``data``: each bit can only go from 1 to 0."""
        old = int.from_bytes(self._mem[offset : offset + len(data)], "big")
        new = old & int.from_bytes(data, "big")
        self._mem[offset : offset + len(data)] = new.to_bytes(len(data), "big")

    def read(self, offset: int, length: int) -> bytes:
        """Bytes of the range (clipped to the flash)."""
        return bytes(self._mem[offset : offset + length])

    def md5(self, offset: int, length: int) -> bytes:
        """MD5 digest of a range, as SPI_FLASH_MD5 computes it."""
        return hashlib.md5(self._mem[offset : offset + length]).digest()
