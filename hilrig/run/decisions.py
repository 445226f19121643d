"""Verdicts decided before or instead of comparing two runs: a board that stopped, a program
that skipped itself, a module or heap the board lacks, a program that does not compile.

Each skip here is earned: it says what the board lacks, and only when the reference shows the
program runs where that is present.
"""

from __future__ import annotations

import re

from hilrig.capabilities import Capabilities
from hilrig.compare.judge import Comparison, Verdict
from hilrig.compare.tracebacks import parse_traceback
from hilrig.errors import CompileError, IncompatibleMpy
from hilrig.mpy.compiler import Compiler
from hilrig.results import Outcome, RunResult
from hilrig.run.program import Program
from hilrig.targets.spec import TargetSpec

_MISSING_MODULE = re.compile(r"[Nn]o module named '([\w.]+)'")


def reference_cannot_compile(board: RunResult, exc: CompileError) -> Comparison:
    """The reference's mpy-cross rejected a program the board was sent as source."""
    said = str(exc).strip().splitlines()[-1:] or ["(no message)"]
    tb = parse_traceback(board.traceback_text()) if board.outcome is Outcome.EXCEPTION else None
    if tb is not None and tb.exc_type in ("SyntaxError", "IndentationError"):
        reason = (
            f"the program does not compile: the board raised {tb.exception_line().strip()}, "
            f"and the reference's mpy-cross rejected it too ({said[0]})"
        )
    else:
        reason = f"the reference's mpy-cross rejected the program the board ran: {said[0]}"
    return Comparison(Verdict.MISMATCH, reason, str(exc).strip(), ())


def early_verdict(board: RunResult) -> Comparison | None:
    """Verdicts that need no reference: the board failed, or the program skipped itself."""
    if not board.outcome.finished:
        output = board.text()[-2000:]
        diff = f"board output before it stopped:\n{output}" if output else ""
        return Comparison(Verdict.MISMATCH, board.detail, diff, ())
    if board.outcome is Outcome.SKIP:
        return Comparison(Verdict.SKIP, board.detail, "", ())
    return None


def missing_module(run: RunResult) -> str | None:
    """The module a run stopped at because its top-level ``import`` found nothing, or None."""
    tb = parse_traceback(run.traceback_text()) if run.outcome is Outcome.EXCEPTION else None
    if tb is None or tb.exc_type not in ("ImportError", "ModuleNotFoundError"):
        return None
    if len(tb.frames) != 1 or tb.frames[0].function != "<module>":
        return None
    match = _MISSING_MODULE.fullmatch(tb.message.strip())
    return match.group(1) if match else None


def _out_of_memory(run: RunResult) -> bool:
    """The run raised MemoryError before printing anything."""
    tb = parse_traceback(run.traceback_text()) if run.outcome is Outcome.EXCEPTION else None
    return tb is not None and tb.exc_type == "MemoryError" and not run.stdout.strip()


def board_lacks(board: RunResult, reference: RunResult | None, ref_label: str) -> Comparison | None:
    """A skip for what the board lacks (a module, heap), earned only when the reference has it.

    ``reference`` None: the expected output came from a ``.py.exp`` file, which shows the program
    runs somewhere. A module that the reference lacks too is a failure naming both sides.
    """
    module = missing_module(board)
    if module is not None:
        if reference is None or missing_module(reference) != module:
            return Comparison(Verdict.SKIP, f"target lacks module {module}", "", ())
        return Comparison(
            Verdict.MISMATCH,
            f"module {module} is missing on the board and on the reference ({ref_label}) too: "
            f"a typo, or a program for another port",
            "",
            (),
        )
    ref_module = missing_module(reference) if reference is not None else None
    if ref_module is not None:
        return Comparison(
            Verdict.MISMATCH,
            f"the reference ({ref_label}) lacks module {ref_module}, which the board has: give "
            f"the program a .py.exp file with the output it should print",
            "",
            (),
        )
    if _out_of_memory(board) and (reference is None or not _out_of_memory(reference)):
        return Comparison(Verdict.SKIP, "too large for the board's heap (MemoryError)", "", ())
    return None


def check_compiler(compiler: Compiler, caps: Capabilities) -> None:
    """Refuse a compiler whose output this firmware cannot load, before anything is sent."""
    from hilrig.mpy.compiler import CompileRequest
    from hilrig.mpy.reader import check_loadable, read_header

    sample = compiler.compile(CompileRequest(b"x=1\n", "<check>"))
    try:
        check_loadable(read_header(sample), caps, f"what {compiler.mpy_cross.label} writes")
    except IncompatibleMpy as exc:
        raise IncompatibleMpy(
            f"{compiler.mpy_cross.path} cannot be used: {exc}; nothing was sent to the board"
        ) from exc


def wiring_gap(program: Program, spec: TargetSpec) -> str | None:
    """Why a program that imports ``target_wiring`` cannot run on this target, or None."""
    needed = program.wiring_needed
    if needed is None:
        return None
    if not spec.wiring.values:
        return f"target {spec.name} has no [wiring] table ({spec.path}); the program needs one"
    missing = sorted(needed - spec.wiring.names)
    if missing:
        return f"target {spec.name} lacks wiring {', '.join(missing)} ({spec.path}, [wiring])"
    return None
