"""Run one program on one board: compile (or not), send, follow, recover, and say what happened.

Everything that can go wrong on the board ends as a :class:`RunResult` with an outcome and a
sentence; the board is brought back to a clean raw prompt (or marked broken) before returning.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hilrig.boards.board import Board
from hilrig.capabilities import Capabilities
from hilrig.errors import (
    BoardBroken,
    BoardReset,
    LinkError,
    ProgramTimeout,
    ReplError,
)
from hilrig.mpy.compiler import Compiler, CompileRequest
from hilrig.mpy.payload import clean_traceback, mpy_payload, source_payload, wiring_payload
from hilrig.mpy.reader import check_loadable, read_header
from hilrig.results import Outcome, RunResult, printed_skip
from hilrig.run.program import Program
from hilrig.targets.spec import Wiring
from hilrig.transport.transcript import Transcript

log = logging.getLogger(__name__)

WIRING_BUDGET_S = 5.0  # to define the target_wiring module before a program
KEPT_PREPARED = 2048  # payloads prepared ahead (the prefetch) and kept until their turn


def _board_rejected_source(result: RunResult) -> bool:
    """A compile-time SyntaxError/IndentationError with no output: the board never ran it."""
    last = result.traceback.strip().splitlines()[-1:] if result.traceback.strip() else []
    return (
        result.outcome is Outcome.EXCEPTION
        and not result.stdout.strip()
        and bool(last)
        and last[0].split(b":")[0] in (b"SyntaxError", b"IndentationError")
    )


@dataclass(frozen=True)
class Prepared:
    """A program ready to send: the payload, and the .mpy (None in source mode)."""

    payload: bytes
    mpy: bytes | None
    command: tuple[str, ...]  # the mpy-cross command line, for bundles


class Runner:
    """Runs programs on one started board."""

    def __init__(
        self,
        board: Board,
        caps: Capabilities,
        compiler: Compiler | None,
        max_output: int,
        emit: str = "bytecode",
        role: str = "board",
    ) -> None:
        self.board = board
        self.role = role  # "board", or "reference VM": who recovered, in messages
        self.caps = caps
        self.compiler = compiler  # None: source mode
        self.max_output = max_output
        self.emit = emit
        self.wiring = Wiring()  # given to programs that import target_wiring
        self._kept: dict[tuple[Path, bytes, str | None], Prepared] = {}
        self._kept_lock = threading.Lock()

    @property
    def source_mode(self) -> bool:
        """True when programs are sent as text."""
        return self.compiler is None

    def skip_reason(self, program: Program) -> str | None:
        """Why this board cannot run this program at all, or None."""
        if program.needs_native and not self.source_mode and self.caps.arch is None:
            return f"needs native code; firmware {self.caps.version_text} loads none"
        return None

    def prepare(self, program: Program, keep: bool = False) -> Prepared:
        """Compile (cached) and wrap; CompileError and IncompatibleMpy propagate.

        ``keep``: the prefetch prepares a program ahead of its turn and keeps the result in
        memory, so that the board's next program is sent without this work in between (a
        kept result is handed out once).
        """
        if self.compiler is None:
            return Prepared(source_payload(program.source, program.name), None, ())
        key = (program.path, program.source, program.emit)
        with self._kept_lock:
            kept = self._kept.pop(key, None)
        if kept is not None:
            if keep:
                self._keep(key, kept)
            return kept
        prepared = self._prepare_mpy(program, self.compiler)
        if keep:
            self._keep(key, prepared)
        return prepared

    def _keep(self, key: tuple[Path, bytes, str | None], prepared: Prepared) -> None:
        with self._kept_lock:
            if len(self._kept) < KEPT_PREPARED:
                self._kept[key] = prepared

    def _prepare_mpy(self, program: Program, compiler: Compiler) -> Prepared:
        emit = program.emit or self.emit
        request = CompileRequest(
            source=program.source,
            name=program.name,
            emit=emit,
            arch=self.caps.arch if emit != "bytecode" or program.needs_native else None,
            small_int_bits=self.caps.small_int_bits,
        )
        mpy = compiler.compile(request)
        check_loadable(read_header(mpy, program.name), self.caps, program.name[:-3] + ".mpy")
        command = tuple(compiler.command(request, program.name, program.name[:-3] + ".mpy"))
        compress = not self.board.connection.fast_input  # nothing to gain on the host VM's pty
        return Prepared(mpy_payload(mpy, self.caps, compress), mpy, command)

    def run(self, program: Program, prepared: Prepared, timeout_s: float) -> RunResult:
        """Run a prepared program; the board is clean (or broken) afterwards.

        In source mode a compile error from the board is checked once by sending the program
        again: plain raw mode has no flow control, and a dropped byte looks like a SyntaxError.
        Only an error that happens twice is reported.
        """
        result = self._run_once(program, prepared, timeout_s)
        if self.source_mode and _board_rejected_source(result):
            if self.board.link is not None:
                self.board.link.transcript.note(
                    "the board's compiler rejected the program; sending it again to rule out "
                    "a byte dropped on the way"
                )
            result = self._run_once(program, prepared, timeout_s, keep_transcript=True)
        return result

    def _run_once(
        self, program: Program, prepared: Prepared, timeout_s: float, keep_transcript: bool = False
    ) -> RunResult:
        if self.board.broken:
            return RunResult(Outcome.BROKEN, detail=self.board.broken)
        transcript = (
            self.board.link.transcript
            if keep_transcript and self.board.link
            else self.board.begin(program.name)
        )
        started = time.monotonic()
        try:
            self._give_wiring(program)
            reply = self.board.exec(prepared.payload, timeout_s, self.max_output)
            self.board.after_program(reply.exited)
        except ProgramTimeout as exc:
            detail = f"timeout after {timeout_s:g} s"
            return self._recovered(Outcome.TIMEOUT, detail, exc.stdout, started, transcript)
        except BoardReset as exc:
            return self._recovered(Outcome.CRASH, str(exc), exc.stdout, started, transcript)
        except (ReplError, LinkError) as exc:
            return self._recovered(Outcome.CRASH, str(exc), b"", started, transcript)
        except BoardBroken as exc:
            return RunResult(Outcome.BROKEN, detail=str(exc), transcript=None)
        tb = clean_traceback(reply.exception, program.name, self.source_mode)
        outcome = Outcome.EXCEPTION if tb.strip() else Outcome.OK
        skipped = printed_skip(reply.stdout) if outcome is Outcome.OK else None
        return RunResult(
            Outcome.SKIP if skipped else outcome,
            reply.stdout,
            tb,
            reply.duration_s,
            reply.truncated,
            detail=skipped or "",
        )

    def _give_wiring(self, program: Program) -> None:
        """Make ``import target_wiring`` work for a program that needs it (a separate exec, so
        the program's own line numbers stay as written)."""
        if program.wiring_needed is None or not self.wiring.values:
            return
        payload = wiring_payload(self.wiring.module_source())
        reply = self.board.exec(payload, WIRING_BUDGET_S, self.max_output)
        if reply.exception:
            raise ReplError(
                f"{self.board.label} could not be given target_wiring: "
                f"{reply.exception.decode(errors='replace').strip()[-200:]}"
            )

    def _recovered(
        self, outcome: Outcome, detail: str, stdout: bytes, started: float, transcript: Transcript
    ) -> RunResult:
        transcript.note(f"{outcome.value}: {detail}")
        try:
            how = self.board.recover()
            detail += f" ({self.role} recovered by {how})"
        except BoardBroken as exc:
            detail += f"; {exc}"
        return RunResult(outcome, stdout, b"", time.monotonic() - started, detail=detail)

    @property
    def transcript(self) -> Transcript | None:
        """The transcript of the last program."""
        return self.board.link.transcript if self.board.link is not None else None
