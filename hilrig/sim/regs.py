"""The ESP32 registers esptool reads and writes through READ_REG/WRITE_REG.

Only what esptool touches is modelled: the ROM word it detects the chip by, the eFuse words
(MAC, package, revision), the clock calibration it derives the crystal from, the UART divider,
the strapping register, and the SPI0 controller's user-command registers, through which esptool
sends raw SPI flash commands (RDID, the SFDP signature, status registers). Any other address
reads back what was last written there, or 0.
"""

from __future__ import annotations

from dataclasses import dataclass

CHIP_DETECT_MAGIC_ADDR = 0x40001000
ESP32_MAGIC = 0x00F01D83
EFUSE_BASE = 0x3FF5A000
APB_CTL_DATE = 0x3FF6607C
UART_CLKDIV = 0x3FF40014
RTC_CALI = 0x3FF5F06C
GPIO_STRAP = 0x3FF44038
SPI_BASE = 0x3FF42000
SPI_CMD = SPI_BASE + 0x00
SPI_USR2 = SPI_BASE + 0x24
SPI_W0 = SPI_BASE + 0x80
SPI_CMD_USR = 1 << 18

APB_HZ = 40_000_000  # 40 MHz crystal, the DevKitC's
CK8M_EFUSE = 0x40  # eFuse word 4 low byte; with the calibration below the ROM measures 40 MHz
CALI_VALUE = APB_HZ * 40 // (15625 * CK8M_EFUSE)

SPI_RDID = 0x9F
SPI_RDSFDP = 0x5A
SFDP_SIGNATURE = 0x50444653  # "SFDP", little-endian
WINBOND = 0xEF
WINBOND_NOR = 0x40


@dataclass(frozen=True)
class ChipIdentity:
    """What makes one simulated chip this chip: its MAC and its flash size."""

    mac: bytes
    flash_size: int


def mac_crc(mac: bytes) -> int:
    """CRC-8 (Dallas/Maxim, reflected 0x8C) that the eFuse stores beside the MAC."""
    crc = 0
    for byte in mac:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def efuse_words(mac: bytes) -> dict[int, int]:
    """Block-0 eFuse words of an ESP32-D0WD-V3 (revision v3.0) with this MAC."""
    return {
        1: int.from_bytes(mac[2:6], "big"),
        2: (mac_crc(mac) << 16) | (mac[0] << 8) | mac[1],
        3: (1 << 15) | (1 << 9),  # revision bit 0; package 1 = D0WD
        4: CK8M_EFUSE,
        5: 1 << 20,  # revision bit 1
    }


class Registers:
    """A sparse register file with the fixed values above and SPI command emulation."""

    def __init__(self, identity: ChipIdentity) -> None:
        self.identity = identity
        self.values: dict[int, int] = {}
        self.uart_baud = 115200
        self.strap = 0x13

    def read(self, addr: int) -> int:
        """The register's value, as READ_REG returns it."""
        fixed = self._fixed(addr)
        return fixed if fixed is not None else self.values.get(addr, 0)

    def _fixed(self, addr: int) -> int | None:
        if addr == CHIP_DETECT_MAGIC_ADDR:
            return ESP32_MAGIC
        if EFUSE_BASE <= addr < EFUSE_BASE + 0x100 and addr % 4 == 0:
            return efuse_words(self.identity.mac).get((addr - EFUSE_BASE) // 4, 0)
        fixed = {
            APB_CTL_DATE: 1 << 31,  # revision bit 2
            UART_CLKDIV: APB_HZ // self.uart_baud,
            RTC_CALI: CALI_VALUE << 7,
            GPIO_STRAP: self.strap,
        }
        return fixed.get(addr)

    def write(self, addr: int, value: int, mask: int) -> None:
        """WRITE_REG: masked write; a write of the USR bit to SPI_CMD runs the SPI command."""
        old = self.values.get(addr, 0)
        self.values[addr] = (old & ~mask & 0xFFFFFFFF) | (value & mask)
        if addr == SPI_CMD and self.values[addr] & SPI_CMD_USR:
            self._spi_command(self.values.get(SPI_USR2, 0) & 0xFF)
            self.values[SPI_CMD] = 0  # the controller clears USR when the command is done

    def _spi_command(self, command: int) -> None:
        if command == SPI_RDID:
            capacity = self.identity.flash_size.bit_length() - 1  # JEDEC: log2(bytes)
            self.values[SPI_W0] = WINBOND | (WINBOND_NOR << 8) | (capacity << 16)
        elif command == SPI_RDSFDP:
            self.values[SPI_W0] = SFDP_SIGNATURE
        else:  # status registers and the rest: an idle, unprotected chip
            self.values[SPI_W0] = 0
