"""Scripted boards for protocol tests: the one fake, at the byte-stream boundary.

:class:`ScriptedLink` implements :class:`hilrig.transport.link.Link`. It records every write and
plays a
script of replies, each sent once the host has written a given byte string; it never sleeps (a
silent board answers a read with LinkTimeout at once). :class:`PasteBoard` adds the board side
of raw-paste flow control, so tests can check that the host never sends beyond its credit.
"""

from __future__ import annotations

from hilrig.deadline import Deadline
from hilrig.errors import LinkError, LinkTimeout
from hilrig.transport.rawrepl import RAW_PROMPT

Step = tuple[bytes, bytes]  # (when the host has written this, the board sends that)


class ScriptedLink:
    """A board that answers from a script, in order, and records what the host wrote."""

    label = "scripted board"

    def __init__(self, *steps: Step, chunk: int = 0, hangup: bool = False) -> None:
        self.steps = list(steps)
        self.chunk = chunk  # bytes per read; 0: all that is queued
        self.hangup = hangup  # once the script is played out, reads fail like a closed pty
        self.written = bytearray()
        self.writes: list[bytes] = []
        self.queue = bytearray()
        self.closed = False
        self.flow_control = False  # raw-paste mode told the link to stop pacing
        self.caught: list[int] = []  # len(written) each time the board was said to have caught up
        self._seen = 0

    def say(self, data: bytes) -> None:
        """Queue output the board sends without being asked."""
        self.queue += data

    def write(self, data: bytes) -> None:
        """Record, then play every step whose trigger has now been written."""
        if self.closed:
            raise LinkError(f"{self.label} is closed")
        self.written += data
        self.writes.append(bytes(data))
        self.received(bytes(data))
        while self.steps:
            trigger, reply = self.steps[0]
            i = self.written.find(trigger, self._seen)
            if i < 0:
                break
            self._seen = i + len(trigger)
            self.queue += reply
            self.steps.pop(0)

    def received(self, data: bytes) -> None:
        """What a board model does with bytes from the host (nothing, for a plain script)."""

    def before_read(self) -> None:
        """What a board model does while the host waits (nothing, for a plain script)."""

    def read_some(self, deadline: Deadline) -> bytes:
        """Queued bytes (``chunk`` at a time); LinkTimeout at once when nothing is queued."""
        self.before_read()
        if not self.queue:
            if self.hangup and not self.steps:
                raise LinkError(f"{self.label} closed (the process behind it ended)")
            raise LinkTimeout(f"{self.label} sent nothing for {deadline.budget_s:g} s")
        n = self.chunk or len(self.queue)
        data = bytes(self.queue[:n])
        del self.queue[:n]
        return data

    def close(self) -> None:
        """Mark closed."""
        self.closed = True

    def flow_controlled(self) -> None:
        """Remember that raw-paste mode took over the flow."""
        self.flow_control = True

    def caught_up(self) -> None:
        """Remember how much had been written when the board was said to have read it all."""
        self.caught.append(len(self.written))


class PasteBoard(ScriptedLink):
    """A board with raw-paste mode: window credits, the end-of-data echo, an optional abort.

    Credits are granted only while the host reads (as a board grants them only after consuming a
    window), so a host that writes past its credit without reading trips ``overrun``.
    ``abort_after``: after that many code bytes the board stops reading (a syntax error), sends
    Ctrl-D, swallows input up to the host's Ctrl-D and then sends ``reply``.
    """

    def __init__(
        self, reply: bytes, window: int = 128, abort_after: int | None = None, chunk: int = 0
    ) -> None:
        super().__init__(chunk=chunk)
        self.reply = reply
        self.window = window
        self.abort_after = abort_after
        self.state = "prompt"
        self.code = bytearray()
        self.granted = 0
        self.credited = 0  # code bytes already paid for with a credit
        self.overrun = False
        self.after_abort = 0  # code bytes the host sent after the board's abort

    def received(self, data: bytes) -> None:
        """Follow the host through request, code and end of data."""
        if self.state == "prompt" and self.written.endswith(b"\x05A\x01"):
            self.state = "paste"
            self.granted = 2 * self.window
            self.say(b"R\x01" + self.window.to_bytes(2, "little") + b"\x01")
        elif self.state == "paste":
            self._code(data)
        elif self.state == "aborted":
            end = data.find(b"\x04")
            self.after_abort += len(data) if end < 0 else end
            if end >= 0:
                self.state = "done"
                self.say(self.reply)

    def _code(self, data: bytes) -> None:
        end = data.find(b"\x04")
        body = data if end < 0 else data[:end]
        self.code += body
        if len(self.code) > self.granted:
            self.overrun = True
        if self.abort_after is not None and len(self.code) >= self.abort_after:
            self.state = "aborted"
            self.after_abort = len(self.code) - self.abort_after
            del self.code[self.abort_after :]
            self.say(b"\x04")
            if end >= 0:
                self.received(data[end:])
        elif end >= 0:
            self.state = "done"
            self.say(b"\x04" + self.reply)

    def before_read(self) -> None:
        """Consume what the host sent: one Ctrl-A credit per window."""
        if self.state != "paste":
            return
        while len(self.code) - self.credited >= self.window:
            self.credited += self.window
            self.granted += self.window
            self.say(b"\x01")


def raw_prompt_board(*steps: Step, chunk: int = 0) -> ScriptedLink:
    """A board already at the raw prompt (no raw-paste: MicroPython 1.9.x) running ``steps``."""
    return ScriptedLink((b"\x05A\x01", RAW_PROMPT), *steps, chunk=chunk)
