"""QEMU machines as boards: ``qemu-system-*`` running MicroPython, serial port on a socket.

Never ``-nographic``: its monitor escape is Ctrl-A, which would eat the raw REPL's Ctrl-A. The
monitor is off and the serial port is a Unix socket that QEMU listens on and waits for
(``server=on,wait=on``), so hilrig is connected before the guest runs its first instruction.
With ``-serial pty`` instead, QEMU 7.2 passes host input to the guest only about one second after
start (seen with the micro:bit firmware; its pty backend polls for a reader once a second), which
made every boot and hard reset a second long. A hard reset is a restart.

Where the firmware loses no input (``lossless_input``), the socket sits behind QEMU's character
multiplexer (``mux=on``). QEMU's serial models take one byte at a time, and a plain serial
backend reads the next byte from the socket only after the guest has read the last one and
QEMU's main loop has come round again: about 30 bytes a millisecond into an emulated STM32. The
multiplexer keeps up to 32 bytes read ahead and hands the guest the next one as it reads the
last, so bytes go in about four times as fast. Its commands start with an escape byte; hilrig
makes that byte NUL (``-echr 0``) and sends every NUL twice, which the multiplexer passes on as
one NUL (:data:`MUX_ESCAPE`). The multiplexer reads ahead of the guest, so a link behind it
cannot tell when the guest has read a piece: paced input (the micro:bit) keeps the plain socket.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from hilrig import processes
from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, LinkError, ToolMissing
from hilrig.targets.spec import QemuSpec
from hilrig.transport.link import FdLink, Link

# Input pacing. The micro:bit firmware keeps serial input in a 64-byte ring that drops what does
# not fit while its main loop is busy; its raw REPL has no flow control and echoes nothing, so
# hilrig cannot see a loss, only make it unlikely. Measured with 1.3 KB programs: sent in one go,
# bytes went missing in 1-25 % of runs; sent 32 bytes at a time, each once QEMU had read the one
# before, in ~4 % with two emulators running side by side; with a 1 ms pause after each piece is
# read as well, in 1 of 1500 (two emulators side by side). ~1.5 ms per 32 bytes: ~50 ms a 1 KB.
INPUT_IN_FLIGHT = 32
INPUT_SETTLE_S = 0.001

# The multiplexer's escape byte (QEMU's -echr), sent twice to mean itself.
MUX_ESCAPE = b"\0"
_SERIAL_ID = "hilrig-serial"


def qemu_command(spec: QemuSpec, socket_path: str) -> list[str]:
    """The QEMU argv for a spec (firmware through the generic loader or as a kernel), its serial
    port a Unix socket that QEMU listens on at ``socket_path`` and waits for; behind the
    multiplexer where the firmware loses no input (see the module docstring)."""
    argv = [spec.binary, "-M", spec.machine]
    if spec.firmware is not None:
        if spec.loader == "kernel":
            argv += ["-kernel", str(spec.firmware)]
        else:
            argv += ["-device", f"loader,file={spec.firmware}"]
    if spec.lossless_input:
        chardev = f"socket,id={_SERIAL_ID},path={socket_path},server=on,wait=on,mux=on"
        serial = ["-chardev", chardev, "-serial", f"chardev:{_SERIAL_ID}"]
        serial += ["-echr", str(MUX_ESCAPE[0])]
    else:
        serial = ["-serial", f"unix:{socket_path},server=on,wait=on"]
    return argv + serial + ["-monitor", "none", "-display", "none", *spec.args]


def no_firmware(spec: QemuSpec, target: str) -> str:
    """What to do when a QEMU target has no firmware file."""
    env = f" or set {spec.firmware_env}" if spec.firmware_env else ""
    hint = f" {spec.install_hint}" if spec.install_hint else ""
    return f"target {target} boots a firmware file you build: pass --hil-firmware FILE{env}.{hint}"


def check_installed(spec: QemuSpec, target: str) -> None:
    """ToolMissing naming the emulator or firmware file and the install command."""
    hint = f" Install with: {spec.install_hint}" if spec.install_hint else ""
    if shutil.which(spec.binary) is None:
        raise ToolMissing(f"target {target} needs {spec.binary}, which is not installed.{hint}")
    if spec.firmware is None:
        raise ConfigError(no_firmware(spec, target))
    if not spec.firmware.is_file():
        raise ToolMissing(
            f"target {target} needs the firmware file {spec.firmware}, which is missing.{hint}"
        )


class QemuMachine:
    """One emulated board; ``open`` boots it, ``restart`` reboots it, ``close`` stops it."""

    soft_reset_restarts = False
    fast_input = False
    # no time-based pauses: the link waits for QEMU to read each piece (see INPUT_IN_FLIGHT),
    # or the firmware loses nothing (lossless_input: QEMU's multiplexer reads ahead)
    paces_input = True

    def __init__(self, spec: QemuSpec, target: str, label: str | None = None) -> None:
        self.spec = spec
        self.target = target
        self.label = label or f"QEMU {spec.machine}"
        # firmware that reads its UART by polling loses nothing: no pacing, one write a program,
        # and QEMU reads input ahead of the guest
        self.lossless_input = spec.lossless_input
        self.proc: subprocess.Popen[bytes] | None = None
        self.link: FdLink | None = None
        self.workdir: Path | None = None  # the serial socket and QEMU's own messages

    def open(self, deadline: Deadline) -> Link:
        """Start QEMU and connect to its serial port."""
        check_installed(self.spec, self.target)
        self.workdir = Path(tempfile.mkdtemp(prefix="hilrig-qemu-"))
        if len(str(self.workdir)) > 80:  # a socket path must fit in 108 bytes
            shutil.rmtree(self.workdir)
            self.workdir = Path(tempfile.mkdtemp(prefix="hilrig-qemu-", dir="/tmp"))
        serial = self.workdir / "serial.sock"
        argv = qemu_command(self.spec, str(serial))
        with (self.workdir / "qemu.log").open("wb") as log_file:
            self.proc = processes.spawn(
                argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT
            )
        sock = self._connect(serial, deadline)
        label = f"{self.label} (pid {self.proc.pid})"
        paced = not self.lossless_input
        self.link = FdLink(
            sock.detach(),
            label,
            in_flight=INPUT_IN_FLIGHT if paced else None,
            settle_s=INPUT_SETTLE_S if paced else 0.0,
            doubled=None if paced else MUX_ESCAPE,
        )
        return self.link

    def _connect(self, path: Path, deadline: Deadline) -> socket.socket:
        assert self.proc is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while not deadline.expired():
            if self.proc.poll() is not None:
                sock.close()
                raise LinkError(
                    f"{self.label} exited with code {self.proc.returncode} before opening its "
                    f"serial port: {self.messages()[-300:]}"
                )
            try:
                sock.connect(str(path))
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.005)
        sock.close()
        raise LinkError(
            f"{self.label} did not open its serial port within {deadline.budget_s:g} s: "
            f"{self.messages()[-300:]}"
        )

    def messages(self) -> str:
        """What QEMU itself printed (errors, warnings)."""
        if self.workdir is None:
            return ""
        try:
            return (self.workdir / "qemu.log").read_text(errors="replace").strip()
        except OSError:
            return ""

    def restart(self, deadline: Deadline) -> Link:
        """Hard reset: stop QEMU and boot it again."""
        self.close()
        return self.open(deadline)

    def interrupt(self, link: Link) -> None:
        """Ctrl-C on the serial line."""
        link.write(b"\x03")

    def fresh_link_entered(self) -> bool:
        """False: a booted board gets Ctrl-C and Ctrl-A like any other."""
        return False

    def alive(self) -> bool:
        """True while the QEMU process runs."""
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stop QEMU and close the serial connection."""
        if self.link is not None:
            self.link.close()
            self.link = None
        processes.stop(self.proc)
        self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
