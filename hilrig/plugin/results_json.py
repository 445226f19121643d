"""``--hil-results-json FILE``: the run's verdicts in run-tests.py's ``_results.json`` shape.

``{"args": {...}, "results": [[program, "pass" | "fail" | "skip" | "ignored", reason], ...],
"failed_tests": [...], "ignored_tests": [...]}`` with programs named as run-tests.py names them
(relative to MicroPython's tests/ folder), so scripts and farm reports written for run-tests.py
read it unchanged. One entry per program; unittest methods are not programs. A program skipped
because it printed ``SKIP-TOO-LARGE`` has the reason "too large", as run-tests.py writes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hilrig.results import TOO_LARGE


class ResultsJson:
    """Registered on the controller (or the only process) when the option is given."""

    def __init__(self, path: Path, args: dict[str, Any]) -> None:
        self.path = path
        self.args = args
        self.results: dict[str, tuple[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record a program's verdict from its call (or setup-skip) report."""
        props = dict(report.user_properties)
        name = props.get("hilrig_program")
        if not isinstance(name, str) or "hilrig_method" in props:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.results[name] = _verdict(report, props)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the file (also after Ctrl-C: what ran is kept)."""
        rows = [[name, verdict, reason] for name, (verdict, reason) in self.results.items()]
        data = {
            "args": self.args,
            "results": rows,
            "failed_tests": [r[0] for r in rows if r[1] == "fail"],
            "ignored_tests": [r[0] for r in rows if r[1] == "ignored"],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(data, indent=1) + "\n")
        except OSError as exc:
            session.config.issue_config_time_warning(
                pytest.PytestWarning(f"cannot write --hil-results-json {self.path}: {exc}"), 2
            )


def _verdict(report: pytest.TestReport, props: dict[str, object]) -> tuple[str, str]:
    if report.passed:
        return "pass", ""
    if report.skipped:
        if props.get("hilrig_gate") == "known":
            return "ignored", f"known failure: {props.get('hilrig_reason', '')}"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        reason = str(reason).removeprefix("Skipped: ")
        return "skip", "too large" if TOO_LARGE in reason else reason
    return "fail", str(props.get("hilrig_reason", ""))
