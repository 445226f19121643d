"""Suite programs as pytest items: collection, running, skips and failure reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hilrig.compare.judge import Verdict
from hilrig.compare.unittest_output import declared_methods
from hilrig.errors import HilrigError
from hilrig.gate import policy as gating
from hilrig.gate.baseline import GateStatus
from hilrig.plugin.methods import MethodItem
from hilrig.plugin.state import STATE, _State, known
from hilrig.run.failure import describe_failure
from hilrig.run.multicheck import MultiReport, check_multi, describe_multi
from hilrig.run.multitest import instance_count
from hilrig.run.session import HilSession, ProgramRun


class _NoTests(pytest.File):
    def collect(self) -> list[pytest.Item]:
        return []


class SuiteFile(pytest.File):
    """A suite program file; yields one ProgramItem."""

    def collect(self) -> list[pytest.Item]:
        """One item named after the file; a multi-board one for ``def instance0():`` programs."""
        source = self.path.read_bytes()
        if instance_count(source):
            return [MultiProgramItem.from_parent(self, name=self.path.stem)]
        methods: list[pytest.Item] = [
            MethodItem.from_parent(self, name=f"{case}::{method}", case=case, method=method)
            for case, method in declared_methods(source)
        ]
        return [ProgramItem.from_parent(self, name=self.path.stem), *methods]


class ProgramFailed(Exception):
    """Raised by a program item whose board run did not match."""

    def __init__(
        self, report: ProgramRun, headline: str | None = None, bundle: Path | None = None
    ) -> None:
        super().__init__(headline or report.comparison.reason)
        self.report = report
        self.headline = headline
        self.bundle = bundle


class ProgramItem(pytest.Item):
    """One MicroPython program run on the target and compared with its reference."""

    # A program uses no fixtures. Said out loud because labgrid's pytest plugin, loaded wherever
    # labgrid is installed, reads item.fixturenames of every item in its runtest_setup hook.
    fixturenames: tuple[str, ...] = ()

    def runtest(self) -> None:
        """Run on the board (--hil-count times), compare, and pass, skip or fail; a failure
        leaves a bundle, and a failure the baseline knows is an xfail."""
        state = self.config.stash[STATE]
        session = self._session(state)
        program = state.program(self.path)
        run = gating.run_gated(session, program, state.gate.count, state.baseline, state.properties)
        self.user_properties.extend(gating.to_properties(run, state.properties))
        self.hil_report = run.report
        state.program_runs[self.path] = run.report
        match run.decision.status:
            case GateStatus.SKIPPED:
                pytest.skip(run.report.comparison.reason)
            case GateStatus.KNOWN:
                pytest.xfail(run.decision.headline)
            case GateStatus.FAILED | GateStatus.INTERMITTENT:
                raise ProgramFailed(run.report, run.decision.headline, run.bundle)

    def _session(self, state: _State) -> HilSession:
        if state.spec is None:
            pytest.skip(f"no --target given: run pytest --target=NAME (targets: {known(state)})")
        # A target that cannot start fails every program, missing emulator or firmware included:
        # a skip would turn a release gate green on a typo in a firmware path.
        try:
            return state.ensure_session()
        except HilrigError as exc:
            pytest.fail(f"board not available: {exc}", pytrace=False)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The diff for a mismatch; one sentence for a hilrig error; pytest's view otherwise."""
        if isinstance(excinfo.value, ProgramFailed):
            failed = excinfo.value
            return describe_failure(failed.report, failed.headline, failed.bundle)
        if isinstance(excinfo.value, HilrigError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the program is."""
        return self.path, None, f"program {self.name}"


class MultiFailed(Exception):
    """Raised by a multi-board item whose merged output did not match."""

    def __init__(self, report: MultiReport) -> None:
        super().__init__(report.comparison.reason)
        self.report = report


class MultiProgramItem(ProgramItem):
    """A program with ``instance0()``, ``instance1()``, …: each instance on its own board, the
    merged output compared with the same instances on host VMs (or the ``.exp`` file)."""

    def runtest(self) -> None:
        """Lease the boards it needs, run it, compare; pass, skip or fail."""
        state = self.config.stash[STATE]
        session = self._session(state)
        assert session.board is not None
        session.settle()  # a suite program run ahead finishes first
        program = state.program(self.path)
        count = instance_count(program.source)
        try:
            boards = [session.board, *state.extra_boards(count - 1)]
        except HilrigError as exc:
            pytest.fail(f"{count} boards needed, not available: {exc}", pytrace=False)
        folder = state.options.results_folder / session.spec.name / "transcripts"
        report = check_multi(
            program,
            boards,
            state.reference_fleet(),
            session.timeout_for(program),
            session.spec.max_output_bytes,
            folder,
        )
        metrics = report.board.metrics if report.board is not None else ()
        self.user_properties += [
            ("verdict", report.comparison.verdict.value),
            ("hilrig_program", program.name),
            ("hilrig_boards", "; ".join(board.label for board in boards)),
            *(("hilrig_metric", metric) for metric in metrics),
            *(("transcript", str(path)) for path in report.transcripts),
        ]
        if report.comparison.verdict is Verdict.SKIP:
            pytest.skip(report.comparison.reason)
        if report.comparison.verdict is Verdict.MISMATCH:
            raise MultiFailed(report)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The merged-output diff for a mismatch."""
        if isinstance(excinfo.value, MultiFailed):
            return describe_multi(excinfo.value.report)
        return super().repr_failure(excinfo, style=style)
