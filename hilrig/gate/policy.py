"""One program through the release gate: run it ``--hil-count`` times on the session's board,
decide against the baseline (:func:`hilrig.gate.baseline.decide`), and bundle the first failing run.

Also the run's board properties for junit, and how a decision travels as test-report user
properties (an xdist worker decides, the controller summarises and updates the baseline).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from hilrig.compare.judge import Verdict
from hilrig.gate.baseline import (
    Baseline,
    GateDecision,
    GateStatus,
    decide,
    load_baseline,
    summary_lines,
    updated,
    write_baseline,
)
from hilrig.gate.bundle import remove_bundle, write_bundle
from hilrig.gate.lease import DEFAULT_LOCK_TIMEOUT_S, Held, acquire
from hilrig.run.failure import describe_failure
from hilrig.run.program import Program
from hilrig.run.session import HilSession, Options, ProgramRun
from hilrig.targets.spec import TargetSpec

log = logging.getLogger(__name__)

# run properties on every test
PER_TEST = ("target", "board", "board_index", "board_serial", "place", "exporter")


@dataclass(frozen=True)
class GateOptions:
    """--hil-baseline, --hil-update-baseline, --hil-count and --hil-lock-timeout."""

    baseline: Path | None = None
    update: bool = False
    count: int = 1
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S

    def load_baseline(self) -> Baseline:
        """The baseline file's known failures (none without one, or when it is to be created)."""
        if self.baseline is None or (self.update and not self.baseline.exists()):
            return Baseline()
        return load_baseline(self.baseline)


@dataclass(frozen=True)
class GatedRun:
    """A program's runs as the gate sees them."""

    report: ProgramRun  # the first failing run, else the first run
    decision: GateDecision
    bundle: Path | None  # the first failing run's bundle


def run_gated(
    session: HilSession,
    program: Program,
    count: int,
    baseline: Baseline,
    identity: Mapping[str, str],
) -> GatedRun:
    """Run ``count`` times (once if it skips); bundle the first failure, or drop an old bundle."""
    reports: list[ProgramRun] = []
    bundle = None
    while len(reports) < count:
        report = session.run_program(program)
        reports.append(report)
        if report.comparison.verdict is Verdict.SKIP and len(reports) == 1:
            break
        if report.comparison.verdict is Verdict.MISMATCH and bundle is None:
            bundle = _bundle(session, report, identity)
    if bundle is None:
        remove_bundle(session.options.results_folder, session.spec.name, program.name)
    failing = [r for r in reports if r.comparison.verdict is Verdict.MISMATCH]
    shown = failing[0] if failing else reports[0]
    note = baseline.note(session.spec.name, program.name)
    verdicts = [r.comparison.verdict for r in reports]
    return GatedRun(shown, decide(verdicts, note, shown.comparison.reason), bundle)


def _bundle(
    session: HilSession,
    report: ProgramRun,
    identity: Mapping[str, str],
) -> Path | None:
    try:
        return write_bundle(session, report, dict(identity), describe_failure(report))
    except OSError as exc:
        log.warning("cannot write the bundle of %s: %s", report.program.name, exc)
        return None


def board_properties(session: HilSession) -> dict[str, str]:
    """Which board ran the programs: its port or emulator, index in the target, serial number."""
    index = session.options.board_index
    props = {
        "board": session.board.label if session.board is not None else session.spec.name,
        "board_index": str(index),
    }
    if index < len(session.spec.boards):
        board = session.spec.boards[index]
        serial = board.usb_serial or board.probe_id or board.mac
        if serial:
            props["board_serial"] = serial
    if session.place is not None:
        from hilrig.boards.serial_origin import serial_origin

        props["place"] = session.place.name
        props["exporter"] = session.place.exporter
        props["pyserial"] = serial_origin()
    return props


