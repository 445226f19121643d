"""Firmware file checks: real files, real intelhex, no probe or port anywhere."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from intelhex import IntelHex

from hilrig.errors import ConfigError, FlashError, ToolMissing
from hilrig.flash.firmware import FirmwareFormat, check_firmware
from hilrig.targets.load import parse_target
from hilrig.targets.spec import BoardSpec, TargetSpec

DEBIAN_MICROBIT_HEX = Path("/usr/share/firmware-microbit-micropython/firmware.hex")


def target(tmp_path: Path, flash: dict[str, Any], **extra: Any) -> TargetSpec:
    data = {"kind": "serial", "name": "t", "flash": flash, "boards": [{"port": "/dev/ttyX"}]}
    data.update(extra)
    return parse_target(data, tmp_path / "t.toml")


@pytest.fixture
def stm32(tmp_path: Path) -> TargetSpec:
    return target(tmp_path, {"tool": "pyocd", "target_type": "stm32f429xi", "flash_size": 4096})


@pytest.fixture
def esp32(tmp_path: Path) -> TargetSpec:
    flash = {"tool": "esptool", "chip": "esp32", "offset": 0x1000, "flash_size": 0x2000}
    return target(tmp_path, flash)


def write_hex(path: Path, start: int, data: bytes) -> Path:
    hexfile = IntelHex()
    hexfile.frombytes(data, offset=start)
    hexfile.write_hex_file(str(path))
    return path


def test_valid_hex_is_accepted_with_its_sha(stm32: TargetSpec, tmp_path: Path) -> None:
    path = write_hex(tmp_path / "firmware.hex", 0x08000000, bytes(range(256)) * 4)
    fw = check_firmware(path, stm32, stm32.boards[0])
    assert fw.format is FirmwareFormat.HEX
    assert fw.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fw.data == path.read_bytes()
    assert fw.size == len(fw.data)


@pytest.mark.skipif(not DEBIAN_MICROBIT_HEX.is_file(), reason="firmware-microbit-micropython")
def test_debian_microbit_firmware_fits_a_microbit(tmp_path: Path) -> None:
    spec = target(tmp_path, {"tool": "pyocd", "target_type": "nrf51", "flash_size": 262144})
    fw = check_firmware(DEBIAN_MICROBIT_HEX, spec, spec.boards[0])
    assert fw.format is FirmwareFormat.HEX


def test_missing_file_names_file_and_board(stm32: TargetSpec, tmp_path: Path) -> None:
    with pytest.raises(ToolMissing) as info:
        check_firmware(tmp_path / "missing.hex", stm32, stm32.boards[0])
    message = str(info.value)
    assert "missing.hex does not exist" in message
    assert "board /dev/ttyX of target t" in message


def test_directory_is_refused(stm32: TargetSpec, tmp_path: Path) -> None:
    (tmp_path / "build.hex").mkdir()
    with pytest.raises(FlashError, match="is a directory"):
        check_firmware(tmp_path / "build.hex", stm32, stm32.boards[0])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_refused(stm32: TargetSpec, tmp_path: Path) -> None:
    path = write_hex(tmp_path / "firmware.hex", 0, b"\x00" * 16)
    path.chmod(0)
    with pytest.raises(FlashError, match="cannot read firmware file .*Permission denied"):
        check_firmware(path, stm32, stm32.boards[0])


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"hello, I am not a hex file\n", "invalid record"),
        (b"\x7fELF\x01\x01\x01\x00\xff\xfe", "binary data"),
        (b":0400000001020304F1\n:00000001FF\n", "checksum"),  # checksum should be F2
        (b":00000001FF\n", "no data records"),
    ],
)
def test_non_intel_hex_is_refused(
    stm32: TargetSpec, tmp_path: Path, content: bytes, detail: str
) -> None:
    path = tmp_path / "firmware.hex"
    path.write_bytes(content)
    with pytest.raises(FlashError) as info:
        check_firmware(path, stm32, stm32.boards[0])
    assert "is not an Intel HEX file" in str(info.value)
    assert detail in str(info.value).lower()


def test_oversize_bin_is_refused(stm32: TargetSpec, tmp_path: Path) -> None:
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x00" * 4097)
    with pytest.raises(FlashError, match="holds 4097 bytes but .* has 4096 bytes of flash"):
        check_firmware(path, stm32, stm32.boards[0])


def test_hex_with_more_data_than_flash_is_refused(stm32: TargetSpec, tmp_path: Path) -> None:
    path = write_hex(tmp_path / "firmware.hex", 0x08000000, b"\x01" * 5000)
    with pytest.raises(FlashError, match="holds 5000 bytes"):
        check_firmware(path, stm32, stm32.boards[0])


def test_uf2_is_refused_for_pyocd(stm32: TargetSpec, tmp_path: Path) -> None:
    path = tmp_path / "firmware.uf2"
    path.write_bytes(b"UF2\n" * 128)
    with pytest.raises(FlashError, match="UF2 file, which pyOCD cannot program.*firmware.hex"):
        check_firmware(path, stm32, stm32.boards[0])


def test_elf_needs_an_elf_header(stm32: TargetSpec, tmp_path: Path) -> None:
    good, bad = tmp_path / "firmware.elf", tmp_path / "other.elf"
    good.write_bytes(b"\x7fELF" + b"\x00" * 10000)  # bigger than flash: segments decide
    bad.write_bytes(b"MZ" + b"\x00" * 100)
    assert check_firmware(good, stm32, stm32.boards[0]).format is FirmwareFormat.ELF
    with pytest.raises(FlashError, match="not an ELF file"):
        check_firmware(bad, stm32, stm32.boards[0])


def test_esptool_targets_take_a_bin(esp32: TargetSpec, tmp_path: Path) -> None:
    path = write_hex(tmp_path / "fw.hex", 0, b"\xe9" * 16)
    with pytest.raises(FlashError) as info:
        check_firmware(path, esp32, esp32.boards[0])
    assert "esptool targets take a .bin" in str(info.value)
    assert "fw.hex" in str(info.value)
    assert "board /dev/ttyX of target t" in str(info.value)


def test_esp_bin_needs_the_image_magic(esp32: TargetSpec, tmp_path: Path) -> None:
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(FlashError, match="magic byte 0xE9"):
        check_firmware(path, esp32, esp32.boards[0])


def test_esp_bin_size_counts_from_the_offset(esp32: TargetSpec, tmp_path: Path) -> None:
    fits, too_big = tmp_path / "fits.bin", tmp_path / "big.bin"
    fits.write_bytes(b"\xe9" + b"\xff" * (0x1000 - 1))
    too_big.write_bytes(b"\xe9" + b"\xff" * 0x1000)
    assert check_firmware(fits, esp32, esp32.boards[0]).size == 0x1000
    with pytest.raises(FlashError, match="from offset 0x1000"):
        check_firmware(too_big, esp32, esp32.boards[0])


def test_empty_file_is_refused(stm32: TargetSpec, tmp_path: Path) -> None:
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"")
    with pytest.raises(FlashError, match="is empty"):
        check_firmware(path, stm32, stm32.boards[0])


def test_target_without_flash_section(tmp_path: Path) -> None:
    spec = parse_target({"kind": "hostvm"}, tmp_path / "unix.toml")
    with pytest.raises(ConfigError, match=r"has no \[flash\] section"):
        check_firmware(tmp_path / "x.hex", spec, BoardSpec())
