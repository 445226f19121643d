"""QEMU machines as boards: ``qemu-system-*`` with MicroPython firmware, serial console on a pty.

Never ``-nographic``: its monitor escape is Ctrl-A, which would eat the raw REPL's Ctrl-A. The
serial port goes to a pty (``-serial pty``) and the monitor is off. A hard reset is a restart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import tty
from pathlib import Path

from hilrig import processes
from hilrig.deadline import Deadline
from hilrig.errors import LinkError, ToolMissing
from hilrig.link import FdLink, Link
from hilrig.targets import QemuSpec

_PTY_LINE = re.compile(rb"char device redirected to (/dev/pts/\d+)")


def qemu_command(spec: QemuSpec) -> list[str]:
    """The QEMU argv for a spec (firmware through the generic loader or as a kernel)."""
    argv = [spec.binary, "-M", spec.machine]
    if spec.firmware is not None:
        if spec.loader == "kernel":
            argv += ["-kernel", str(spec.firmware)]
        else:
            argv += ["-device", f"loader,file={spec.firmware}"]
    return argv + ["-serial", "pty", "-monitor", "none", "-display", "none", *spec.args]


def check_installed(spec: QemuSpec, target: str) -> None:
    """ToolMissing naming the emulator or firmware file and the install command."""
    hint = f" Install with: {spec.install_hint}" if spec.install_hint else ""
    if shutil.which(spec.binary) is None:
        raise ToolMissing(f"target {target} needs {spec.binary}, which is not installed.{hint}")
    if spec.firmware is not None and not spec.firmware.is_file():
        raise ToolMissing(
            f"target {target} needs the firmware file {spec.firmware}, which is missing.{hint}"
        )


class QemuMachine:
    """One emulated board; ``open`` boots it, ``restart`` reboots it, ``close`` stops it."""

    soft_reset_restarts = False

    def __init__(self, spec: QemuSpec, target: str, label: str | None = None) -> None:
        self.spec = spec
        self.target = target
        self.label = label or f"QEMU {spec.machine}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.link: FdLink | None = None
        self.log_path: Path | None = None

    def open(self, deadline: Deadline) -> Link:
        """Start QEMU and open its serial pty."""
        check_installed(self.spec, self.target)
        fd, log_name = tempfile.mkstemp(prefix="hilrig-qemu-", suffix=".log")
        self.log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log_file:
            self.proc = processes.spawn(
                qemu_command(self.spec), stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        device = self._wait_for_pty(deadline)
        pty_fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(pty_fd)
        self.link = FdLink(pty_fd, f"{self.label} ({device}, pid {self.proc.pid})")
        return self.link

    def _wait_for_pty(self, deadline: Deadline) -> str:
        assert self.proc is not None and self.log_path is not None
        while not deadline.expired():
            text = self.log_path.read_bytes()
            match = _PTY_LINE.search(text)
            if match:
                return match.group(1).decode()
            if self.proc.poll() is not None:
                raise LinkError(
                    f"{self.label} exited with code {self.proc.returncode} before opening its "
                    f"serial port: {text.decode(errors='replace').strip()[-300:]}"
                )
            time.sleep(0.01)
        raise LinkError(f"{self.label} did not open a serial pty within {deadline.budget_s:g} s")

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
        """Stop QEMU and close the pty."""
        if self.link is not None:
            self.link.close()
            self.link = None
        processes.stop(self.proc)
        self.proc = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
