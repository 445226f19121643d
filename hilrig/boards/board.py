"""A board: a connection (host VM, QEMU, serial port), a recorded link, a raw REPL, and the
recovery ladder that brings it back to a clean raw prompt after anything goes wrong.

Ladder: Ctrl-C → soft reset → hard reset (new VM process, QEMU restart, probe or DTR/RTS reset)
→ the board is marked broken and every later program fails fast with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from hilrig.boards.capability_probe import parse_probe, probe_code
from hilrig.capabilities import Capabilities
from hilrig.deadline import Deadline
from hilrig.errors import BoardBroken, FramingLost, HilrigError, LinkError, ReplError
from hilrig.targets.spec import ReplSpec
from hilrig.transport.link import Link
from hilrig.transport.rawrepl import PLAIN_CHUNK, RAW_PROMPT, SYNC_PREFIX, ExecReply, RawRepl
from hilrig.transport.stream import OutputStream
from hilrig.transport.transcript import RecordingLink, Transcript

log = logging.getLogger(__name__)

INTERRUPT_BUDGET_S = 2.0  # from Ctrl-C to the raw prompt
ENTER_BUDGET_S = 2.0  # from Ctrl-C, Ctrl-A to the raw prompt when Ctrl-C alone did not do it
SOFT_RESET_BUDGET_S = 5.0  # a soft reset runs boot.py
SYNC_BUDGET_S = 2.0  # from the sync line to its answer at an idle raw prompt


class Connection(Protocol):
    """How to reach one board and how to hard-reset it.

    A connection whose link waits for the board to take each piece of input before sending the
    next (QEMU: see ``hilrig.boards.qemu.INPUT_IN_FLIGHT``) says so with
    ``paces_input = True``; plain
    raw mode then sends without the target's time-based pauses.
    """

    label: str
    soft_reset_restarts: bool  # the unix port ends its process on soft reset
    # Plain raw mode loses nothing here whatever the pace (the host VM's pty: the kernel holds
    # what the VM has not read yet), so programs go in one write instead of raw-paste windows.
    lossless_input: bool
    # Bytes cost nothing here (the host VM's pty): programs are not compressed.
    fast_input: bool

    def open(self, deadline: Deadline) -> Link:
        """Boot or connect; return the byte stream."""

    def restart(self, deadline: Deadline) -> Link:
        """Hard reset; return the new byte stream."""

    def interrupt(self, link: Link) -> None:
        """Deliver Ctrl-C to a running program."""

    def fresh_link_entered(self) -> bool:
        """True when a link from open/restart already had Ctrl-A sent."""

    def close(self) -> None:
        """Release everything; no process may survive."""


class Board:
    """One board in a run. Not thread-safe: one program at a time."""

    def __init__(
        self, connection: Connection, boot_timeout_s: float = 15.0, plain: ReplSpec | None = None
    ) -> None:
        self.connection = connection
        self.plain = plain if plain is not None else ReplSpec()
        self.boot_timeout_s = boot_timeout_s
        self.link: RecordingLink | None = None
        self.repl: RawRepl | None = None
        self.caps: Capabilities | None = None
        self.broken: str | None = None
        self.on_event: Callable[[str], None] = lambda text: None

    @property
    def label(self) -> str:
        """The connection's name for messages."""
        return self.connection.label

    def start(self) -> Capabilities:
        """Connect, enter the raw REPL, read the banner, run the capability probe."""
        deadline = Deadline.after(self.boot_timeout_s)
        self._attach(self.connection.open(deadline), deadline)
        repl = self._repl()
        banner = repl.friendly_banner(Deadline.after(5.0))
        probe = repl.exec(probe_code(), Deadline.after(10.0))
        if probe.exception:
            raise ReplError(
                f"the capability probe failed on {self.label}: "
                f"{probe.exception.decode(errors='replace').strip()[-300:]}"
            )
        self.caps = parse_probe(probe.stdout, banner, bool(repl.raw_paste))
        self.reset()
        return self.caps

    def _attach(self, link: Link, deadline: Deadline) -> None:
        old = self.link.transcript if self.link is not None else None
        self.link = RecordingLink(link)
        if old is not None:
            self.link.transcript = old  # keep recording into the program's transcript
        raw_paste = self.repl.raw_paste if self.repl is not None else None
        # Plain raw mode has no flow control: even behind QEMU's flow-controlled UART, the
        # micro:bit 1.9.2 firmware drops bytes its small receive buffer cannot hold. Time-based
        # pauses do not survive a loaded host (QEMU delivers what piled up in one burst), so a
        # link that paces itself against what the board has read is preferred.
        if self.connection.fresh_link_entered() or getattr(self.connection, "paces_input", False):
            pacing, chunk = 0.0, PLAIN_CHUNK
        else:
            pacing, chunk = self.plain.plain_pause_s, self.plain.plain_chunk_bytes
        self.repl = RawRepl(self.link, raw_paste=raw_paste, pacing_s=pacing, chunk=chunk)
        self.repl.prefer_plain = self.connection.lossless_input
        if self.connection.fresh_link_entered():
            self.repl.read_until(RAW_PROMPT, deadline)
        else:
            self.repl.enter(deadline)

    def _repl(self) -> RawRepl:
        if self.repl is None:
            raise ReplError(f"{self.label} is not started")
        return self.repl

    def begin(self, title: str) -> Transcript:
        """Start a fresh transcript for the next program."""
        if self.link is None:
            raise ReplError(f"{self.label} is not started")
        return self.link.begin(title)

    def exec(self, code: bytes, timeout_s: float, max_output: int) -> ExecReply:
        """Run code at the raw prompt; raises ProgramTimeout, ReplError or LinkError."""
        if self.broken:
            raise BoardBroken(self.broken)
        return self._repl().exec(code, Deadline.after(timeout_s), max_output)

    def launch(self, code: bytes, timeout_s: float, max_output: int) -> OutputStream:
        """Send code to run and return at once; its output is read from the stream."""
        if self.broken:
            raise BoardBroken(self.broken)
        repl = self._repl()
        repl.send(code, Deadline.after(timeout_s))
        return OutputStream(repl, max_output)

    def interrupt(self) -> None:
        """Deliver Ctrl-C to the running program (SIGINT on the unix port)."""
        if self.link is None:
            raise ReplError(f"{self.label} is not started")
        self.connection.interrupt(self.link)

    def reset(self) -> bytes:
        """Soft reset so that no state leaks into the next program; returns what the board
        printed up to its raw prompt (b"" on the unix port, where a reset is a new process)."""
        if self.connection.soft_reset_restarts:
            self._attach(
                self.connection.restart(Deadline.after(self.boot_timeout_s)),
                Deadline.after(self.boot_timeout_s),
            )
            return b""
        return self._repl().soft_reset(Deadline.after(SOFT_RESET_BUDGET_S))

    def after_program(self, exited: bool) -> None:
        """Bring the board to a clean prompt after a program that ended normally, and check that
        the program really had ended: no byte of it may arrive after the prompt.

        A program can print the raw REPL's framing itself (``print('\\x04\\x04>')``); the raw REPL
        then reads a false end, and the real one (Ctrl-D, the traceback, Ctrl-D, ``>``) arrives
        later, ahead of the board's answer to the next request — the soft reset's reboot
        message, or on the unix port (where a reset is a new process) a line that prints a random
        token. FramingLost says so.
        """
        if self.connection.soft_reset_restarts:
            if not exited:
                self._check_idle(self._repl().sync(Deadline.after(SYNC_BUDGET_S)), b"OK")
            self.reset()
        elif not exited:  # SystemExit already soft-reset the board
            self._check_idle(self.reset(), None)

    def _check_idle(self, said: bytes, exactly: bytes | None) -> None:
        if b"\x04" not in said and (exactly is None or said == exactly):
            return
        if SYNC_PREFIX in said:  # the check line ran, and more output came after it
            raise FramingLost(
                f"{self.label} printed after the program had ended ({said[:120]!r}): something "
                f"the program left behind (a scheduled callback, a timer, a thread) went on, so "
                f"the output seen cannot be trusted"
            )
        raise FramingLost(
            f"the program's output contained the raw REPL's end-of-output byte (Ctrl-D, \\x04): "
            f"{self.label} went on sending after the end hilrig had read ({said[:120]!r}), so "
            f"the output seen cannot be trusted. A program must not print \\x04"
        )

    def recover(self) -> str:
        """Climb the ladder until the board is at a clean raw prompt; BoardBroken if it is not
        (at once if the board is already broken or closed)."""
        if self.broken:
            raise BoardBroken(self.broken)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("Ctrl-C", self._interrupt),
            ("soft reset", self._soft_reset),
            ("hard reset", self.hard_reset),
        ]
        failures = []
        for name, step in steps:
            self._note(f"recovery: trying {name}")
            try:
                step()
            except HilrigError as exc:
                failures.append(f"{name}: {exc}")
                self._note(f"recovery: {name} failed: {exc}")
                continue
            self._note(f"recovery: {name} worked")
            return name
        self.broken = f"{self.label} could not be recovered ({'; '.join(failures)})"
        raise BoardBroken(self.broken)

    def _interrupt(self) -> None:
        # Ctrl-C, then Ctrl-A: the raw banner comes back whether Ctrl-C ended a program or the
        # board was already at the prompt (framing lost after Ctrl-D bytes in the output).
        repl = self._repl()
        assert self.link is not None
        self.connection.interrupt(self.link)
        self.link.write(b"\r\x01")
        repl.read_until(RAW_PROMPT, Deadline.after(INTERRUPT_BUDGET_S))
        self.reset()

    def _soft_reset(self) -> None:
        repl = self._repl()
        repl.enter(Deadline.after(ENTER_BUDGET_S))
        self.reset()

    def hard_reset(self) -> None:
        """Restart the board without its help (new VM process, QEMU restart, probe or DTR/RTS
        reset) and bring it to a clean raw prompt."""
        deadline = Deadline.after(self.boot_timeout_s)
        self._attach(self.connection.restart(deadline), deadline)
        if not self.connection.soft_reset_restarts:
            self._repl().soft_reset(Deadline.after(SOFT_RESET_BUDGET_S))

    def _note(self, text: str) -> None:
        log.info("%s: %s", self.label, text)
        if self.link is not None:
            self.link.transcript.note(text)
        self.on_event(text)

    def close(self) -> None:
        """Close the link and stop whatever runs the board."""
        try:
            self.connection.close()
        except (OSError, LinkError) as exc:  # closing must not mask the run's own result
            log.warning("closing %s: %s", self.label, exc)
