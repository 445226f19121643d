"""A started board driven from your own code: the ``board`` fixture and ``hilrig.connect``.

It uses the run's own session (the board the suite programs run on, through the same
connection), so a test never opens a second connection to a port. Everything is text: code is
sent as UTF-8 and output comes back decoded, with ``\\r\\n`` made ``\\n``. Every call has a
deadline (its ``timeout``, else the run's per-program limit); a board that stops answering is
brought back by the recovery ladder and the call raises with what happened, and a board that
cannot be recovered raises :class:`~hilrig.errors.BoardBroken` with the reason.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hilrig.boards.board import Board
from hilrig.capabilities import Capabilities
from hilrig.compare.tracebacks import parse_traceback
from hilrig.deadline import Deadline
from hilrig.errors import (
    BoardException,
    BoardReset,
    ExpectFailed,
    HilrigError,
    LinkError,
    LinkTimeout,
    NotALiteral,
    ProgramTimeout,
    ReplError,
)
from hilrig.mpy.payload import wiring_payload
from hilrig.run.program import read_program
from hilrig.run.session import HilSession, ProgramRun
from hilrig.transport.stream import OutputStream, TextDecoder
from hilrig.transport.transcript import Transcript

log = logging.getLogger(__name__)

INTERRUPT_BUDGET_S = 5.0  # from Ctrl-C to the prompt after the interrupted program
_T = TypeVar("_T")


class LeasedBoard:
    """The board leased for this run, for tests that drive it themselves (``board`` fixture)."""

    def __init__(self, session: HilSession) -> None:
        self.session = session
        self._stream: OutputStream | None = None
        self._decoder = TextDecoder()
        self._text = ""  # output of the program started last, as text
        self._seen = 0  # where the next expect() starts looking

    # -- what it is ----------------------------------------------------------------------------
    @property
    def board(self) -> Board:
        """The session's board (one connection, shared with the suite programs)."""
        if self.session.board is None:
            raise HilrigError(f"the session of target {self.session.spec.name} was not started")
        self.session.settle()  # a suite program run ahead finishes first
        return self.session.board

    @property
    def label(self) -> str:
        """The board's name in messages."""
        return self.board.label

    @property
    def caps(self) -> Capabilities:
        """What the capability probe found: version, platform, modules, float and int sizes."""
        if self.session.caps is None:
            raise HilrigError(f"the session of target {self.session.spec.name} was not started")
        return self.session.caps

    @property
    def wiring(self) -> dict[str, object]:
        """The target's ``[wiring]`` table (what ``import target_wiring`` gives on the board)."""
        return self.session.spec.wiring.as_dict()

    @property
    def output(self) -> str:
        """Everything the program started last has printed so far."""
        return self._text

    @property
    def transcript(self) -> Transcript:
        """Every byte to and from the board since :meth:`begin`."""
        if self.board.link is None:
            raise HilrigError(f"{self.label} is not started")
        return self.board.link.transcript

    @property
    def default_timeout_s(self) -> float:
        """The limit a call gets without ``timeout``: the run's per-program limit."""
        return self.session.default_timeout_s

    # -- a test's life -------------------------------------------------------------------------
    def begin(self, title: str) -> None:
        """Start a fresh transcript and give the board its ``target_wiring`` module."""
        self.board.begin(title)
        self._give_wiring()

    def end(self) -> None:
        """Stop a program still running and soft-reset, so nothing leaks into what runs next."""
        if self._stream is not None:
            self.interrupt()
        self.board.reset()

    # -- running code --------------------------------------------------------------------------
    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run code in the board's REPL namespace and return what it printed.

        BoardException if it raised; ProgramTimeout (after recovering the board) if it ran past
        ``timeout``.
        """
        self._idle("exec")
        limit = self._limit(timeout)
        reply = self._guard(lambda: self.board.exec(code.encode(), limit, self._max_output))
        self._after(reply.exited)
        stdout = TextDecoder().feed(reply.stdout, final=True)
        if reply.exception:
            raise self._exception(reply.exception, stdout)
        return stdout

    def eval(self, expr: str, timeout: float | None = None) -> Any:
        """The value of an expression on the board, read back from its repr."""
        text = self.exec(f"print(repr(\n{expr}\n))", timeout).strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise NotALiteral(
                f"{expr!r} on {self.label} is {text[:200]!r}, which is not a Python literal; "
                f"use exec() and print what you need of it",
                text,
            ) from None

    def start(self, code: str, timeout: float | None = None) -> None:
        """Run code without waiting for it; read its output with expect(), end it with wait()
        or interrupt(). ``timeout`` bounds only how long the board may take to accept it."""
        self._idle("start")
        limit = self._limit(timeout)
        self._decoder = TextDecoder()
        self._text, self._seen = "", 0
        self._stream = self._guard(
            lambda: self.board.launch(code.encode(), limit, self._max_output)
        )

    def expect(self, pattern: str | re.Pattern[str], timeout: float | None = None) -> re.Match[str]:
        """Wait for a regular expression in the running program's output; return the match.

        The search starts where the previous match ended; ``match.string`` and :attr:`output`
        keep everything printed. ExpectFailed if the pattern does not appear within ``timeout``
        or before the program ends (BoardException if it ended by raising).
        """
        stream = self._running("expect")
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        limit = self._limit(timeout)
        deadline = Deadline.after(limit)
        while True:
            found = regex.search(self._text, self._seen)
            if found is not None:
                self._seen = found.end()
                return found
            if stream.finished:
                return self._ended_without(regex, stream)
            try:
                self._pump(stream, deadline)
            except LinkTimeout:
                raise ExpectFailed(
                    f"{regex.pattern!r} did not appear in the output of the program on "
                    f"{self.label} within {limit:g} s; since the last match it printed "
                    f"{self._text[self._seen :][-300:]!r}",
                    self._text,
                ) from None

    def wait(self, timeout: float | None = None) -> str:
        """Wait for the started program to end and return all it printed; BoardException if it
        raised. ProgramTimeout if it still runs after ``timeout`` (it keeps running: call
        interrupt() to stop it)."""
        stream = self._running("wait")
        limit = self._limit(timeout)
        deadline = Deadline.after(limit)
        while not stream.finished:
            try:
                self._pump(stream, deadline)
            except LinkTimeout:
                raise ProgramTimeout(
                    f"the program started on {self.label} still runs after {limit:g} s; "
                    f"call interrupt() to stop it",
                    bytes(stream.stdout),
                ) from None
        self._stream = None
        self._after(stream.exited)
        if stream.exception:
            raise self._exception(bytes(stream.exception), self._text)
        return self._text

    def interrupt(self) -> str:
        """Stop the started program with Ctrl-C and return what it printed."""
        stream = self._running("interrupt")
        self._stream = None
        self.board.interrupt()
        deadline = Deadline.after(INTERRUPT_BUDGET_S)
        try:
            while not stream.finished:
                self._text += self._decoder.feed(stream.pump(deadline))
        except HilrigError as exc:
            log.info("%s: Ctrl-C did not end the program (%s); recovering", self.label, exc)
            self.board.recover()
            return self._text
        self._after(stream.exited)
        return self._text

    def reset(self, hard: bool = False) -> None:
        """Soft reset (a new process on the unix port), or ``hard``: restart the board without
        its help (new VM, QEMU restart, probe or DTR/RTS reset). A running program is stopped."""
        if self._stream is not None:
            self.interrupt()
        self._guard(self.board.hard_reset if hard else self.board.reset)
        self._give_wiring()

    def run_program(self, path: str | Path) -> ProgramRun:
        """Run a program file exactly as a suite item would: on the board, then the reference,
        compared; ``.comparison.verdict`` is the verdict. The board is soft-reset afterwards."""
        self._idle("run_program")
        program = read_program(Path(path), self.session.options.rootdir)
        kept = self.transcript
        try:
            report = self.session.run_program(program)
        finally:
            if self.board.link is not None:
                self.board.link.transcript = kept
        where = f"; its transcript: {report.transcript}" if report.transcript else ""
        kept.note(f"ran {program.name}: {report.comparison.verdict.value}{where}")
        self._give_wiring()
        return report

    # -- inside --------------------------------------------------------------------------------
    @property
    def _max_output(self) -> int:
        return self.session.spec.max_output_bytes

    def _limit(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self.default_timeout_s

    def _idle(self, what: str) -> None:
        if self._stream is not None:
            raise HilrigError(
                f"{what}() while the program started on {self.label} still runs; "
                f"call wait() or interrupt() first"
            )

    def _running(self, what: str) -> OutputStream:
        if self._stream is None:
            raise HilrigError(f"{what}() needs a program started with start() on {self.label}")
        return self._stream

    def _pump(self, stream: OutputStream, deadline: Deadline) -> None:
        """Read the next output; a reboot or lost link ends the program (the board is recovered)."""
        try:
            self._text += self._decoder.feed(stream.pump(deadline))
        except LinkTimeout:
            raise
        except (BoardReset, ReplError, LinkError) as exc:
            self._stream = None
            raise self._recovered(exc) from exc

    def _guard(self, call: Callable[[], _T]) -> _T:
        """Run a board step; on a timeout, reboot or broken link recover the board, then raise
        the step's error saying how the board was brought back."""
        try:
            return call()
        except ProgramTimeout as exc:
            how = self.board.recover()
            raise ProgramTimeout(
                f"{self.label}: the code ran past its limit ({exc}); stopped by {how}", exc.stdout
            ) from exc
        except (BoardReset, ReplError, LinkError) as exc:
            raise self._recovered(exc) from exc

    def _recovered(self, exc: BoardReset | ReplError | LinkError) -> HilrigError:
        """Recover the board (BoardBroken if it cannot be) and word what happened."""
        how = self.board.recover()
        return type(exc)(f"{exc} (the board was brought back by {how})")

    def _after(self, exited: bool) -> None:
        """SystemExit soft-resets a board, and ends the unix port's process: start a new one."""
        if exited:
            if self.board.connection.soft_reset_restarts:
                self.board.reset()
            self._give_wiring()

    def _ended_without(self, regex: re.Pattern[str], stream: OutputStream) -> re.Match[str]:
        self._stream = None
        self._after(stream.exited)
        if stream.exception:
            raise self._exception(bytes(stream.exception), self._text)
        raise ExpectFailed(
            f"the program on {self.label} ended without printing {regex.pattern!r}; it printed "
            f"{self._text[-300:]!r}",
            self._text,
        )

    def _exception(self, raw: bytes, stdout: str) -> BoardException:
        text = TextDecoder().feed(raw, final=True)
        tb = parse_traceback(text)
        exc_type = tb.exc_type if tb is not None else "exception"
        message = tb.message if tb is not None else text.strip()
        return BoardException(exc_type, message, text, stdout, where=f"code on {self.label}")

    def _give_wiring(self) -> None:
        wiring = self.session.spec.wiring
        if not wiring.values:
            return
        reply = self._guard(
            lambda: self.board.exec(
                wiring_payload(wiring.module_source()), self.default_timeout_s, self._max_output
            )
        )
        if reply.exception:
            raise self._exception(reply.exception, "")
