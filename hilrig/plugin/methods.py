"""The test methods of a unittest program, each its own pytest result (``file.py::Case::method``).

The program runs once, as its program item (judged by unittest's summary, as run-tests.py does);
each method item then reports what unittest said about that method: ok, skipped (with the
reason), or FAIL / ERROR (with the traceback unittest printed). Under xdist a method item that
lands on another worker than its program runs the program there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hilrig.compare.judge import Verdict
from hilrig.compare.unittest_output import MethodResult
from hilrig.errors import HilrigError
from hilrig.plugin.state import STATE
from hilrig.run.session import ProgramRun


class MethodFailed(Exception):
    """unittest reported FAIL or ERROR for one method."""

    def __init__(self, result: MethodResult) -> None:
        super().__init__(f"{result.case}.{result.method}: {result.status}")
        self.result = result


class MethodItem(pytest.Item):
    """One ``TestCase.test_method`` of a unittest program."""

    fixturenames: tuple[str, ...] = ()

    def __init__(self, *, case: str, method: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.method = method

    def runtest(self) -> None:
        """Pass, skip or fail as unittest reported this method in the program's run."""
        report = self._program_run()
        self.user_properties += [
            ("hilrig_program", report.program.name),
            ("hilrig_method", f"{self.case}.{self.method}"),
        ]
        unit = report.unittest
        if unit is None:
            if report.comparison.verdict is Verdict.SKIP:
                pytest.skip(f"the program was skipped: {report.comparison.reason}")
            pytest.fail(
                f"the program did not end with unittest's summary: {report.comparison.reason}",
                pytrace=False,
            )
        found = [m for m in unit.methods if (m.case, m.method) == (self.case, self.method)]
        if not found:
            pytest.fail(
                f"unittest did not report {self.case}.{self.method} ({unit.summary()})",
                pytrace=False,
            )
        result = found[-1]
        if result.status == "skipped":
            pytest.skip(result.detail or "skipped by unittest")
        if result.status != "ok":
            raise MethodFailed(result)

    def _program_run(self) -> ProgramRun:
        state = self.config.stash[STATE]
        cached = state.program_runs.get(self.path)
        if cached is not None:
            return cached
        if state.spec is None:
            pytest.skip("no --target given")
        try:
            session = state.ensure_session()
        except HilrigError as exc:
            pytest.fail(f"board not available: {exc}", pytrace=False)
        report = session.run_program(state.program(self.path))
        state.program_runs[self.path] = report
        return report

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """unittest's own failure text for the method."""
        if isinstance(excinfo.value, MethodFailed):
            result = excinfo.value.result
            return f"unittest: {result.status} in {result.case}.{result.method}\n{result.detail}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the method is."""
        return self.path, None, f"{self.case}.{self.method}"
