"""Links: deadlines on every read and write, EOF and vanished peers as LinkError, pacing."""

from __future__ import annotations

import os
import pty
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from hilrig.deadline import Deadline
from hilrig.errors import LinkError, LinkTimeout
from hilrig.transport.link import FdLink, SerialLink


@pytest.fixture
def pair() -> Iterator[tuple[FdLink, socket.socket]]:
    """An FdLink on one end of a socket pair (as QEMU's serial port is), the peer on the other."""
    ours, theirs = socket.socketpair()
    link = FdLink(ours.detach(), "test link", write_timeout_s=0.3)
    yield link, theirs
    link.close()
    theirs.close()


def test_read_some_returns_what_is_there(pair: tuple[FdLink, socket.socket]) -> None:
    link, peer = pair
    peer.sendall(b"raw REPL")
    assert link.read_some(Deadline.after(1)) == b"raw REPL"
    link.write(b"\r\x01")
    assert peer.recv(10) == b"\r\x01"


def test_read_waits_until_the_deadline_and_raises(pair: tuple[FdLink, socket.socket]) -> None:
    link, _ = pair
    started = time.monotonic()
    with pytest.raises(LinkTimeout, match=r"test link sent nothing for 0.2 s"):
        link.read_some(Deadline.after(0.2))
    assert 0.19 <= time.monotonic() - started < 5  # waited, and not forever


def test_peer_gone_is_a_link_error(pair: tuple[FdLink, socket.socket]) -> None:
    link, peer = pair
    peer.close()
    with pytest.raises(LinkError, match="test link closed"):
        link.read_some(Deadline.after(1))
    with pytest.raises(LinkError, match="writing to test link failed"):
        link.write(b"x")


def test_pty_whose_process_ended_is_a_link_error() -> None:
    master, slave = pty.openpty()
    link = FdLink(master, "host VM (pid 1)")
    os.close(slave)  # what the VM's exit does to its side of the pty
    with pytest.raises(LinkError, match=r"closed \(the process behind it ended\)"):
        link.read_some(Deadline.after(1))
    link.close()


def test_a_peer_that_stops_reading_cannot_hang_a_write(pair: tuple[FdLink, socket.socket]) -> None:
    link, _ = pair  # the peer never reads: the socket buffers fill up
    started = time.monotonic()
    with pytest.raises(LinkTimeout, match=r"took no input for 0.3 s"):
        link.write(b"x" * 20_000_000)
    assert time.monotonic() - started < 2


def test_in_flight_limits_what_the_peer_has_not_read(pair: tuple[FdLink, socket.socket]) -> None:
    link, peer = pair
    link.in_flight, link.settle_s = 32, 0.001
    data = bytes(range(256)) * 4
    pieces: list[bytes] = []

    def slow_reader() -> None:
        got = 0
        while got < len(data):
            time.sleep(0.002)  # always behind the writer
            piece = peer.recv(4096)
            pieces.append(piece)
            got += len(piece)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    link.write(data)
    reader.join(5)
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) <= 32  # never more than one piece waiting
    assert link.unread_by_peer() == 0


def test_a_board_that_caught_up_gets_the_next_piece_without_a_pause(
    pair: tuple[FdLink, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    link, peer = pair
    link.in_flight, link.settle_s = 32, 0.05
    pauses: list[float] = []
    monkeypatch.setattr("hilrig.transport.link.time.sleep", pauses.append)
    link.write(b"\x04")  # e.g. a soft reset
    peer.recv(10)
    link.write(b"pass\n\x04")  # right after it: the firmware may still be draining its ring
    assert pauses == [0.05]
    peer.recv(10)
    link.caught_up()  # the board answered at its prompt: it has read everything
    link.write(b"pass\n\x04")
    assert pauses == [0.05]  # no pause this time
    assert peer.recv(10) == b"pass\n\x04"


def test_a_doubled_byte_is_written_twice_and_nothing_else_changes() -> None:
    ours, theirs = socket.socketpair()
    link = FdLink(ours.detach(), "mux", doubled=b"\0")
    try:
        link.write(b"a\0x\0\0" + bytes(range(1, 256)))
        got = b""
        while len(got) < 8 + 255:
            got += theirs.recv(4096)
        assert got == b"a\0\0x\0\0\0\0" + bytes(range(1, 256))
    finally:
        link.close()
        theirs.close()


def test_unread_by_peer_counts_until_read(pair: tuple[FdLink, socket.socket]) -> None:
    link, peer = pair
    link.write(b"12345")
    assert link.unread_by_peer() > 0
    peer.recv(5)
    assert link.unread_by_peer() == 0


def test_closed_link_refuses_and_closes_once() -> None:
    ours, theirs = socket.socketpair()
    fd = ours.detach()
    borrowed = FdLink(fd, "borrowed", owns_fd=False)
    borrowed.close()
    os.fstat(fd)  # still open: the link did not own it
    link = FdLink(fd, "owned")
    link.close()
    link.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    with pytest.raises(LinkError, match="owned is closed"):
        link.write(b"x")
    with pytest.raises(LinkError, match="owned is closed"):
        link.read_some(Deadline.after(0.1))
    theirs.close()


# -- pyserial ---------------------------------------------------------------------------------


def test_serial_loopback_round_trip_and_timeout() -> None:
    link = SerialLink("loop://").open()
    try:
        link.write(b"OK\x04")
        assert link.read_some(Deadline.after(1)) == b"OK\x04"
        started = time.monotonic()
        with pytest.raises(LinkTimeout, match=r"loop:// sent nothing for 0.1 s"):
            link.read_some(Deadline.after(0.1))
        assert time.monotonic() - started < 5  # the deadline ended the wait
    finally:
        link.close()
    link.close()  # twice is fine
    with pytest.raises(LinkError, match="is not open"):
        link.write(b"x")


def test_missing_serial_port_says_what_to_check() -> None:
    with pytest.raises(LinkError, match=r"cannot open serial port /dev/hilrig-none.*connected"):
        SerialLink("/dev/hilrig-none").open()
