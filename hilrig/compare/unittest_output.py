"""Programs that run unittest: judged by unittest's own summary, one result per test method.

The summary is what MicroPython's run-tests.py reads (the last four lines: a rule of 70 dashes,
``Ran N tests``, a blank line, ``OK`` or ``FAILED (failures=F, errors=E)``). The per-method lines
(``test_x (Case) ... ok``) and the failure sections come from micropython-lib's unittest.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hilrig.compare.judge import Comparison, Verdict

_RAN = re.compile(rb"Ran (\d+) tests?$")
_RESULT = re.compile(rb"(OK)( \(skipped=(\d+)\))?$|(FAILED) \(failures=(\d+), errors=(\d+)\)$")
_METHOD = re.compile(r"^(\w+) \(([\w.]+)\) \.\.\.(.*)$")
# How micropython-lib's unittest ends a method's line; output the method printed may come between.
_OUTCOME = re.compile(r"(?:^| )(ok|FAIL|ERROR|skipped: ?(.*))$")


@dataclass(frozen=True)
class MethodResult:
    """One unittest method as the program's output reported it."""

    case: str  # TestCase class
    method: str
    status: str  # ok | skipped | FAIL | ERROR
    detail: str = ""  # the skip reason, or the failure's traceback text


@dataclass(frozen=True)
class UnittestReport:
    """unittest's summary at the end of a program's output, as run-tests.py reads it."""

    ran: int
    passed: bool
    skipped: int
    failures: int
    errors: int
    methods: tuple[MethodResult, ...]

    def summary(self) -> str:
        """'unittest: 5 ran, 1 skipped' in run-tests.py's words."""
        text = f"unittest: {self.ran} ran"
        if self.passed and self.skipped:
            text += f", {self.skipped} skipped"
        elif not self.passed:
            text += f", {self.failures} failures, {self.errors} errors"
        return text


def unittest_report(stdout: bytes) -> UnittestReport | None:
    """The unittest summary that ends ``stdout`` (run-tests.py's test), or None."""
    lines = stdout.replace(b"\r\n", b"\n").splitlines()
    if len(lines) <= 4 or lines[-4] != b"-" * 70 or lines[-2] != b"":
        return None
    ran, result = _RAN.match(lines[-3]), _RESULT.match(lines[-1])
    if ran is None or result is None:
        return None
    passed = result.group(1) == b"OK"
    return UnittestReport(
        ran=int(ran.group(1)),
        passed=passed,
        skipped=int(result.group(3) or 0),
        failures=int(result.group(5) or 0),
        errors=int(result.group(6) or 0),
        methods=tuple(_methods(stdout.decode("utf-8", "replace"))),
    )


def _methods(text: str) -> Iterable[MethodResult]:
    """Per-method results: ``test_x (Case) ...`` then, after whatever the method printed, the
    outcome (``ok``, ``FAIL``, ``ERROR``, ``skipped: why``); details from the failure sections."""
    sections = _failure_sections(text)
    lines = text.replace("\r\n", "\n").splitlines()
    starts = [(i, m) for i, line in enumerate(lines) if (m := _METHOD.match(line)) is not None]
    for index, (at, match) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        body = [match.group(3), *lines[at + 1 : end]]
        body = body[
            : next((i for i, b in enumerate(body) if b.startswith(("=" * 70, "-" * 70))), len(body))
        ]
        last = next((b for b in reversed(body) if b.strip()), "")
        outcome = _OUTCOME.search(last)
        method, case = match.group(1), match.group(2).rsplit(".", 1)[-1]
        if outcome is None:
            yield MethodResult(case, method, "ERROR", "unittest printed no outcome for it")
        elif outcome.group(1).startswith("skipped"):
            yield MethodResult(case, method, "skipped", (outcome.group(2) or "").strip())
        elif outcome.group(1) in ("FAIL", "ERROR"):
            detail = sections.get((case, method), "")
            yield MethodResult(case, method, outcome.group(1), detail)
        else:
            yield MethodResult(case, method, "ok")


# micropython-lib's unittest heads every failure and error "FAIL: test_x <class 'Case'>".
_SECTION = re.compile(r"^(?:FAIL|ERROR): (\w+) (?:<class '([\w.]+)'>|\(([\w.]+)\))$", re.MULTILINE)


def _failure_sections(text: str) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    text = text.replace("\r\n", "\n")
    marks = list(_SECTION.finditer(text))
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else text.rfind("-" * 70)
        body = text[mark.end() : end].strip("\n")
        case = (mark.group(2) or mark.group(3)).rsplit(".", 1)[-1]
        found[(case, mark.group(1))] = body.strip("-=\n").strip()
    return found


def declared_methods(source: bytes) -> list[tuple[str, str]]:
    """``(TestCase, test_method)`` pairs a program declares, in order; [] if it has none or
    CPython cannot parse it (MicroPython-only syntax)."""
    if b"unittest" not in source:
        return []
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    pairs = []
    for cls in module.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        bases = [ast.unparse(b) for b in cls.bases]
        if not any(b.endswith("TestCase") for b in bases):
            continue
        for item in cls.body:
            if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                pairs.append((cls.name, item.name))
    return pairs


def judge_unittest(report: UnittestReport) -> Comparison:
    """Pass when unittest says OK (as run-tests.py decides); the failing methods otherwise."""
    if report.passed:
        return Comparison(Verdict.MATCH, report.summary())
    failed = [m for m in report.methods if m.status in ("FAIL", "ERROR")]
    names = ", ".join(f"{m.case}.{m.method}" for m in failed) or "see the output"
    diff = "\n\n".join(f"{m.status}: {m.case}.{m.method}\n{m.detail}".rstrip() for m in failed)
    return Comparison(Verdict.MISMATCH, f"unittest FAILED ({report.summary()}): {names}", diff)
