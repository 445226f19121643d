"""The raw REPL protocol over any :class:`~hilrig.transport.link.Link`.

Framing (MicroPython ``shared/runtime/pyexec.c``): at the raw prompt ``>`` the host sends code and
Ctrl-D; the board answers ``OK``, the program's output, ``\\x04``, the uncaught exception (if
any), ``\\x04`` and the prompt ``>`` again. Raw-paste mode (firmware ≥ 1.14) adds flow control;
older firmware answers the raw-paste request by reprinting the raw banner and gets plain raw mode.
Every read has a deadline and a deadline raises; partial data travels inside the exception.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass

from hilrig.deadline import Deadline
from hilrig.errors import BoardReset, LinkError, LinkTimeout, ProgramTimeout, ReplError
from hilrig.transport.link import Link

log = logging.getLogger(__name__)

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
RAW_PROMPT = RAW_BANNER + b">"
MAX_EXCEPTION_BYTES = 64 * 1024
PLAIN_CHUNK = 256  # mpremote's chunk in plain raw mode; targets without flow control use less
SYNC_PREFIX = b"hilrig-sync-"  # the line sync prints: this, then a random token
# What a board prints when it boots into the friendly REPL (machine.reset(), a watchdog, a
# crash): the banner line, then the help hint and the prompt, with nothing after it.
BOOT_BANNER = re.compile(
    rb'MicroPython [^\r\n]*\r\nType "help\(\)" for more information\.\r\n>>> $'
)
PROMPT_BUDGET_S = 5.0  # from a program's last Ctrl-D to the prompt
REBOOT_BUDGET_S = 10.0  # from SystemExit to the raw banner of a soft-rebooted board


@dataclass(frozen=True)
class ExecReply:
    """What one exec produced."""

    stdout: bytes
    exception: bytes
    truncated: bool  # stdout went past the limit; the rest was read and dropped
    exited: bool  # the program raised SystemExit: the board soft-reset (or the unix VM ended)
    duration_s: float


class RawRepl:
    """Raw REPL client. ``raw_paste=None`` asks the board once and remembers the answer."""

    def __init__(
        self,
        link: Link,
        raw_paste: bool | None = None,
        pacing_s: float = 0.01,
        chunk: int = PLAIN_CHUNK,
    ) -> None:
        self.chunk = chunk
        self.link = link
        self.raw_paste = raw_paste
        self.pacing_s = pacing_s  # pause between plain-mode chunks; 0 on flow-controlled links
        self._pending = bytearray()
        # Once raw-paste support is known (the capability probe asks), send in plain raw mode:
        # for links that lose nothing, one write beats raw-paste's window round trips.
        self.prefer_plain = False
        if raw_paste:
            link.flow_controlled()

    # -- reading ---------------------------------------------------------------------------
    def take(self, deadline: Deadline) -> bytes:
        """The next bytes from the board (what was put back first); LinkTimeout at the deadline."""
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            return data
        return self.link.read_some(deadline)

    def unread(self, data: bytes) -> None:
        """Put bytes back to be read again first."""
        self._pending[:0] = data

    def read_until(self, marker: bytes, deadline: Deadline) -> bytes:
        """Read up to and including ``marker``; LinkTimeout carries what did arrive."""
        return self._read_to((marker,), deadline)

    def _read_to(self, markers: tuple[bytes, ...], deadline: Deadline) -> bytes:
        """Read up to and including whichever of ``markers`` comes first."""
        got = bytearray()
        longest = max(len(m) for m in markers)
        while True:
            start = max(0, len(got) - longest + 1)
            try:
                got += self.take(deadline)
            except LinkTimeout as exc:
                wanted = " or ".join(repr(m) for m in markers)
                raise LinkTimeout(
                    f"{self.link.label}: waited {deadline.budget_s:g} s for {wanted}, "
                    f"got {bytes(got[-200:])!r}",
                    bytes(got),
                ) from exc
            found = [(got.find(m, start), m) for m in markers]
            hits = [(i, m) for i, m in found if i >= 0]
            if hits:
                i, marker = min(hits)
                end = i + len(marker)
                self.unread(bytes(got[end:]))
                return bytes(got[:end])

    def read_exactly(self, n: int, deadline: Deadline) -> bytes:
        """Read exactly ``n`` bytes; LinkTimeout carries what did arrive."""
        got = bytearray()
        while len(got) < n:
            try:
                got += self.take(deadline)
            except LinkTimeout as exc:
                raise LinkTimeout(
                    f"{self.link.label}: waited {deadline.budget_s:g} s for {n} bytes, "
                    f"got {bytes(got)!r}",
                    bytes(got),
                ) from exc
        self.unread(bytes(got[n:]))
        return bytes(got[:n])

    def drain(self, quiet_s: float, deadline: Deadline) -> bytes:
        """Read until the board has been silent for ``quiet_s`` (or the deadline passes)."""
        got = bytearray(self._pending)
        self._pending.clear()
        while not deadline.expired():
            try:
                got += self.link.read_some(deadline.sooner(quiet_s))
            except LinkTimeout:
                break
        return bytes(got)

    # -- entering and leaving ----------------------------------------------------------------
    def enter(self, deadline: Deadline) -> bytes:
        """Interrupt whatever runs and enter the raw REPL; returns what the board said first."""
        self.link.write(b"\r\x03")
        before = self.drain(0.05, deadline)
        self.link.write(b"\r\x01")
        try:
            said = before + self.read_until(RAW_PROMPT, deadline)
        except LinkTimeout as exc:
            raise ReplError(
                f"{self.link.label} did not enter the raw REPL within {deadline.budget_s:g} s; "
                f"it said {(before + exc.received)[-160:]!r}. Is MicroPython running there?"
            ) from exc
        self.link.caught_up()
        return said

    def friendly_banner(self, deadline: Deadline) -> str:
        """Leave and re-enter the raw REPL to read the firmware's banner line."""
        self.link.write(b"\x02")
        text = self.read_until(b">>> ", deadline)
        self.link.write(b"\x01")
        self.read_until(RAW_PROMPT, deadline)
        self.link.caught_up()
        for line in text.decode("utf-8", "replace").splitlines():
            if line.startswith("MicroPython"):
                return line.strip()
        return ""

    def soft_reset(self, deadline: Deadline) -> bytes:
        """Soft-reset a board from the raw prompt; returns what it printed (boot.py output)."""
        self.link.write(b"\x04")
        said = self.read_until(RAW_PROMPT, deadline)
        self.link.caught_up()  # at the raw prompt: everything sent has been read
        return said

    def sync(self, deadline: Deadline) -> bytes:
        """Prove the board is idle at its raw prompt: run a line that prints a random token.

        Returns what arrived before the token's output; at an idle prompt that is exactly
        ``b"OK"``. Anything else (bytes a program went on writing after a false end, or a
        LinkTimeout's partial data) is returned for the caller to judge; so is everything read,
        token and all, when other output follows the token before the prompt comes back (a
        callback the program scheduled ran after it), as soon as the prompt is back. Plain raw
        mode, so it works on every firmware; the line is short enough for the smallest receive
        ring.
        """
        token = SYNC_PREFIX + secrets.token_hex(4).encode()
        self.link.write(b"print('" + token + b"')\x04")
        try:
            before = self._read_to((token,), deadline)[: -len(token)]
        except LinkTimeout as exc:
            return exc.received or b"(nothing)"
        try:
            after = self._read_to((b"\x04>",), deadline)  # the prompt, whatever came first
        except LinkTimeout as exc:
            return before + token + exc.received
        return before if after in (b"\r\n\x04\x04>", b"\n\x04\x04>") else before + token + after

    # -- running code --------------------------------------------------------------------------
    def exec(self, code: bytes, deadline: Deadline, max_output: int = 1_000_000) -> ExecReply:
        """Run ``code`` at the raw prompt; ProgramTimeout if it outlives ``deadline``.

        ReplError if the board does not take the code or the framing after it is lost (Ctrl-D
        bytes in the output); LinkError if the link dies.
        """
        started = time.monotonic()
        self.send(code, deadline)
        return self._follow(deadline, max_output, started)

    def send(self, code: bytes, deadline: Deadline) -> None:
        """Send ``code`` to run and return once the board has taken it, before any output.

        ReplError if the board does not take it by ``deadline``. What the program prints next
        is read with :meth:`take` (or :class:`hilrig.transport.stream.OutputStream`).
        """
        try:
            known = self.raw_paste is not None
            if self.raw_paste is False or (known and self.prefer_plain):
                self._plain(code, deadline)
            elif not self._paste(code, deadline):
                self._plain(code, deadline)
        except LinkTimeout as exc:
            raise ReplError(
                f"{self.link.label} did not take the program ({len(code)} bytes) within "
                f"{deadline.budget_s:g} s; it answered {exc.received[-120:]!r}"
            ) from exc

    def _paste(self, code: bytes, deadline: Deadline) -> bool:
        """Send ``code`` in raw-paste mode; False if the firmware does not have it."""
        self.link.write(b"\x05A\x01")
        answer = self.read_exactly(2, deadline)
        if answer == b"R\x01":
            if not self.raw_paste:
                self.link.flow_controlled()  # the board grants a window: no pacing from now on
            self.raw_paste = True
            self._paste_body(code, deadline)
            return True
        self.raw_paste = False
        if answer == b"R\x00":
            self.read_until(b">", deadline)
        else:
            # MicroPython 1.9.x (micro:bit) treats the request as Ctrl-A and reprints the banner,
            # whose first two bytes ("ra") we have just read.
            self.read_until(RAW_PROMPT[2:], deadline)
        log.debug("%s has no raw-paste mode; using plain raw REPL", self.link.label)
        return False

    def _paste_body(self, code: bytes, deadline: Deadline) -> None:
        """Send within the board's window credits; stop early if the board aborts with Ctrl-D."""
        window = int.from_bytes(self.read_exactly(2, deadline), "little")
        credit = window
        sent = 0
        while sent < len(code):
            while credit == 0 or self._pending:
                flag = self.read_exactly(1, deadline)
                if flag == b"\x01":
                    credit += window
                elif flag == b"\x04":  # the board stopped reading (syntax error, Ctrl-C)
                    self.link.write(b"\x04")
                    return
                else:
                    raise ReplError(f"{self.link.label}: unexpected {flag!r} during raw-paste")
            n = min(credit, len(code) - sent)
            self.link.write(code[sent : sent + n])
            sent += n
            credit -= n
        self.link.write(b"\x04")
        self._skip_credits_until_eot(deadline)

    def _skip_credits_until_eot(self, deadline: Deadline) -> None:
        while True:
            flag = self.read_exactly(1, deadline)
            if flag == b"\x04":
                return
            if flag != b"\x01":
                raise ReplError(f"{self.link.label}: unexpected {flag!r} ending raw-paste")

    def _plain(self, code: bytes, deadline: Deadline) -> None:
        """Send in chunks, pausing between them on links without flow control (a bare UART)."""
        data = code + b"\x04"  # the end goes with the last piece: one pause less
        for i in range(0, len(data), self.chunk):
            if i and self.pacing_s:
                time.sleep(self.pacing_s)
            self.link.write(data[i : i + self.chunk])
        ok = self.read_exactly(2, deadline)
        if ok != b"OK":
            rest = self.drain(0.05, deadline.sooner(0.5))
            raise ReplError(f"{self.link.label}: expected OK after code, got {(ok + rest)[:120]!r}")

    def _follow(self, deadline: Deadline, max_output: int, started: float) -> ExecReply:
        stdout = bytearray()
        try:
            truncated = self._collect(stdout, max_output, deadline)
            exception = bytearray()
            self._collect(exception, MAX_EXCEPTION_BYTES, deadline)
        except LinkTimeout as exc:
            raise ProgramTimeout(f"timeout after {deadline.budget_s:g} s", bytes(stdout)) from exc
        exited = self.read_prompt()
        return ExecReply(
            bytes(stdout), bytes(exception), truncated, exited, time.monotonic() - started
        )

    def _collect(self, into: bytearray, limit: int, deadline: Deadline) -> bool:
        """Append bytes up to the next Ctrl-D; keep at most ``limit``; True if some were dropped.

        BoardReset if the board's boot banner and friendly prompt end what has arrived: the
        board rebooted (micro:bit ``machine.reset()``: at once, not after the program's limit).
        """
        dropped = False
        tail = b""
        while True:
            chunk = self.take(deadline)
            i = chunk.find(b"\x04")
            piece = chunk if i < 0 else chunk[:i]
            room = limit - len(into)
            if len(piece) > room:
                dropped = True
            into += piece[: max(0, room)]
            if i >= 0:
                self.unread(chunk[i + 1 :])
                return dropped
            tail = (tail + piece)[-400:]
            banner = BOOT_BANNER.search(tail)
            if banner is not None:
                before = bytes(into[: max(0, len(into) - (len(tail) - banner.start()))])
                raise BoardReset(
                    f"{self.link.label} rebooted while the program ran (its boot banner "
                    f"arrived after {len(before)} bytes of output)",
                    before.rstrip(b"\x00"),
                )

    def read_prompt(self) -> bool:
        """Read the prompt after a program; True when it ended with a soft reset (SystemExit).

        The program is over once both Ctrl-Ds have come, so the prompt gets its own budget rather
        than what is left of the program's. A Ctrl-D where the prompt should be means the output
        itself held Ctrl-D bytes: the framing is lost, and waiting longer would not bring it back.
        """
        try:
            first = self.read_exactly(1, Deadline.after(PROMPT_BUDGET_S))
            if first == b">":
                self.link.caught_up()
                return False
            if first != b"\x04":
                self.unread(first)
                # A board soft-reboots after SystemExit and prints the raw banner again.
                text = self._read_to((RAW_PROMPT, b"\x04>"), Deadline.after(REBOOT_BUDGET_S))
                if text.endswith(RAW_PROMPT):
                    self.link.caught_up()
                    return True
        except LinkTimeout as exc:
            raise ReplError(
                f"{self.link.label}: lost the raw REPL framing after the program "
                f"(no prompt; got {exc.received[:120]!r}); the output may contain Ctrl-D bytes"
            ) from exc
        except LinkError:
            return True  # the unix VM ends its process on SystemExit
        raise ReplError(
            f"{self.link.label}: lost the raw REPL framing after the program: its output "
            f"contained Ctrl-D (\\x04) bytes, which end the output early"
        )
