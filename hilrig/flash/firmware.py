"""Firmware files, checked before any probe or port is touched.

A file is read once: its format comes from the extension and is then verified against the bytes
(Intel HEX records, the ELF magic, the ESP image magic), its size against the target's flash, and
its sha256 is what the flash record remembers. The same bytes are what the backend writes.
"""

from __future__ import annotations

import enum
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from hilrig.errors import FlashError, ToolMissing
from hilrig.flash.interfaces import require_flash
from hilrig.targets.spec import BoardSpec, FlashSpec, TargetSpec, board_name

ESP_IMAGE_MAGIC = 0xE9  # first byte of every ESP bootloader and app image (esptool loader.py)


class FirmwareFormat(enum.Enum):
    """A file format pyOCD or esptool can program; the value is pyOCD's ``file_format``."""

    HEX = "hex"
    BIN = "bin"
    ELF = "elf"


_EXTENSIONS = {
    ".hex": FirmwareFormat.HEX,
    ".bin": FirmwareFormat.BIN,
    ".elf": FirmwareFormat.ELF,
    ".axf": FirmwareFormat.ELF,
}


@dataclass(frozen=True)
class Firmware:
    """A checked firmware file and the exact bytes that will be written."""

    path: Path
    format: FirmwareFormat
    size: int  # bytes of the file
    sha256: str
    data: bytes = field(repr=False, compare=False)

    @property
    def short_sha(self) -> str:
        """The first 12 hex digits of the sha256, for messages."""
        return self.sha256[:12]


def check_firmware(path: Path, spec: TargetSpec, board: BoardSpec) -> Firmware:
    """Read and check a firmware file for a target; refuse anything that cannot fit the board."""
    flash = require_flash(spec)
    name = board_name(spec, board)
    fmt = _format_for(path, flash, name)
    data = _read(path, name)
    if not data:
        raise FlashError(f"firmware file {path} is empty; rebuild it before flashing {name}.")
    if fmt is FirmwareFormat.HEX:
        payload = _hex_payload(data, path, name)
    elif fmt is FirmwareFormat.ELF:
        payload = _elf_payload(data, path, name)
    else:
        payload = _bin_payload(data, path, flash, name)
    _check_size(payload, path, flash, name)
    return Firmware(path, fmt, len(data), hashlib.sha256(data).hexdigest(), data)


def _format_for(path: Path, flash: FlashSpec, name: str) -> FirmwareFormat:
    ext = path.suffix.lower()
    if flash.tool == "esptool":
        if ext != ".bin":
            kind = f"a {ext} file" if ext else "a file without extension"
            raise FlashError(
                f"{path} is {kind}, but esptool targets take a .bin: flash {name} with the "
                f"build's firmware.bin."
            )
        return FirmwareFormat.BIN
    if ext == ".uf2":
        raise FlashError(
            f"{path} is a UF2 file, which pyOCD cannot program; flash {name} with firmware.hex "
            f"or firmware.elf from the same build."
        )
    if ext not in _EXTENSIONS:
        raise FlashError(
            f"{path} has an extension pyOCD does not program; pass a .hex, .elf/.axf or .bin "
            f"file to flash {name}."
        )
    return _EXTENSIONS[ext]


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ToolMissing(
            f"firmware file {path} does not exist, so {name} cannot be flashed; build the "
            f"firmware or pass the right path."
        ) from exc
    except IsADirectoryError as exc:
        raise FlashError(
            f"{path} is a directory, not a firmware file; pass the built file to flash {name}."
        ) from exc
    except OSError as exc:
        raise FlashError(
            f"cannot read firmware file {path} ({exc.strerror}) to flash {name}; "
            f"check that it exists and is readable."
        ) from exc


def _hex_payload(data: bytes, path: Path, name: str) -> int:
    """Bytes of data in an Intel HEX file; FlashError if it is not one."""
    from intelhex import IntelHex, IntelHexError

    try:
        text = data.decode("ascii")
        hexfile = IntelHex(io.StringIO(text))
    except UnicodeDecodeError:
        detail = "it holds binary data"
    except IntelHexError as exc:
        detail = str(exc).rstrip(".")
    else:
        if len(hexfile) == 0:
            detail = "it holds no data records"
        else:
            return len(hexfile)
    raise FlashError(
        f"{path} is not an Intel HEX file ({detail}); pass the build's firmware.hex to flash "
        f"{name}, or name a raw image .bin."
    )


def _elf_payload(data: bytes, path: Path, name: str) -> int:
    if not data.startswith(b"\x7fELF"):
        raise FlashError(
            f"{path} is not an ELF file (no ELF header); pass the build's firmware.elf or "
            f"firmware.hex to flash {name}."
        )
    return 0  # pyOCD loads only the PT_LOAD segments; the file size says nothing about flash


def _bin_payload(data: bytes, path: Path, flash: FlashSpec, name: str) -> int:
    if flash.esptool is not None and data[0] != ESP_IMAGE_MAGIC:
        raise FlashError(
            f"{path} does not start with the ESP image magic byte 0xE9, so it is not ESP "
            f"firmware; pass the build's firmware.bin to flash {name}."
        )
    return len(data)


def _check_size(payload: int, path: Path, flash: FlashSpec, name: str) -> None:
    if flash.pyocd is not None:
        flash_size, offset = flash.pyocd.flash_size, 0
    else:
        assert flash.esptool is not None
        flash_size, offset = flash.esptool.flash_size, flash.esptool.offset
    if flash_size is None or offset + payload <= flash_size:
        return
    where = f" from offset {offset:#x}" if offset else ""
    raise FlashError(
        f"{path} holds {payload} bytes but {name} has {flash_size} bytes of flash{where}; "
        f"is it the firmware of another board?"
    )
