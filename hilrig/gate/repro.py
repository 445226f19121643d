"""Rerun a failure bundle on a board: did the failure reproduce, how often, and how does this
run's output differ from the board output the bundle recorded?

Each run is compared with the reference output the bundle *recorded* (no new reference runs), with
the same rules as a test run (:mod:`hilrig.compare.judge`). The bundle's exact ``.mpy`` is
sent when the
board loads it; otherwise the program is compiled for this board, or sent as source, and a note
says so.

A bundle is data, never code for this host: the target comes from the project (or the built-ins)
by the name the bundle records, or from ``--target``; the bundle's copy of its target file is only
compared with it (:func:`choose_target`). A difference in a field that starts a host process or
names host files refuses the rerun unless the user trusts the copy (``--trust-bundle-target``),
and then the CLI prints what will run before anything runs.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hilrig.capabilities import CPYTHON_CAPS, Capabilities
from hilrig.compare.judge import Verdict
from hilrig.errors import ConfigError, IncompatibleMpy, MpyFormatError, TargetNotFound
from hilrig.gate.bundle import Bundle
from hilrig.gate.lease import acquire
from hilrig.gate.target_diff import Difference, differences, host_actions
from hilrig.mpy.payload import mpy_payload
from hilrig.mpy.reader import check_loadable, read_header
from hilrig.results import RunResult
from hilrig.run.program import Program
from hilrig.run.runner import Prepared
from hilrig.run.session import HilSession, Options, ProgramRun
from hilrig.targets.find import project_targets_dir
from hilrig.targets.load import load_target, parse_target
from hilrig.targets.spec import TargetSpec


@dataclass(frozen=True)
class ReproRun:
    """One rerun: its report (compared with the recorded reference) and how it differs from the
    recorded board output ("" when it printed the same)."""

    report: ProgramRun
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


@dataclass(frozen=True)
class TargetChoice:
    """The target a bundle reruns on, and how the bundle's copy of its target file compares.

    ``refused``: the copy differs in fields that reach the host and the user did not trust it;
    nothing may run. ``actions``: what the trusted copy starts on this host, to print first.
    """

    spec: TargetSpec | None
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    refused: bool = False
    actions: tuple[str, ...] = ()


def choose_target(
    bundle: Bundle, name_or_path: str | None, rootdir: Path, trust: bool = False
) -> TargetChoice:
    """The project's target of the bundle's name (or ``name_or_path``), compared with the copy.

    The copy is used only with ``trust`` (``--trust-bundle-target``); otherwise a difference in
    a field that starts a host process or names host files refuses the rerun.
    """
    if name_or_path is not None:
        if trust:
            raise ConfigError(
                "--target and --trust-bundle-target exclude each other: --target reruns on your "
                "target file, --trust-bundle-target on the bundle's copy; pass one."
            )
        return _chosen(bundle, load_target(name_or_path, rootdir))
    try:
        local = load_target(bundle.target, rootdir)
    except TargetNotFound:
        if not trust:
            raise ConfigError(
                f"the bundle was made on target {bundle.target!r}, which neither this project "
                f"({project_targets_dir(rootdir)}) nor hilrig's built-in targets have; pass "
                f"--target NAME or --target PATH.toml to choose the board to rerun it on."
            ) from None
        copy = _copy(bundle, bundle.target_file)
        note = f"target {bundle.target} is not in this project: the bundle's copy is used, as asked"
        return TargetChoice(copy, notes=(note,), actions=host_actions(copy))
    return _compared(bundle, local, trust)


def _chosen(bundle: Bundle, local: TargetSpec) -> TargetChoice:
    """--target: the user's file runs whatever the copy says; differences are notes."""
    if local.name != bundle.target:
        return TargetChoice(local, notes=(f"rerun on target {local.name}, not {bundle.target}",))
    found, unread = _differences(bundle, local)
    return TargetChoice(local, found, unread + _notes(found, "the local value is used"))


def _compared(bundle: Bundle, local: TargetSpec, trust: bool) -> TargetChoice:
    found, unread = _differences(bundle, local)
    if any(d.host for d in found) and not trust:
        return TargetChoice(None, found, unread, refused=True)
    if not trust:
        return TargetChoice(local, found, unread + _notes(found, "the local value is used"))
    # Relative paths in the trusted copy resolve where the project's file stands.
    copy = replace(_copy(bundle, local.path), name=local.name)
    notes = _notes(found, "the bundle's value is used, as asked")
    return TargetChoice(copy, found, notes, actions=host_actions(copy))


def _notes(found: tuple[Difference, ...], used: str) -> tuple[str, ...]:
    return tuple(f"the bundle's target file differs: {d.describe()}; {used}" for d in found)


def _differences(
    bundle: Bundle, local: TargetSpec
) -> tuple[tuple[Difference, ...], tuple[str, ...]]:
    """How the copy differs from ``local`` (read as if it stood in place of the local file), or
    a note that it could not be read (then it is not used either)."""
    try:
        return differences(_copy(bundle, local.path), local), ()
    except ConfigError as exc:
        return (), (f"{exc} It was not compared with {local.path}, whose values are used.",)


def _copy(bundle: Bundle, path: Path) -> TargetSpec:
    """The bundle's copy parsed as if it were the file at ``path``; its name is the bundle's.

    Relative paths in it resolve next to ``path``; errors name the copy, not ``path``.
    """
    try:
        data = tomllib.loads(bundle.target_file.read_text(encoding="utf-8"))
        spec = parse_target(data, path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read the bundle's target file {bundle.target_file}: {exc}."
        ) from exc
    except ConfigError as exc:
        text = str(exc).replace(str(path), str(bundle.target_file))
        raise ConfigError(f"the bundle's target file is not valid: {text}") from exc
    return replace(spec, name=bundle.target)


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
        session = HilSession(
            spec, replace(options, board_index=lease.index, reference="exp"), place=lease.place
        )
        try:
            session.start()
            if bundle.reference is not None:
                session.pin_reference(RecordedReference(bundle.reference, bundle.reference_caps))
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


def _unjudged(bundle: Bundle, report: ProgramRun) -> bool:
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
    if not now.outcome.finished or not recorded.outcome.finished:
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
