"""Rerun a failure bundle on a board: did the failure reproduce, how often, and how does this
run's output differ from the board output the bundle recorded?

Each run is compared with the reference output the bundle *recorded* (no new reference runs), with
the same rules as a test run (:mod:`hilrig.compare`). The bundle's exact ``.mpy`` is sent when the
board loads it; otherwise the program is compiled for this board, or sent as source, and a note
says so.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace

from hilrig.bundle import Bundle
from hilrig.capabilities import Capabilities
from hilrig.compare import Verdict
from hilrig.errors import ConfigError, IncompatibleMpy, MpyFormatError
from hilrig.lease import acquire
from hilrig.loader import mpy_payload
from hilrig.mpy import check_loadable, read_header
from hilrig.reference import CPYTHON_CAPS
from hilrig.results import Outcome, RunResult
from hilrig.runner import Prepared, Program
from hilrig.session import HilSession, Options, ProgramReport
from hilrig.targets import TargetSpec, load_target, parse_target

_ENDED = (Outcome.TIMEOUT, Outcome.CRASH, Outcome.BROKEN)


@dataclass(frozen=True)
class ReproRun:
    """One rerun: its report (compared with the recorded reference) and how it differs from the
    recorded board output ("" when it printed the same)."""

    report: ProgramReport
    change: str

    @property
    def reproduced(self) -> bool:
        """True when this run failed again."""
        return self.report.comparison.verdict is Verdict.MISMATCH


@dataclass(frozen=True)
class Repro:
    """All reruns of a bundle on one board."""

    bundle: Bundle
    target: str
    board: str
    runs: tuple[ReproRun, ...]
    notes: tuple[str, ...] = ()

    @property
    def reproduced(self) -> int:
        """How many runs failed again."""
        return sum(1 for run in self.runs if run.reproduced)


class RecordedReference:
    """A Reference that answers with the output a bundle recorded."""

    def __init__(self, result: RunResult, caps: Capabilities | None) -> None:
        self.result = result
        self.caps = caps if caps is not None else CPYTHON_CAPS
        self.label = f"recorded reference ({self.caps.banner})"

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """The recorded result, whatever the program."""
        return self.result

    def close(self) -> None:
        """Nothing to stop."""


def bundle_target(bundle: Bundle, name_or_path: str | None, options: Options) -> TargetSpec:
    """``--target`` if given, else the bundle's copy of its target file.

    The copy is read as if it stood where the run found it, so relative paths in it (a QEMU
    firmware file) resolve as they did then.
    """
    if name_or_path is not None:
        return load_target(name_or_path, options.rootdir)
    try:
        data = tomllib.loads(bundle.target_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read the bundle's target file {bundle.target_file}: {exc}; "
            f"pass --target NAME to choose one."
        ) from exc
    return parse_target(data, bundle.original_target_file)


def reproduce(
    bundle: Bundle,
    spec: TargetSpec,
    options: Options,
    count: int,
    lock_timeout_s: float,
    on_wait: Callable[[str], None] | None = None,
) -> Repro:
    """Lease a board of ``spec``, run the bundle's program ``count`` times and compare each run."""
    with acquire(spec, lock_timeout_s, on_wait=on_wait) as lease:
        session = HilSession(spec, replace(options, board_index=lease.index, reference="exp"))
        try:
            session.start()
            if bundle.reference is not None:
                session.reference = RecordedReference(bundle.reference, bundle.reference_caps)
            prepared, notes = _prepared(bundle, session)
            runs = tuple(_run(bundle, session, prepared) for _ in range(count))
            label = session.board.label if session.board is not None else spec.name
        finally:
            session.close()
    return Repro(bundle, spec.name, label, runs, notes)


def _prepared(bundle: Bundle, session: HilSession) -> tuple[Prepared | None, tuple[str, ...]]:
    """The bundle's exact .mpy when this board loads it; else None (compile or send source)."""
    assert session.caps is not None
    if session.mode == "source":
        note = "this board loads source: program.py was sent as text"
        return None, (note,) if bundle.mode == "mpy" else ()
    if bundle.mpy is None:
        return None, (
            "the bundle has no .mpy (source mode): program.py was compiled for this board",
        )
    try:
        check_loadable(read_header(bundle.mpy, "program.mpy"), session.caps, "program.mpy")
    except (IncompatibleMpy, MpyFormatError) as exc:
        return None, (f"{exc} program.py was compiled for this board instead",)
    return Prepared(mpy_payload(bundle.mpy, session.caps), bundle.mpy, bundle.command), ()


def _run(bundle: Bundle, session: HilSession, prepared: Prepared | None) -> ReproRun:
    report = session.run_program(bundle.program, prepared)
    if _unjudged(bundle, report):
        reason = (
            "this run finished, and the bundle holds no reference output to compare it with "
            "(the recorded run ended before a reference was needed)"
        )
        report = replace(report, comparison=replace(report.comparison, reason=reason))
    return ReproRun(report, describe_change(bundle.board, report.board))


def _unjudged(bundle: Bundle, report: ProgramReport) -> bool:
    """A run that finished where the recorded one timed out or crashed, and nothing to compare
    it with: the bundle keeps only the reference result its run had."""
    no_reference = bundle.reference is None and bundle.program.expected is None
    comparison = report.comparison
    # The session's words when it has neither a reference nor an .exp file to compare with.
    nothing = comparison.reason.startswith(f"no {bundle.program.name}.exp file")
    return no_reference and comparison.verdict is Verdict.SKIP and nothing


def describe_change(recorded: RunResult | None, now: RunResult | None) -> str:
    """How ``now`` differs from the recorded board output: "" if not at all, else a diff."""
    if recorded is None or now is None:
        return (
            "" if recorded is now else "the recorded run and this one did not both reach the board"
        )
    if now.outcome in _ENDED or recorded.outcome in _ENDED:
        if now.outcome is recorded.outcome:
            return ""
        return f"recorded: {_ending(recorded)}; this run: {_ending(now)}"
    old, new = _text(recorded), _text(now)
    if old == new:
        return ""
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), "recorded board", "this run"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff).rstrip()


def _ending(result: RunResult) -> str:
    return f"{result.outcome.value} ({result.detail})" if result.detail else result.outcome.value


def _text(result: RunResult) -> str:
    return (
        (result.stdout + result.traceback)
        .replace(b"\r\n", b"\n")
        .decode("utf-8", errors="backslashreplace")
    )
