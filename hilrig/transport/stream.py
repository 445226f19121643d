"""A running program's output, read as it arrives rather than all at once at the end.

:meth:`~hilrig.transport.rawrepl.RawRepl.send` starts a program; an :class:`OutputStream` then
reads its output piece by piece with the same raw REPL framing as ``RawRepl.exec`` (output,
Ctrl-D, the uncaught exception, Ctrl-D, the prompt). The ``board`` fixture's ``start``/``expect``
and the multi-board runner, which passes lines between boards while they run, read through it.
"""

from __future__ import annotations

import codecs
import enum

from hilrig.deadline import Deadline
from hilrig.errors import BoardReset, LinkTimeout, ProgramTimeout
from hilrig.transport.rawrepl import BOOT_BANNER, MAX_EXCEPTION_BYTES, RawRepl


class _Phase(enum.Enum):
    OUTPUT = "output"
    EXCEPTION = "exception"
    DONE = "done"


class OutputStream:
    """The output of the program last sent on ``repl``; ``pump`` reads what arrives next."""

    def __init__(self, repl: RawRepl, max_output: int = 1_000_000) -> None:
        self.repl = repl
        self.max_output = max_output
        self.stdout = bytearray()
        self.exception = bytearray()
        self.truncated = False  # output passed max_output; the rest was read and dropped
        self.exited = False  # SystemExit: the board soft-reset (the unix VM ended)
        self._phase = _Phase.OUTPUT
        self._tail = b""

    @property
    def finished(self) -> bool:
        """True once the program has ended and the board is back at its raw prompt."""
        return self._phase is _Phase.DONE

    def pump(self, deadline: Deadline) -> bytes:
        """Wait until ``deadline`` for the next bytes; return the part that is program output.

        LinkTimeout if nothing arrived; BoardReset if the board's boot banner arrived instead
        (it rebooted); ReplError when the framing after the program is lost.
        """
        if self.finished:
            return b""
        chunk = self.repl.take(deadline)
        new = bytearray()
        while chunk and not self.finished:
            end = chunk.find(b"\x04")
            piece, rest = (chunk, b"") if end < 0 else (chunk[:end], chunk[end + 1 :])
            if self._phase is _Phase.OUTPUT:
                new += self._output(piece)
            else:
                room = MAX_EXCEPTION_BYTES - len(self.exception)
                self.exception += piece[: max(0, room)]
            if end >= 0:
                self._phase = _Phase.EXCEPTION if self._phase is _Phase.OUTPUT else _Phase.DONE
            chunk = rest
        if self.finished:
            self.repl.unread(chunk)
            self.exited = self.repl.read_prompt()
        return bytes(new)

    def _output(self, piece: bytes) -> bytes:
        room = self.max_output - len(self.stdout)
        if len(piece) > room:
            self.truncated = True
        kept = piece[: max(0, room)]
        self.stdout += kept
        self._tail = (self._tail + piece)[-400:]
        banner = BOOT_BANNER.search(self._tail)
        if banner is not None:
            cut = max(0, len(self.stdout) - (len(self._tail) - banner.start()))
            raise BoardReset(
                f"{self.repl.link.label} rebooted while the program ran (its boot banner "
                f"arrived after {cut} bytes of output)",
                bytes(self.stdout[:cut]),
            )
        return kept

    def finish(self, deadline: Deadline) -> None:
        """Read until the program ends; ProgramTimeout (with the output so far) at ``deadline``."""
        while not self.finished:
            try:
                self.pump(deadline)
            except LinkTimeout as exc:
                raise ProgramTimeout(
                    f"timeout after {deadline.budget_s:g} s", bytes(self.stdout)
                ) from exc


class TextDecoder:
    """Bytes to text as they arrive: UTF-8 split across reads, ``\\r\\n`` made ``\\n``."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
        self._cr = False  # the last piece ended in \r, which may start a \r\n

    def feed(self, data: bytes, final: bool = False) -> str:
        """The text of ``data``; a trailing ``\\r`` is held back until the next piece."""
        text = ("\r" if self._cr else "") + self._decoder.decode(data, final)
        self._cr = text.endswith("\r") and not final
        if self._cr:
            text = text[:-1]
        return text.replace("\r\n", "\n")
