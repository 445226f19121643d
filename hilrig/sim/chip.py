"""The simulated ESP32-DevKitC: reset circuit, boot ROM, download mode and the booted app.

The DevKitC wires the USB-UART's DTR and RTS to EN and IO0 through two transistors: EN is pulled
low while RTS is asserted and DTR is not, IO0 while DTR is asserted and RTS is not (both or
neither asserted leaves both lines high). A real chip samples IO0 a few milliseconds after EN
rises: low means the ROM's download mode, high means booting from flash.

Over RFC 2217 the host's two line changes of one step arrive one at a time, so the chip is
modelled by what the host means rather than by a settle time: EN released by asserting DTR
(both lines asserted, a state no reset sequence rests in) waits up to ``STRAP_WINDOW_S`` for RTS
to follow and pull IO0 low; every other release of EN boots at once, with IO0 as it is then.
Only that window is timed, and whether it has closed is judged from the arrival time of the next
change, so a late timer thread cannot turn a reset sequence into a boot of the wrong kind.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence

from hilrig.sim.app import MicroPythonApp
from hilrig.sim.flashmem import SimFlash
from hilrig.sim.image import BootImage, check_image
from hilrig.sim.loader import Hooks, Loader
from hilrig.sim.regs import ChipIdentity, Registers

log = logging.getLogger(__name__)

# esptool's classic reset releases EN with "DTR on", then pulls IO0 low with "RTS off"; pyserial's
# RFC 2217 client waits for the first change's acknowledgement in 50 ms polls before sending
# the second, so both lines stay asserted for 50-100 ms on a quiet machine and longer on a
# loaded one. A real chip would sample IO0 within milliseconds; the simulator waits this long
# for RTS instead, since nothing but that sequence holds both lines asserted while EN rises.
# (Espressif's esp_rfc2217_server has the same problem and replays the sequence locally.)
STRAP_WINDOW_S = 1.0
BOOT_LOOP_PERIOD_S = 0.2  # between "invalid header" lines; a real chip prints them faster
BOOT_LOOP_WATCHDOG = 10  # lines before the RTC watchdog "resets" the chip again
ROM_BAUD = 115200
ROM_BANNER = b"ets Jul 29 2019 12:21:46\r\n\r\n"
DOWNLOAD_BOOT = b"boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n"
FLASH_BOOT = b"boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"


class Mode(enum.Enum):
    """What the chip is doing."""

    RESET = "held in reset"
    DOWNLOAD = "in the ROM's download mode"
    APP = "running MicroPython"
    BOOT_LOOP = "boot-looping on an invalid image"


class Esp32Chip:
    """All state of one simulated chip; every entry point takes the chip's lock."""

    def __init__(
        self,
        flash: SimFlash,
        identity: ChipIdentity,
        vm_command: Sequence[str],
        boot_offset: int = 0x1000,
    ) -> None:
        self.flash = flash
        self.regs = Registers(identity)
        self.vm_command = list(vm_command)
        self.retired: list[MicroPythonApp] = []  # stopped apps whose VMs may still be ending
        self.boot_offset = boot_offset
        self.lock = threading.RLock()
        self.sink: Callable[[bytes], None] | None = None  # the UART's far end (a client)
        self.mode = Mode.RESET
        self.baud = ROM_BAUD
        self.port_baud = ROM_BAUD
        self.autobaud = False  # the ROM loader adopts the host's rate until CHANGE_BAUDRATE
        self.dtr = self.rts = False
        self.window_at: float | None = None
        self.loader: Loader | None = None
        self.app: MicroPythonApp | None = None
        self.image: BootImage | None = None
        self.boots: list[Mode] = []  # the mode of every boot so far, for tests and logs
        self.booted = threading.Condition(self.lock)
        self._timer: threading.Timer | None = None
        self._generation = 0

    # -- lines and power -----------------------------------------------------------------------
    def power_on(self) -> None:
        """Both lines released: EN rises, IO0 high, the chip boots from flash."""
        with self.lock:
            self._boot(download=False)

    def set_lines(self, dtr: bool, rts: bool) -> None:
        """DTR/RTS as the host set them (True = asserted)."""
        with self.lock:
            if self.window_at is not None and time.monotonic() - self.window_at >= STRAP_WINDOW_S:
                self._boot(download=False)  # the window closed before this change arrived
            if (dtr, rts) == (self.dtr, self.rts):
                return  # pyserial re-sends DTR with every RTS change
            was_low, in_window = self.en_low, self.window_at is not None
            self.dtr, self.rts = dtr, rts
            if self.en_low:
                if not was_low:
                    self._enter_reset()
            elif was_low and self.dtr:  # EN released by "DTR on": "RTS off" is on its way
                self._open_window()
            elif was_low or in_window:
                self._boot(download=self.io0_low)

    @property
    def en_low(self) -> bool:
        """EN (CHIP_PU) pulled low by the auto-reset transistor."""
        return self.rts and not self.dtr

    @property
    def io0_low(self) -> bool:
        """IO0 (the boot strap) pulled low by the other transistor."""
        return self.dtr and not self.rts

    def _open_window(self) -> None:
        self.window_at = time.monotonic()
        self._generation += 1
        generation = self._generation
        self._cancel_timer()
        self._timer = threading.Timer(STRAP_WINDOW_S, self._window_closed, (generation,))
        self._timer.daemon = True
        self._timer.start()

    def _window_closed(self, generation: int) -> None:
        with self.lock:
            if generation == self._generation and self.window_at is not None:
                self._boot(download=False)  # RTS never followed: IO0 stayed high

    def _enter_reset(self) -> None:
        log.info("EN low: chip held in reset")
        self._stop_running()
        self.window_at = None
        self.mode = Mode.RESET

    def _stop_running(self) -> None:
        self._generation += 1
        self._cancel_timer()
        self.loader = None
        if self.app is not None:
            self.app.stop()  # no join here: the app's thread may be waiting for this lock
            self.retired = [a for a in self.retired if not a.join(0)] + [self.app]
            self.app = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- boot ----------------------------------------------------------------------------------
    def _boot(self, download: bool, reason: bytes = b"rst:0x1 (POWERON_RESET),") -> None:
        self.window_at = None
        self._stop_running()
        self.baud = ROM_BAUD
        if download:
            self._download(reason)
        else:
            self._flash_boot(reason)
        self.boots.append(self.mode)
        self.booted.notify_all()

    def _download(self, reason: bytes) -> None:
        log.info("IO0 low at reset: download mode")
        self.mode = Mode.DOWNLOAD
        self.regs.strap = 0x03
        self.autobaud = True
        self.loader = Loader(
            self.flash, self.regs, Hooks(self._emit, self._set_baud, self._run_flash)
        )
        self._emit(ROM_BANNER + reason + DOWNLOAD_BOOT)

    def _flash_boot(self, reason: bytes) -> None:
        self.regs.strap = 0x13
        self.autobaud = False
        image = check_image(self.flash.read, self.boot_offset, self.flash.size)
        self.image = image
        self._emit(ROM_BANNER + reason + FLASH_BOOT)
        if not image.valid:
            log.info("image at %#x does not boot: %s", self.boot_offset, image.reason)
            self.mode = Mode.BOOT_LOOP
            self._emit(b"invalid header: 0x%08x\r\n" % image.header_word)
            self._schedule_loop(self._generation, 1)
            return
        log.info("booting the image at %#x (sha256 %s)", self.boot_offset, image.sha256[:12])
        self._emit(
            b"configsip: 0, SPIWP:0xee\r\nmode:DIO, clock div:2\r\nentry 0x%08x\r\n" % image.entry
        )
        self.mode = Mode.APP
        generation = self._generation
        self.app = MicroPythonApp(
            self.vm_command, image.sha256[:8], lambda data: self._emit_app(generation, data)
        )
        self.app.start()

    def _schedule_loop(self, generation: int, count: int) -> None:
        self._timer = threading.Timer(BOOT_LOOP_PERIOD_S, self._loop_tick, (generation, count))
        self._timer.daemon = True
        self._timer.start()

    def _loop_tick(self, generation: int, count: int) -> None:
        with self.lock:
            if generation != self._generation or self.mode is not Mode.BOOT_LOOP:
                return
            if count % BOOT_LOOP_WATCHDOG == 0:
                self._emit(ROM_BANNER + b"rst:0x10 (RTCWDT_RTC_RESET)," + FLASH_BOOT)
            assert self.image is not None
            self._emit(b"invalid header: 0x%08x\r\n" % self.image.header_word)
            self._schedule_loop(generation, count + 1)

    def _run_flash(self) -> None:
        """The loader jumps to the flash (FLASH_END with reboot, RUN_USER_CODE)."""
        self._boot(download=False, reason=b"rst:0xc (SW_CPU_RESET),")

    def _set_baud(self, baud: int) -> None:
        log.info("UART now at %d baud", baud)
        self.baud = baud
        self.autobaud = False

    # -- the UART ------------------------------------------------------------------------------
    def set_port_baud(self, baud: int) -> None:
        """The host side changed its rate."""
        with self.lock:
            self.port_baud = baud

    def _in_step(self) -> bool:
        if self.autobaud:
            self.baud = self.port_baud
        return self.baud == self.port_baud

    def receive(self, data: bytes) -> None:
        """Bytes from the host, delivered to whatever runs now."""
        with self.lock:
            if not self._in_step():
                log.info(
                    "dropping %d bytes sent at %d baud to a %d baud UART",
                    len(data),
                    self.port_baud,
                    self.baud,
                )
                return
            if self.loader is not None:
                self.loader.feed(data)
                return
            app = self.app
        if app is not None:
            app.receive(data)

    def _emit(self, data: bytes) -> None:
        if self.sink is not None and self._in_step():
            self.sink(data)

    def _emit_app(self, generation: int, data: bytes) -> None:
        with self.lock:
            if generation == self._generation:
                self._emit(data)

    def wait_boot(self, after: int, timeout_s: float) -> Mode | None:
        """The mode of the first boot after the first ``after`` ones; None at the deadline."""
        with self.lock:
            if not self.booted.wait_for(lambda: len(self.boots) > after, timeout_s):
                return None
            return self.boots[after]

    def shutdown(self, timeout_s: float = 10.0) -> list[str]:
        """Stop timers and the app, and wait for every host VM to end; returns what did not."""
        with self.lock:
            self._stop_running()
            self.mode = Mode.RESET
            retired, self.retired = self.retired, []
        return [app.vm.label for app in retired if not app.join(timeout_s)]
