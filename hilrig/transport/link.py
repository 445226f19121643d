"""Byte streams to boards: a file descriptor (pty, socket) or a pyserial port, behind one Protocol.

The raw REPL speaks to a :class:`Link`, never to pyserial directly, so the same protocol code
drives a USB port, an RFC2217 socket, QEMU's serial socket and the host VM's pty.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import termios
import time
from collections.abc import Callable
from typing import Any, Protocol

from hilrig.deadline import Deadline
from hilrig.errors import LinkError, LinkTimeout


class Link(Protocol):
    """A bidirectional byte stream with deadlines."""

    label: str

    def write(self, data: bytes) -> None:
        """Write all of ``data`` or raise LinkError."""

    def read_some(self, deadline: Deadline) -> bytes:
        """Return at least one byte, or raise LinkTimeout at the deadline, LinkError at EOF."""

    def close(self) -> None:
        """Release the stream; safe to call twice."""

    def flow_controlled(self) -> None:
        """The raw REPL's raw-paste mode now controls the flow: stop any pacing of input."""

    def caught_up(self) -> None:
        """The board has read everything written so far (it answered at a prompt): the next
        write needs no pause to let it catch up."""


class FdLink:
    """A pty master (host VM) or a connected socket (QEMU's serial port) as a file descriptor.

    ``in_flight``: write in pieces of at most this many bytes, each only once the other side has
    read the one before, and then ``settle_s`` later. QEMU reads its serial socket only as fast
    as the guest's UART takes bytes, but firmware behind that UART may keep input in a small ring
    that drops what does not fit while its main loop is busy (the micro:bit's holds 64 bytes).

    ``doubled``: a byte the other side takes as the start of a command unless it comes twice
    (QEMU's character multiplexer): every one written is written twice.
    """

    def __init__(
        self,
        fd: int,
        label: str,
        owns_fd: bool = True,
        write_timeout_s: float = 10.0,
        in_flight: int | None = None,
        settle_s: float = 0.0,
        doubled: bytes | None = None,
    ) -> None:
        self.fd = fd
        self.label = label
        self.owns_fd = owns_fd
        self.write_timeout_s = write_timeout_s
        self.in_flight = in_flight
        self.settle_s = settle_s
        self.doubled = doubled
        self.closed = False
        self._last_write = 0.0

    def write(self, data: bytes) -> None:
        """Write everything, waiting while the buffer is full; LinkTimeout if it stays full.

        A board that stops reading (a hung emulator, a stuck VM) must not hang the run, so the
        descriptor is made non-blocking and every wait for room has a deadline.
        """
        if self.closed:
            raise LinkError(f"{self.label} is closed")
        if os.get_blocking(self.fd):
            os.set_blocking(self.fd, False)
        if self.doubled is not None:
            data = data.replace(self.doubled, self.doubled * 2)
        step = self.in_flight or len(data) or 1
        for i in range(0, len(data), step):
            if self.in_flight:
                self._wait_until_read()
            self._write_all(data[i : i + step])

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = Deadline.after(self.write_timeout_s)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                _, ready, _ = select.select([], [self.fd], [], deadline.remaining())
                if not ready:
                    raise LinkTimeout(
                        f"{self.label} took no input for {self.write_timeout_s:g} s "
                        f"({len(view)} bytes unsent)"
                    ) from None
                continue
            except OSError as exc:
                raise LinkError(f"writing to {self.label} failed: {exc.strerror}") from exc
            view = view[n:]
            deadline = Deadline.after(self.write_timeout_s)
        self._last_write = time.monotonic()

    def flow_controlled(self) -> None:
        """Raw-paste mode paces itself (the board grants a window): write at full speed."""
        self.in_flight = 0
        self.settle_s = 0.0

    def caught_up(self) -> None:
        """The firmware has emptied its input ring (it answered at a prompt, which it does once
        it has read all input up to the Ctrl-D that asked for the answer): the next piece goes
        without the settling pause."""
        self._last_write = 0.0

    def unread_by_peer(self) -> int:
        """Bytes written that the other side has not read yet (0 where the OS cannot say)."""
        try:
            answer = fcntl.ioctl(self.fd, termios.TIOCOUTQ, b"\0\0\0\0")
        except OSError:
            return 0
        return int(struct.unpack("i", answer)[0])

    def _wait_until_read(self) -> None:
        deadline = Deadline.after(self.write_timeout_s)
        waited = False
        while self.unread_by_peer():
            if deadline.expired():
                raise LinkTimeout(f"{self.label} took no input for {self.write_timeout_s:g} s")
            waited = True
            time.sleep(0.0002)
        if waited or time.monotonic() - self._last_write < self.settle_s:
            time.sleep(self.settle_s)

    def read_some(self, deadline: Deadline) -> bytes:
        """Read what is there, waiting until the deadline for the first byte."""
        if self.closed:
            raise LinkError(f"{self.label} is closed")
        while True:
            left = deadline.remaining()
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                raise LinkTimeout(f"{self.label} sent nothing for {deadline.budget_s:g} s")
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # the other side of the pty has gone
                    raise LinkError(f"{self.label} closed (the process behind it ended)") from exc
                raise LinkError(f"reading from {self.label} failed: {exc.strerror}") from exc
            if not data:
                raise LinkError(f"{self.label} closed")
            return data

    def close(self) -> None:
        """Close the descriptor if this link owns it."""
        if not self.closed and self.owns_fd:
            os.close(self.fd)
        self.closed = True


