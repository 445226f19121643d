"""A simulated ESP32-DevKitC behind an RFC 2217 server: ``with Esp32Sim(SimConfig()) as sim``.

This is what ``hilrig sim esp32`` runs and what the tests start: flash (in memory or in a file),
the chip, and the server, powered on so that it boots whatever the flash holds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hilrig.boards.hostvm import host_vm_command
from hilrig.errors import ConfigError
from hilrig.sim.chip import Esp32Chip
from hilrig.sim.flashmem import SimFlash
from hilrig.sim.regs import ChipIdentity
from hilrig.sim.rfc2217_server import Rfc2217Server

log = logging.getLogger(__name__)

DEFAULT_MAC = "24:0a:c4:5e:00:01"  # an Espressif OUI; the last bytes are the simulator's
DEFAULT_FLASH_SIZE = 4 << 20  # the ESP32-WROOM-32 on a DevKitC
BOOT_OFFSET = 0x1000  # where the ESP32 ROM looks for the (second-stage) boot image
URL_ENV = "HILRIG_ESP32_SIM_URL"  # the variable `hilrig sim esp32 --env` output sets


@dataclass(frozen=True)
class SimConfig:
    """Everything that makes one simulated board."""

    mac: str = DEFAULT_MAC
    flash_size: int = DEFAULT_FLASH_SIZE
    flash_file: Path | None = None
    port: int = 0  # 0: a free port
    vm_command: tuple[str, ...] = ()  # the MicroPython the image boots; default: the host VM


def parse_mac(text: str) -> bytes:
    """Six bytes from ``aa:bb:cc:dd:ee:ff`` (or with dashes); ConfigError naming the value."""
    if not re.fullmatch(r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}", text.strip()):
        raise ConfigError(f"MAC {text!r} is not six hex bytes like {DEFAULT_MAC}.")
    return bytes(int(part, 16) for part in re.split("[:-]", text.strip()))


class Esp32Sim:
    """The running simulator; a context manager that leaves no thread or process behind."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.flash: SimFlash | None = None
        self.chip: Esp32Chip | None = None
        self.server: Rfc2217Server | None = None

    @property
    def url(self) -> str:
        """The pyserial URL of the board's serial port."""
        if self.server is None:
            raise ConfigError("the ESP32 simulator is not started")
        return self.server.url

    def start(self) -> Esp32Sim:
        """Open the flash, listen, power the chip on."""
        config = self.config
        identity = ChipIdentity(parse_mac(config.mac), config.flash_size)
        command: Sequence[str] = config.vm_command or host_vm_command()
        self.flash = SimFlash(config.flash_size, config.flash_file).open()
        try:
            self.chip = Esp32Chip(self.flash, identity, command, BOOT_OFFSET)
            self.server = Rfc2217Server(self.chip, config.port).start()
        except BaseException:
            self.close()
            raise
        self.chip.power_on()
        log.info("simulated ESP32 (MAC %s) on %s", config.mac, self.server.url)
        return self

    def close(self) -> None:
        """Stop the server, the chip and its host VMs; flush a file-backed flash."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.chip is not None:
            stuck = self.chip.shutdown()
            if stuck:
                log.warning("host VMs still ending: %s", ", ".join(stuck))
            self.chip = None
        if self.flash is not None:
            self.flash.close()
            self.flash = None

    def __enter__(self) -> Esp32Sim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
