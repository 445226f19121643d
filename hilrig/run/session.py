"""One run against one target: start the board, pick the compiler and reference, and turn each
program into a :class:`ProgramRun`. The pytest plugin and the CLI both drive this; neither
pytest nor printing appears here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hilrig.boards.board import Board
from hilrig.capabilities import Capabilities
from hilrig.compare.gap import compare_targets
from hilrig.compare.judge import Comparison, Verdict, compare_expected, compare_runs
from hilrig.compare.patterns import compare_patterns
from hilrig.compare.unittest_output import UnittestReport, judge_unittest, unittest_report
from hilrig.errors import CompileError, ConfigError, HilrigError, IncompatibleMpy
from hilrig.mpy.compiler import Compiler, select_compiler, user_compiler
from hilrig.results import Outcome, RunResult
from hilrig.run import differential as both
from hilrig.run.connect import make_board
from hilrig.run.decisions import (
    board_lacks,
    check_compiler,
    early_verdict,
    reference_cannot_compile,
    wiring_gap,
)
from hilrig.run.flashing import flash_for_run
from hilrig.run.lanes import WINDOW_PER_LANE, Lanes, host_resource
from hilrig.run.mptests import Conditions
from hilrig.run.pipeline import BoardRun, LaneLost, Prefetcher, RunAhead
from hilrig.run.program import Program
from hilrig.run.reference import CPythonReference, HostReference, Reference
from hilrig.run.references import References
from hilrig.run.runner import Prepared, Runner
from hilrig.run.timing import judge_time
from hilrig.targets.spec import LoadMode, TargetSpec
from hilrig.transport.transcript import Transcript

if TYPE_CHECKING:
    from hilrig.boards.labgrid_place import HeldPlace

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
_UNDECIDED = Comparison(Verdict.MISMATCH, "not compared yet", "", ())


@dataclass(frozen=True)
class Options:
    """Run-wide settings, read once from the command line and ini file."""

    rootdir: Path
    timeout_s: float | None = None  # --hil-timeout; None: target file, then ini, then default
    ini_timeout_s: float = DEFAULT_TIMEOUT_S
    reference: str = "auto"  # auto | host | cpython | exp
    emit: str | None = None
    mpy_cross: Path | None = None
    results_dir: Path | None = None  # --hil-results; None: <rootdir>/.hilrig/results
    cache_dir: Path | None = None  # None: <rootdir>/.hilrig/cache
    keep_transcripts: bool = False
    board_index: int = 0
    firmware: Path | None = None  # --hil-firmware: flash (or boot, for QEMU) this build first
    reflash: bool = False  # --hil-reflash: flash even when the board already runs the build
    # module path of host VMs (board and reference) for the programs' trees (their extmod/,
    # unittest), as MicroPython's run-tests.py sets MICROPYPATH
    module_path: tuple[Path, ...] = ()
    reference_firmware: Path | None = None  # --hil-reference-firmware, for target:NAME
    slower: float | None = None  # --hil-slower: the board's time against a target reference's
    load: str | None = None  # --hil-load: mpy | source | both (hilrig.run.differential)

    @property
    def results_folder(self) -> Path:
        """Where bundles and transcripts go."""
        return (
            self.results_dir if self.results_dir is not None else self.rootdir / ".hilrig/results"
        )

    @property
    def cache_folder(self) -> Path:
        """Where compiled programs and reference results are kept between runs."""
        return self.cache_dir if self.cache_dir is not None else self.rootdir / ".hilrig/cache"


@dataclass(frozen=True)
class ProgramRun:
    """Everything known about one program's run."""

    program: Program
    comparison: Comparison
    board: RunResult | None = None
    reference: RunResult | None = None
    prepared: Prepared | None = None
    transcript: Path | None = None
    notes: tuple[str, ...] = field(default=())
    reference_label: str = ""  # what the board's output was compared with
    unittest: UnittestReport | None = None  # the program ran unittest; judged by its summary
    source_check: both.SourceCheck | None = None  # --hil-load=both: the source run and its verdict


