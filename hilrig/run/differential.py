"""The persistent-code check (``--hil-load=both``): each program runs on the board as ``.mpy`` and
again as source, and the two runs must agree.

The rule for what may differ, and nothing else may:

- stdout must be byte for byte the same;
- both runs must end the same way (normally, or with an uncaught exception);
- tracebacks must have the same frames (file, function, line) and the same exception type and
  message, exactly. A frame line is compared only where both runs record one: firmware built
  without source lines (``MICROPY_ENABLE_SOURCE_LINE=0``) records none in either mode.
- when the board's own compiler rejects the source with a SyntaxError that mpy-cross accepted
  (firmware without a native emitter, a compiler feature left out), the check is not made: the
  firmware's compiler differs from mpy-cross by build choice, and persistent code was not at fault.

Firmware that cannot import ``.mpy`` at all (the micro:bit's 1.9.2) has no ``.mpy`` run to make:
the programs run as source, judged against the reference as usual, and each says the check was
not made and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hilrig.capabilities import Capabilities
from hilrig.compare.judge import Comparison, Verdict, compare_runs
from hilrig.compare.tracebacks import parse_traceback
from hilrig.mpy.payload import source_payload
from hilrig.results import Outcome, RunResult
from hilrig.run.program import Program
from hilrig.run.runner import Prepared, Runner
from hilrig.targets.spec import CompareSpec, LoadMode

LOAD_CHOICES = ("mpy", "source", "both")
DIFFERS = "the .mpy run differs from the source run"
_EXACT = CompareSpec(
    floats=False, ints=False, error_messages=False, line_endings=False, handler_frames=False
)


@dataclass(frozen=True)
class SourceCheck:
    """The source run of a program that also ran as ``.mpy``, and what comparing them found."""

    comparison: Comparison  # MATCH; MISMATCH; SKIP: the check was not made (reason says why)
    run: RunResult | None = None
    transcript: Path | None = None


def source_runner(runner: Runner, load: str | None) -> Runner | None:
    """A second runner on the same board that sends programs as text, for ``--hil-load=both``
    on firmware that imports ``.mpy`` (None otherwise)."""
    if load != "both" or runner.source_mode:
        return None
    twin = Runner(runner.board, runner.caps, None, runner.max_output, runner.emit, runner.role)
    twin.wiring = runner.wiring
    return twin


def not_made_reason(caps: Capabilities) -> str:
    """Why ``--hil-load=both`` makes no ``.mpy`` run on firmware that cannot import one."""
    return (
        f"persistent-code check not made: firmware {caps.version_text} cannot import .mpy "
        f"files, so programs ran as source only"
    )


def load_mode(target: LoadMode, option: str | None) -> LoadMode:
    """How programs are sent: ``--hil-load`` mpy or source, else the target's; ``both`` sends
    ``.mpy`` wherever the firmware imports it."""
    match option:
        case "mpy":
            return LoadMode.MPY
        case "source":
            return LoadMode.SOURCE
        case "both":
            return LoadMode.AUTO
    return target


def load_text(option: str | None, mode_text: str, caps: Capabilities) -> str:
    """The header's load line."""
    if option != "both":
        return mode_text
    if not caps.can_import_mpy:
        return f"{mode_text}; --hil-load=both: {not_made_reason(caps)}"
    return "both (each program as .mpy, then again as source; the two runs must agree)"


def check_source(
    twin: Runner | None,
    caps: Capabilities,
    program: Program,
    mpy_run: RunResult,
    timeout_s: float,
    transcripts: Path,
) -> SourceCheck:
    """Run ``program`` as source on the board and compare with its ``.mpy`` run."""
    if twin is None:
        return SourceCheck(Comparison(Verdict.SKIP, not_made_reason(caps)))
    if not mpy_run.outcome.finished or mpy_run.outcome is Outcome.SKIP:
        why = f"persistent-code check not made: the .mpy run {mpy_run.outcome.value}"
        return SourceCheck(Comparison(Verdict.SKIP, why))
    prepared = Prepared(source_payload(program.source, program.name), None, ())
    run = twin.run(program, prepared, timeout_s)
    transcript = _save(twin, transcripts / f"{program.name.replace('/', '__')}.source.txt")
    return SourceCheck(judge_pair(mpy_run, run, twin.caps), run, transcript)


def judge_pair(mpy_run: RunResult, source_run: RunResult, caps: Capabilities) -> Comparison:
    """The module rule: the ``.mpy`` run against the source run on the same firmware."""
    rejected = _compiler_rejected(source_run, mpy_run)
    if rejected is not None:
        return Comparison(Verdict.SKIP, rejected)
    found = compare_runs(mpy_run, source_run, caps, caps, _EXACT)
    if found.verdict is Verdict.MATCH:
        return found
    if found.verdict is Verdict.SKIP:  # the source run skipped itself where the .mpy run did not
        return Comparison(Verdict.MISMATCH, f"{DIFFERS}: {found.reason}", found.diff, found.notes)
    reason = found.reason.replace("board", ".mpy run").replace("reference", "source run")
    diff = f"(here the reference is the source run, the board the .mpy run)\n{found.diff}"
    return Comparison(Verdict.MISMATCH, f"{DIFFERS}: {reason}", diff, found.notes)


def combined(main: Comparison, check: SourceCheck) -> Comparison:
    """The program's verdict: a persistent-code difference fails it whatever the reference said;
    otherwise the comparison with the reference stands, with the check's outcome as a note."""
    if check.comparison.verdict is Verdict.MISMATCH:
        return check.comparison
    said = "the .mpy run matches the source run"
    if check.comparison.verdict is Verdict.SKIP:
        said = check.comparison.reason
    return Comparison(main.verdict, main.reason, main.diff, (*main.notes, said))


def transcript_of(check: SourceCheck | None) -> Path | None:
    """The source run's transcript, if there is one."""
    return check.transcript if check is not None else None


def without_transcript(check: SourceCheck | None) -> SourceCheck | None:
    """The check once its transcript has been deleted (a passing program keeps none)."""
    return replace(check, transcript=None) if check is not None else None


def _compiler_rejected(source_run: RunResult, mpy_run: RunResult) -> str | None:
    tb = parse_traceback(source_run.traceback_text()) if source_run.traceback else None
    if tb is None or tb.exc_type not in ("SyntaxError", "IndentationError"):
        return None
    mpy_tb = parse_traceback(mpy_run.traceback_text()) if mpy_run.traceback else None
    if mpy_tb is not None and mpy_tb.exc_type == tb.exc_type:
        return None
    return (
        f"persistent-code check not made: the firmware's own compiler rejected the source "
        f"({tb.exception_line().strip()}) that mpy-cross compiled"
    )


def _save(runner: Runner, path: Path) -> Path | None:
    transcript = runner.transcript
    if transcript is None:
        return None
    try:
        return transcript.save(path)
    except OSError:
        return None