def pyserial_url(url: str) -> str:
    """The URL pyserial opens; an RFC2217 URL without options gets ``ign_set_control``.

    ser2net exporting a pty (a QEMU board, labgrid's exporter) never acknowledges SET_CONTROL,
    so pyserial's open would time out waiting for the DTR/RTS answers; labgrid adds the same.
    """
    if url.startswith("rfc2217://") and "?" not in url:
        return url + "?ign_set_control"
    return url


class SerialLink:
    """A pyserial port opened with ``serial_for_url``: a device path, rfc2217:// or socket://."""

    def __init__(self, url: str, baud: int = 115200, exclusive: bool = True) -> None:
        self.url = url
        self.label = url
        self.baud = baud
        self.exclusive = exclusive
        self.port: Any = None

    def open(self) -> SerialLink:
        """Open the port; a missing or busy port is a LinkError naming it."""
        import serial  # pyserial; imported here so the host VM path never pays for it

        try:
            port = serial.serial_for_url(pyserial_url(self.url), do_not_open=True)
            port.baudrate = self.baud
            port.timeout = 0.05
            if not self.url.startswith("rfc2217://"):  # pyserial's RFC2217 client refuses one
                port.write_timeout = 5
            if self.exclusive and hasattr(port, "exclusive"):
                port.exclusive = True
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(
                f"cannot open serial port {self.url}: {exc}. Check the board is connected, "
                f"the port name in the target file, and that no other program holds it."
            ) from exc
        self.port = port
        return self

    def write(self, data: bytes) -> None:
        """Write all bytes."""
        self._guard(lambda: self.port.write(data), "writing to")

    def flow_controlled(self) -> None:
        """Nothing to stop: a serial link never paces by itself."""

    def caught_up(self) -> None:
        """Nothing to do: a serial link never paces by itself."""

    def read_some(self, deadline: Deadline) -> bytes:
        """Read what is waiting, polling until the deadline."""
        while True:
            data: bytes = self._guard(self._read_waiting, "reading from")
            if data:
                return data
            if deadline.expired():
                raise LinkTimeout(f"{self.label} sent nothing for {deadline.budget_s:g} s")
            time.sleep(0.001)

    def _read_waiting(self) -> bytes:
        data: bytes = self.port.read(max(1, self.port.in_waiting))
        return data

    def _guard(self, call: Callable[[], Any], verb: str) -> Any:
        import serial

        if self.port is None:
            raise LinkError(f"serial port {self.url} is not open")
        try:
            return call()
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{verb} {self.url} failed: {exc} (was the board unplugged?)") from exc

    def close(self) -> None:
        """Close the port; errors on close are ignored (the device may be gone)."""
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # noqa: BLE001 - closing a vanished port must not mask the cause
                pass
            self.port = None
