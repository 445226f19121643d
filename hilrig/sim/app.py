"""The "MicroPython" a valid image boots: the UART bridged to a fresh host VM.

The host VM (the unix port) stands in for the firmware. Three things make it look like a board
behind a UART rather than a process on a pty:

* its banner line is rewritten to name the simulated board and carry the booted image's hash
  (``MicroPython <tag>-sim-<sha8> on <date>; ESP32 sim with ESP32``), so that flashing another
  image changes what the board says it runs;
* a soft reset (Ctrl-D at the raw prompt, or SystemExit), which ends the unix process, becomes
  ``MPY: soft reboot`` and a new VM in the same REPL mode, as on a board;
* Ctrl-C while a program runs becomes SIGINT, the only interrupt the unix port reacts to.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence

from hilrig.boards.hostvm import HostVM
from hilrig.deadline import Deadline
from hilrig.errors import HilrigError, LinkError, LinkTimeout
from hilrig.transport.link import Link

log = logging.getLogger(__name__)

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
BOARD = "ESP32 sim with ESP32"
VM_START_S = 10.0  # a fresh host VM reaches its raw prompt in milliseconds; 10 s is "broken"
POLL_S = 0.1  # how often the bridge looks at its stop flag while the VM is silent
_BANNER_LINE = re.compile(rb"MicroPython (\S+) on (\S+); [^\r\n]*\r?\n")
_PREFIX = b"MicroPython "


class BannerRewriter:
    """Replaces the unix port's banner line with the simulated board's, across chunk borders."""

    def __init__(self, sha8: str) -> None:
        self.sha8 = sha8
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        """What can be passed on now; a possible banner start is held until its line ends."""
        text = self._held + data
        self._held = b""
        out = bytearray()
        while text:
            at = text.find(_PREFIX)
            if at < 0:
                keep = _partial_prefix(text)
                out += text[: len(text) - keep]
                self._held = text[len(text) - keep :]
                break
            out += text[:at]
            match = _BANNER_LINE.match(text, at)
            if match is None:
                if b"\n" in text[at:] or len(text) - at > 300:  # not a banner after all
                    out += text[at : at + len(_PREFIX)]
                    text = text[at + len(_PREFIX) :]
                    continue
                self._held = text[at:]
                break
            out += self.banner(match.group(1), match.group(2)) + b"\r\n"
            text = text[match.end() :]
        return bytes(out)

    def banner(self, tag: bytes, date: bytes) -> bytes:
        """The simulated board's banner line."""
        return b"MicroPython %s-sim-%s on %s; %s" % (tag, self.sha8.encode(), date, BOARD.encode())


def _partial_prefix(text: bytes) -> int:
    for n in range(min(len(_PREFIX) - 1, len(text)), 0, -1):
        if text.endswith(_PREFIX[:n]):
            return n
    return 0


class MicroPythonApp:
    """The running application: a thread pumping the VM's output to the UART."""

    def __init__(self, command: Sequence[str], sha8: str, emit: EmitFn) -> None:
        self.vm = HostVM(command, label="simulated ESP32's MicroPython")
        self.rewriter = BannerRewriter(sha8)
        self.emit = emit
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.link: Link | None = None
        self.raw_mode = False
        self.busy = False  # a program runs: Ctrl-C must become SIGINT
        self._input = bytearray()
        self._input_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="esp32-sim-app", daemon=True)

    def start(self) -> None:
        """Boot: start the first VM and print its banner."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop; it stops its VMs within ``POLL_S``."""
        self.stopping.set()

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread (and so its VMs) to end; False if it is still running."""
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def receive(self, data: bytes) -> None:
        """Bytes from the UART; held until the VM is up."""
        with self._input_lock:
            if not self.ready.is_set() or self.link is None:
                self._input += data
                return
            link = self.link
        self._forward(link, data)

    def _forward(self, link: Link, data: bytes) -> None:
        if b"\x03" in data and self.busy:
            self.vm.interrupt(link)
            data = data.replace(b"\x03", b"")
        if self.raw_mode and b"\x04" in data:
            self.busy = True
        if data:
            try:
                link.write(data)
            except LinkError as exc:  # the VM is ending; the pump restarts it
                log.info("dropping %d bytes for the ending VM: %s", len(data), exc)

    def _run(self) -> None:
        first = True
        try:
            while not self.stopping.is_set():
                link = self._boot_vm(first)
                first = False
                self._pump(link)
        except HilrigError as exc:
            log.error("the simulated MicroPython stopped: %s", exc)
        finally:
            with self._input_lock:
                self.link = None
            self.vm.close()

    def _boot_vm(self, first: bool) -> Link:
        """A fresh VM at the prompt of the mode the board was in; its start-up noise dropped."""
        self.ready.clear()
        deadline = Deadline.after(VM_START_S)
        link = self.vm.open(deadline)
        seen = b""
        while RAW_BANNER not in seen:  # hostvm sends Ctrl-A to every VM it starts
            seen += link.read_some(deadline)
        rest = seen.split(RAW_BANNER, 1)[1]
        if first or not self.raw_mode:
            if not first:
                self.emit(SOFT_REBOOT)
            link.write(b"\x02")  # friendly REPL: the VM prints its (rewritten) banner
            self.raw_mode = False
        else:
            self.emit(self.rewriter.feed(SOFT_REBOOT + RAW_BANNER + rest))
        self.busy = False
        with self._input_lock:
            self.link = link
            pending, self._input = bytes(self._input), bytearray()
            self.ready.set()
        if pending:
            self._forward(link, pending)
        return link

    def _pump(self, link: Link) -> None:
        while not self.stopping.is_set():
            try:
                data = link.read_some(Deadline.after(POLL_S))
            except LinkTimeout:
                continue
            except LinkError:
                log.info("the host VM ended: soft reboot")
                return
            self._track(data)
            out = self.rewriter.feed(data)
            if out:
                self.emit(out)

    def _track(self, data: bytes) -> None:
        if RAW_BANNER in data:
            self.raw_mode, self.busy = True, False
        elif b">>> " in data:
            self.raw_mode, self.busy = False, False
        elif b"\x04>" in data:
            self.busy = False


EmitFn = Callable[[bytes], None]