def to_properties(run: GatedRun, run_properties: Mapping[str, str]) -> list[tuple[str, str]]:
    """A test's junit properties: program, board, gate status, runs, reason, transcript, bundle."""
    report, decision = run.report, run.decision
    props = [
        ("verdict", report.comparison.verdict.value),
        ("hilrig_program", report.program.name),
        *((f"hilrig_{k}", run_properties[k]) for k in PER_TEST if k in run_properties),
        ("hilrig_gate", decision.status.value),
        ("hilrig_runs", f"{decision.failed_runs}/{decision.runs}"),
    ]
    if report.reference_label:
        props.append(("hilrig_reference", report.reference_label))
    for name, timed in (("duration_s", report.board), ("reference_duration_s", report.reference)):
        if timed is not None:
            props.append((f"hilrig_{name}", f"{timed.duration_s:.4f}"))
    if decision.status.failing:
        props.append(("hilrig_reason", decision.headline))
    if report.transcript is not None and report.transcript.is_file():
        props.append(("transcript", str(report.transcript)))
    if run.bundle is not None:
        props.append(("hilrig_bundle", str(run.bundle)))
    return props


def from_properties(props: Iterable[tuple[str, object]]) -> tuple[str, GateDecision] | None:
    """The program and gate decision recorded by :func:`to_properties`, or None."""
    values = {name: str(value) for name, value in props}
    if "hilrig_gate" not in values or "hilrig_program" not in values:
        return None
    failed, _, runs = values.get("hilrig_runs", "0/1").partition("/")
    decision = GateDecision(
        GateStatus(values["hilrig_gate"]), values.get("hilrig_reason", ""), int(runs), int(failed)
    )
    return values["hilrig_program"], decision


def merged(sources: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """One value per property; where sources differ (xdist workers' boards), joined by '; '."""
    values: dict[str, list[str]] = {}
    for props in sources:
        for name, value in props.items():
            seen = values.setdefault(name, [])
            if value not in seen:
                seen.append(value)
    return {name: "; ".join(vals) for name, vals in values.items()}


class Ledger:
    """What the controller (or the only process) learns during a run: each program's decision
    and the xdist workers' run properties. At the end it updates the baseline file if asked,
    and words the terminal summary."""

    def __init__(self, options: GateOptions, baseline: Baseline) -> None:
        self.options = options
        self.baseline = baseline
        self.decisions: dict[str, GateDecision] = {}
        self.worker_properties: list[dict[str, str]] = []
        self.notes: list[str] = []

    def record(self, props: Iterable[tuple[str, object]]) -> None:
        """Take a program's decision from its test report's user properties."""
        found = from_properties(props)
        if found is not None:
            self.decisions[found[0]] = found[1]

    def run_properties(self, own: Mapping[str, str]) -> dict[str, str]:
        """This process's run properties merged with the workers'."""
        return merged([own, *self.worker_properties])

    def finish(self, target: str) -> None:
        """Write the updated baseline (with --hil-update-baseline)."""
        path = self.options.baseline
        if not self.options.update or path is None:
            return
        new = updated(self.baseline, target, self.decisions)
        try:
            write_baseline(new, path)
        except OSError as exc:
            self.notes.append(f"cannot write baseline {path}: {exc}")
            return
        known = len(new.known(target))
        self.notes.append(f"baseline {path} updated: {known} known failure(s) for target {target}")

    def summary(self) -> list[str]:
        """Fixed, intermittent and known failures, then what happened to the baseline."""
        return summary_lines(self.decisions) + self.notes


def start_leased(
    spec: TargetSpec,
    options: Options,
    timeout_s: float,
    *,
    first: int = 0,
    on_wait: Callable[[str], None] | None = None,
) -> tuple[HilSession, Held]:
    """Lease a board of ``spec`` and start a session on it; on failure nothing stays held.

    For a labgrid target the lease is the place: acquired here, released with the lease."""
    lease = acquire(spec, timeout_s, first=first, on_wait=on_wait)
    place = getattr(lease, "place", None)
    session = HilSession(spec, replace(options, board_index=lease.index), place=place)
    try:
        session.start()
    except BaseException:
        session.close()
        lease.release()
        raise
    return session, lease