class HilSession:
    """A started board plus compiler and reference."""

    def __init__(self, spec: TargetSpec, options: Options, place: HeldPlace | None = None) -> None:
        self.spec = spec
        self.options = options
        self.place = place  # the acquired labgrid place of a labgrid target
        self.board: Board | None = None
        self.caps: Capabilities | None = None
        self.runner: Runner | None = None
        self.source_runner: Runner | None = None  # --hil-load=both
        self.reference: Reference | None = None  # the main reference, named in the header
        self.references = References(options.reference, self._make_reference)
        self.prefetcher = Prefetcher(self.warm)
        self.ahead = RunAhead(self._run_ahead)
        self.lanes: Lanes | None = None  # more boards to run programs ahead on (open_lanes)
        self.run_ahead = False  # the plugin turns it on where a program runs once, as .mpy only
        self.events: list[str] = []
        self.flashed: str = ""  # what --hil-firmware did, for the header and junit

    @property
    def emit(self) -> str:
        """The run's default emitter: --hil-emit, else the target's."""
        return self.options.emit if self.options.emit is not None else self.spec.emit

    def start(self) -> Capabilities:
        """Flash if asked, connect and probe the board, choose how programs are loaded."""
        if self.options.firmware is not None:
            self.spec, self.flashed = flash_for_run(
                self.spec,
                self.options.firmware,
                self.options.board_index,
                self.options.reflash,
                self.place,
            )
        self.board = make_board(
            self.spec, self.options.board_index, self.options.module_path, self.place
        )
        self.board.on_event = self.events.append
        self.caps = self.board.start()
        compiler = self._compiler(self.caps)
        self.runner = Runner(self.board, self.caps, compiler, self.spec.max_output_bytes, self.emit)
        self.runner.wiring = self.spec.wiring
        self.source_runner = both.source_runner(self.runner, self.options.load)
        self.reference = self.references.main()
        if isinstance(self.reference, HostReference):
            self.reference.start()
        return self.caps

    def _compiler(self, caps: Capabilities) -> Compiler | None:
        load = both.load_mode(self.spec.load, self.options.load)
        if load is LoadMode.SOURCE or (load is LoadMode.AUTO and not caps.can_import_mpy):
            return None
        if not caps.can_import_mpy:
            raise IncompatibleMpy(
                f'target {self.spec.name} says load = "mpy", but firmware '
                f'{caps.version_text} cannot import .mpy files from RAM; use load = "source".'
            )
        cache = self.options.cache_folder
        if self.options.mpy_cross is not None:
            chosen = user_compiler(self.options.mpy_cross)
        else:
            chosen = select_compiler(caps, cache, native=self.emit != "bytecode")
        compiler = Compiler(chosen, cache)
        check_compiler(compiler, caps)
        return compiler

    def _make_reference(self, kind: str) -> Reference | None:
        match kind:
            case "host":
                own = self.spec.hostvm.path if self.spec.hostvm else ()
                return HostReference(
                    self.options.cache_folder,
                    self.spec.max_output_bytes,
                    self.emit,
                    path=(*own, *self.options.module_path),
                    wiring=self.spec.wiring,
                )
            case "cpython":
                return CPythonReference(self.options.cache_folder, self.spec.max_output_bytes)
            case "exp":
                return None
            case str() if kind.startswith("target:"):
                return None  # hilrig.gate.target_reference pins the leased board
        raise ConfigError(f"--hil-reference={kind}: use auto, host, cpython or exp")

    def timeout_for(self, program: Program) -> float:
        """Program directive, then the run's default limit."""
        return program.timeout_s if program.timeout_s is not None else self.default_timeout_s

    @property
    def default_timeout_s(self) -> float:
        """--hil-timeout, then the target file, then the ini value."""
        for value in (self.options.timeout_s, self.spec.timeout_s):
            if value is not None:
                return value
        return self.options.ini_timeout_s

    @property
    def mode(self) -> str:
        """'mpy' or 'source'."""
        return "source" if self.runner is None or self.runner.source_mode else "mpy"

    def run_program(self, program: Program, prepared: Prepared | None = None) -> ProgramRun:
        """Run one program on the board, then on the reference, and compare.

        ``prepared`` sends exactly that payload (``hilrig repro`` resends a bundle's .mpy).
        """
        if self.runner is None or self.caps is None:
            raise HilrigError("the session was not started")
        reason = self._skip_reason(program)
        idle = not self.ahead.pending
        done = self.ahead.take(program if prepared is None else None)  # the board is free now
        if done is None and idle and not reason and prepared is None and self.lanes is not None:
            done = self.ahead.run_now(program)  # on a lane, the next ones on the others
        if done is None and not reason:
            try:
                prepared = prepared if prepared is not None else self.runner.prepare(program)
            except CompileError as exc:
                self.ahead.start()
                return self._cannot_compile(program, exc)
            if self.ahead.pending:  # lanes: programs run ahead hold boards, the session's too
                self.ahead.wait()  # let them end and start no more until this one has run
            done = self._board_run(program, prepared)
        self.ahead.start()  # the next programs' board part, while this one is judged
        if reason or done is None:
            return _verdict(program, Verdict.SKIP, reason or "")
        early = early_verdict(done.result)
        report = ProgramRun(program, early or _UNDECIDED, done.result, None, done.prepared)
        report = report if early is not None else self._compare(report)
        report = self._check_source(report) if self.options.load == "both" else report
        return self._finish(report, done.transcript)

    def _cannot_compile(self, program: Program, exc: CompileError) -> ProgramRun:
        emit = program.emit or self.emit
        if emit != "bytecode" and "NotImplementedError" in str(exc):
            last = str(exc).strip().splitlines()[-1]
            return _verdict(program, Verdict.SKIP, f"the {emit} emitter cannot compile it: {last}")
        return _verdict(program, Verdict.MISMATCH, f"mpy-cross rejected the program: {exc}")

    def _skip_reason(self, program: Program) -> str | None:
        assert self.runner is not None
        return (
            wiring_gap(program, self.spec)
            or self.runner.skip_reason(program)
            or self._suite_skip(program)
        )

    def _board_run(self, program: Program, prepared: Prepared) -> BoardRun:
        assert self.runner is not None
        result = self.runner.run(program, prepared, self.timeout_for(program))
        return BoardRun(prepared, result, self.runner.transcript)

    def open_lanes(self, count: int) -> None:
        """Run programs ahead on ``count`` boards of this target at once (:mod:`hilrig.run.lanes`);
        before the first program."""
        if count <= 1 or self.runner is None or self.ahead.pending:
            return
        self.lanes = Lanes(self._another_board, self.runner)
        self.ahead.close()
        window = WINDOW_PER_LANE * count
        self.ahead = RunAhead(self._run_ahead, count, window, exclusive=host_resource)

    def _another_board(self) -> Board:
        board = make_board(
            self.spec, self.options.board_index, self.options.module_path, self.place
        )
        board.on_event = self.events.append
        return board

    def _run_ahead(self, program: Program, lane: int) -> BoardRun | None:
        """The board's part of ``program`` before its turn (on a run-ahead thread)."""
        if self.runner is None or self._skip_reason(program):
            return None
        runner = self.runner if self.lanes is None else self.lanes.runner(lane)
        if runner is None:
            raise LaneLost(lane)  # its own turn runs it
        try:
            prepared = self.runner.prepare(program)
        except HilrigError:
            return None  # its own turn reports it
        result = runner.run(program, prepared, self.timeout_for(program))
        return BoardRun(prepared, result, runner.transcript)

    def settle(self) -> None:
        """Wait until the board is free (a program run ahead has finished) before using it."""
        self.ahead.wait()

    def _check_source(self, report: ProgramRun) -> ProgramRun:
        """--hil-load=both: the program again as source, compared with its .mpy run."""
        assert report.board is not None and self.caps is not None
        folder = self.options.results_folder / self.spec.name / "transcripts"
        timeout = self.timeout_for(report.program)
        check = both.check_source(
            self.source_runner, self.caps, report.program, report.board, timeout, folder
        )
        return replace(
            report, comparison=both.combined(report.comparison, check), source_check=check
        )

    def pin_reference(self, reference: Reference) -> None:
        """Compare every program with ``reference`` (a bundle's recorded run)."""
        self.reference = self.references.pinned = reference

    def _suite_skip(self, program: Program) -> str | None:
        """run-tests.py's skips, for programs of MicroPython's own test suite."""
        if program.tree is None or self.caps is None:
            return None
        when = Conditions(self.caps, program.emit or self.emit, self.mode == "mpy")
        return program.tree.skip_reason(program.name, when)

    def _compare(self, report: ProgramRun) -> ProgramRun:
        assert report.board is not None and self.caps is not None
        program, board = report.program, report.board
        unit = unittest_report(board.stdout) if board.outcome is Outcome.OK else None
        if unit is not None:
            label = "unittest's own summary"
            return replace(
                report, comparison=judge_unittest(unit), unittest=unit, reference_label=label
            )
        target = self.options.reference.startswith("target:")
        expected = None if target else program.expected_for(program.emit or self.emit)
        if expected is not None:
            return replace(
                report,
                comparison=self._against_file(program, board, *expected),
                reference_label=expected[1],
            )
        kind, reference = self.references.pick(program)
        if reference is None:
            return replace(
                report,
                comparison=Comparison(
                    Verdict.SKIP, f"no {program.name}.exp file (--hil-reference=exp)", "", ()
                ),
            )
        try:
            ref = self.references.run(reference, program, self.timeout_for(program))
        except CompileError as exc:
            return replace(report, comparison=reference_cannot_compile(board, exc))
        # between two boards a module or heap the board lacks is news, not a skip
        lacks = None if target else board_lacks(board, ref, reference.label)
        compare = compare_targets if target else compare_runs
        comparison = lacks or compare(board, ref, self.caps, reference.caps, self.spec.compare)
        comparison = judge_time(comparison, board, ref, self.options.slower if target else None)
        return replace(
            report, reference=ref, comparison=comparison, reference_label=_label(kind, reference)
        )

    def _against_file(
        self, program: Program, board: RunResult, text: bytes, name: str
    ) -> Comparison:
        """A board run against an expected-output file (with patterns where run-tests uses them)."""
        assert self.caps is not None
        lacks = board_lacks(board, None, name)
        if lacks is not None:
            return lacks
        if program.tree is not None and program.name in program.tree.regex_output:
            return compare_patterns(board, text, name)
        return compare_expected(board, text, self.caps, self.spec.compare)

    def _finish(self, report: ProgramRun, transcript: Transcript | None) -> ProgramRun:
        """Write the board's transcript where it is kept (a failure, or --hil-keep-transcripts);
        drop the source run's where it is not."""
        keep = self.options.keep_transcripts or report.comparison.verdict is Verdict.MISMATCH
        if keep:
            return replace(report, transcript=self._save_transcript(report.program, transcript))
        path = both.transcript_of(report.source_check)
        if path is not None:
            path.unlink(missing_ok=True)
        return replace(report, source_check=both.without_transcript(report.source_check))

    def _save_transcript(self, program: Program, transcript: Transcript | None) -> Path | None:
        if transcript is None:
            return None
        safe = program.name.replace("/", "__")
        path = self.options.results_folder / self.spec.name / "transcripts" / f"{safe}.txt"
        try:
            return transcript.save(path)
        except OSError as exc:
            log.warning("cannot write transcript %s: %s", path, exc)
            return None

    def warm(self, program: Program) -> None:
        """Compile ``program`` and run its reference, filling the caches its own turn reads
        (called from the prefetch thread while the board runs the program before it)."""
        if self.runner is None or self.caps is None or self._suite_skip(program):
            return
        self.runner.prepare(program, keep=True)
        if (
            program.expected_for(program.emit or self.emit) is not None
            or b"unittest" in program.source
        ):
            return  # compared with a file, or judged by unittest's summary: no reference run
        _, reference = self.references.pick(program)
        if reference is not None:
            self.references.run(reference, program, self.timeout_for(program))

    def plan(self, programs: Sequence[Program]) -> None:
        """Queue all of ``programs`` (the rest of the run, in its order) to be warmed in the
        background: see :mod:`hilrig.run.pipeline`."""
        if self.runner is not None:
            self.prefetcher.prefetch(programs, depth=len(programs))

    def prefetch(self, upcoming: Sequence[Program], following: Sequence[Program] | None) -> None:
        """Warm the ``upcoming`` programs in the background while the board runs this one; with
        ``run_ahead``, also run ``following`` (the programs right after this one, in order, up
        to the next item that is not one; None: as named before) on the board as soon as it is
        free."""
        if self.runner is not None:
            self.prefetcher.prefetch(upcoming)
            if self.run_ahead and following is not None:
                self.ahead.expect(following)

    def expecting(self, program: Program) -> bool:
        """``program`` and the programs after it, as named with it, are still expected to run
        ahead (so a turn need not name them again)."""
        return self.run_ahead and self.ahead.expecting(program)

    def close(self) -> None:
        """Stop the board and the reference; never raises.

        A program run ahead is cut short: the board is closed under it (no recovery then: the
        board says it is closed), and closed again once that program has given up. So is a
        reference the prefetch runs (a program that hangs would hold the end of the run, after
        Ctrl-C too, for its whole time limit); such a result is not cached.
        """
        if self.board is not None and self.ahead.pending:
            self.board.broken = f"{self.board.label} was closed"
            self.board.close()
            if self.lanes is not None:
                self.lanes.cut_short(self.board.broken)
        self.references.close()
        self.ahead.close()
        if self.lanes is not None:
            self.lanes.close()
        self.prefetcher.close()
        if self.board is not None:
            try:
                self.board.close()
            except Exception as exc:  # noqa: BLE001 - shutting down must finish
                log.warning("closing: %s", exc)


def _label(kind: str, reference: Reference) -> str:
    return f"{reference.label} (--hil-reference={kind})"


def _verdict(program: Program, verdict: Verdict, reason: str) -> ProgramRun:
    return ProgramRun(program, Comparison(verdict, reason, "", ()))
