"""The simulated chip's USB-UART bridge: an RFC 2217 server on 127.0.0.1.

pyserial's :class:`serial.rfc2217.PortManager` does the Telnet and RFC 2217 negotiation; it
drives a port object, here :class:`SimPort`, which passes baud-rate and DTR/RTS changes to the
chip. One client at a time, like a serial port opened exclusively: a second connection is
closed at once. When a client goes away its DTR and RTS drop, as a tty's lines do on close.
"""

from __future__ import annotations

import logging
import select
import socket
import threading

from serial import rfc2217

from hilrig.errors import LinkError
from hilrig.sim.chip import Esp32Chip

log = logging.getLogger(__name__)

# The threads wait in select() on their socket and a wake-up socket that close() writes to, so
# they react to data and to stopping at once; this only bounds a wait nobody woke.
IDLE_S = 1.0
SEND_TIMEOUT_S = 10.0  # a client that takes nothing for this long is dropped


class SimPort:
    """The serial-port face PortManager expects; settings reach the chip."""

    bytesize = 8
    parity = "N"
    stopbits = 1
    xonxoff = False
    rtscts = False
    break_condition = False
    cts = dsr = ri = cd = False

    def __init__(self, chip: Esp32Chip) -> None:
        self.chip = chip
        self._baud = chip.port_baud
        self._dtr = False
        self._rts = False

    @property
    def baudrate(self) -> int:
        """The host side's rate."""
        return self._baud

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        self._baud = int(value)
        self.chip.set_port_baud(self._baud)

    @property
    def dtr(self) -> bool:
        """DTR as the client set it."""
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._dtr = bool(value)
        self.chip.set_lines(self._dtr, self._rts)

    @property
    def rts(self) -> bool:
        """RTS as the client set it."""
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        self._rts = bool(value)
        self.chip.set_lines(self._dtr, self._rts)

    def reset_input_buffer(self) -> None:
        """Nothing is buffered on the chip side of the bridge."""

    def reset_output_buffer(self) -> None:
        """Nothing is buffered on the chip side of the bridge."""


class _Client:
    """One connected client: its socket, its PortManager, a lock for writes."""

    def __init__(self, conn: socket.socket, chip: Esp32Chip) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.port = SimPort(chip)
        # PortManager logs every negotiation step at INFO: only worth it when debugging.
        chatty = log if log.isEnabledFor(logging.DEBUG) else None
        self.manager = rfc2217.PortManager(self.port, self, chatty)

    def write(self, data: bytes) -> None:
        """Raw bytes to the network (PortManager's telnet answers)."""
        with self.lock:
            if self.closed.is_set():
                return
            try:
                self.conn.sendall(data)
            except OSError as exc:
                log.info("client gone while sending: %s", exc)
                self.close()

    def send(self, data: bytes) -> None:
        """UART bytes to the client, escaped for Telnet."""
        self.write(b"".join(self.manager.escape(data)))

    def close(self) -> None:
        """Shut the connection down (safe from any thread, twice)."""
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


class Rfc2217Server:
    """Listens on 127.0.0.1 and bridges the one client to the chip's UART."""

    def __init__(self, chip: Esp32Chip, port: int = 0) -> None:
        self.chip = chip
        self.port = port
        self.sock: socket.socket | None = None
        self.client: _Client | None = None
        self.connections = 0  # accepted clients so far, for tests
        self._stop = threading.Event()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """``rfc2217://127.0.0.1:PORT``."""
        if self.sock is None:
            raise LinkError("the simulator's RFC 2217 server is not listening")
        return f"rfc2217://127.0.0.1:{self.sock.getsockname()[1]}"

    def start(self) -> Rfc2217Server:
        """Bind (port 0: a free one) and start accepting."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))
        except OSError as exc:
            sock.close()
            raise LinkError(
                f"cannot listen on 127.0.0.1:{self.port} ({exc.strerror}); pick another --port, "
                f"or 0 for a free one."
            ) from exc
        sock.listen(2)
        sock.setblocking(False)
        self.sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        self._spawn(self._accept_loop, "esp32-sim-accept")
        return self

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        assert self.sock is not None and self._wake_r is not None
        wake = self._wake_r
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock, wake], [], [], IDLE_S)
            if self.sock not in ready:
                continue
            try:
                conn, peer = self.sock.accept()
            except BlockingIOError:  # the client gave up between select and accept
                continue
            except OSError:
                return
            self._welcome(conn, peer)

    def _welcome(self, conn: socket.socket, peer: object) -> None:
        if self.client is not None and not self.client.closed.is_set():
            log.info("refusing %s: the port is in use", peer)
            conn.close()
            return
        conn.setblocking(True)
        conn.settimeout(SEND_TIMEOUT_S)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections += 1
        client = _Client(conn, self.chip)
        self.client = client
        with self.chip.lock:
            self.chip.sink = client.send
        self._spawn(self._serve, "esp32-sim-client", client)

    def _serve(self, client: _Client) -> None:
        assert self._wake_r is not None
        wake = self._wake_r
        try:
            while not self._stop.is_set() and not client.closed.is_set():
                ready, _, _ = select.select([client.conn, wake], [], [], IDLE_S)
                if client.conn not in ready:
                    continue
                data = client.conn.recv(65536)
                if not data:
                    break
                payload = b"".join(client.manager.filter(data))
                if payload:
                    self.chip.receive(payload)
        except (OSError, ValueError) as exc:  # ValueError: select on a socket closed meanwhile
            log.info("client connection ended: %s", exc)
        finally:
            self._disconnect(client)

    def _disconnect(self, client: _Client) -> None:
        client.close()
        with self.chip.lock:
            if self.chip.sink == client.send:
                self.chip.sink = None
        self.chip.set_lines(False, False)  # closing a tty drops DTR and RTS (HUPCL)

    def drop_client(self) -> bool:
        """Cut the current connection, as a pulled cable would; False if there was none."""
        client = self.client
        if client is None or client.closed.is_set():
            return False
        client.close()
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, drop the client, and wait for the threads."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._wake_w is not None:
            self._wake_w.send(b"x")  # never read: wakes every select() from now on
        if self.client is not None:
            self.client.close()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []
        if self.sock is not None:
            self.sock.close()
        for wake in (self._wake_r, self._wake_w):
            if wake is not None:
                wake.close()
