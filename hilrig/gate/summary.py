"""A Markdown summary of junit files: a program × target matrix with marks and totals.

Each junit file is one pytest run. A test case's target is its ``hilrig_target`` property (set
on every program by the plugin), else the run's global ``hilrig_target`` property, else the file
name. Known failures (xfail) and intermittent programs get their own marks, so a release page
shows what the gate let through. The output suits ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hilrig.errors import ConfigError

MAX_REASON_CHARS = 160


class Mark(enum.Enum):
    """A program's result on one target, worst first."""

    FAILED = "❌"
    INTERMITTENT = "🔁"
    KNOWN = "⚠️"
    SKIPPED = "⏭️"
    PASSED = "✅"

    @property
    def word(self) -> str:
        """The legend's word for the mark."""
        return "known failure" if self is Mark.KNOWN else self.name.lower()


_SEVERITY = {mark: n for n, mark in enumerate(Mark)}


@dataclass(frozen=True)
class Case:
    """One program's result on one target, as a junit file recorded it."""

    target: str
    program: str
    mark: Mark
    reason: str = ""
    detail: str = ""  # the whole failure text (diff, traceback table), for the HTML report
    duration_s: float | None = None  # the board's time (hilrig_duration_s)
    transcript: str = ""  # the transcript file the run kept, if any


@dataclass(frozen=True)
class Matrix:
    """Programs × targets; a missing cell means the program did not run there."""

    targets: tuple[str, ...]
    programs: tuple[str, ...]
    cells: Mapping[tuple[str, str], Case]  # (program, target) -> case

    def totals(self, target: str) -> dict[Mark, int]:
        """How many programs got each mark on a target."""
        counts = dict.fromkeys(Mark, 0)
        for (_, t), case in self.cells.items():
            if t == target:
                counts[case.mark] += 1
        return counts


def read_junit(path: Path) -> list[Case]:
    """The test cases of one junit file; ConfigError names a missing or malformed file."""
    try:
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise ConfigError(f"cannot read junit file {path}: {exc.strerror}.") from exc
    except ET.ParseError as exc:
        raise ConfigError(f"{path} is not a junit XML file: {exc}.") from exc
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    cases = []
    for suite in suites:
        default = _properties(suite).get("hilrig_target", path.stem)
        cases += [_case(tc, default) for tc in suite.iter("testcase")]
    return cases


def _properties(element: ET.Element) -> dict[str, str]:
    props = element.find("properties")
    if props is None:
        return {}
    return {p.get("name", ""): p.get("value", "") for p in props.findall("property")}


def _case(testcase: ET.Element, default_target: str) -> Case:
    props = _properties(testcase)
    case = Case(
        props.get("hilrig_target", default_target),
        props.get("hilrig_program") or _program_name(testcase),
        Mark.PASSED,
        duration_s=_seconds(props.get("hilrig_duration_s")),
        transcript=props.get("transcript", ""),
    )
    for tag in ("failure", "error"):
        found = testcase.find(tag)
        if found is not None:
            intermittent = props.get("hilrig_gate") == "intermittent"
            mark = Mark.INTERMITTENT if intermittent else Mark.FAILED
            reason = props.get("hilrig_reason") or _message(found)
            return replace(case, mark=mark, reason=reason, detail=found.text or "")
    skipped = testcase.find("skipped")
    if skipped is not None:
        known = skipped.get("type") == "pytest.xfail"
        mark = Mark.KNOWN if known else Mark.SKIPPED
        return replace(case, mark=mark, reason=_message(skipped), detail=skipped.text or "")
    return case


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def read_identities(path: Path) -> dict[str, dict[str, str]]:
    """Per target of one junit file, its run properties (firmware, reference firmware, …)
    without the ``hilrig_`` prefix."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    found: dict[str, dict[str, str]] = {}
    for suite in suites:
        props = _properties(suite)
        target = props.get("hilrig_target", path.stem)
        found[target] = {k.removeprefix("hilrig_"): v for k, v in props.items()}
    return found


def _program_name(testcase: ET.Element) -> str:
    """'suites.basics.adder' + 'adder' -> 'suites/basics/adder.py' (how pytest mangles paths)."""
    classname, name = testcase.get("classname", ""), testcase.get("name", "")
    if classname.rsplit(".", 1)[-1] == name:
        return classname.replace(".", "/") + ".py"
    return f"{classname}::{name}" if classname else name


def _message(element: ET.Element) -> str:
    text = element.get("message") or (element.text or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:MAX_REASON_CHARS]


def build_matrix(cases: Iterable[Case]) -> Matrix:
    """Targets in order of appearance, programs sorted; a repeated cell keeps its worst mark."""
    targets: list[str] = []
    cells: dict[tuple[str, str], Case] = {}
    for case in cases:
        if case.target not in targets:
            targets.append(case.target)
        key = (case.program, case.target)
        old = cells.get(key)
        if old is None or _SEVERITY[case.mark] < _SEVERITY[old.mark]:
            cells[key] = case
    programs = tuple(sorted({program for program, _ in cells}))
    return Matrix(tuple(targets), programs, cells)


def render_markdown(matrix: Matrix, title: str = "hilrig results") -> str:
    """The matrix as a Markdown table with a totals row, a legend, then failures with reasons."""
    if not matrix.cells:
        return f"## {title}\n\nNo test results found.\n"
    lines = [f"## {title}", "", _headline(matrix), ""]
    lines.append("| program | " + " | ".join(f"`{t}`" for t in matrix.targets) + " |")
    lines.append("|---|" + "---|" * len(matrix.targets))
    for program in matrix.programs:
        marks = [_cell(matrix.cells.get((program, t))) for t in matrix.targets]
        lines.append(f"| `{program}` | " + " | ".join(marks) + " |")
    totals = [_totals(matrix.totals(t)) for t in matrix.targets]
    lines.append("| **total** | " + " | ".join(totals) + " |")
    lines += ["", " · ".join(f"{m.value} {m.word}" for m in Mark) + " · — not run"]
    lines += _problems(matrix)
    return "\n".join(lines) + "\n"


def _headline(matrix: Matrix) -> str:
    counts = dict.fromkeys(Mark, 0)
    for case in matrix.cells.values():
        counts[case.mark] += 1
    bad = counts[Mark.FAILED] + counts[Mark.INTERMITTENT]
    verdict = "**failed**" if bad else "**passed**"
    return (
        f"{verdict}: {len(matrix.programs)} programs on {len(matrix.targets)} target(s); "
        + ", ".join(f"{n} {m.word}" for m, n in counts.items() if n)
    )


def _cell(case: Case | None) -> str:
    return case.mark.value if case is not None else "—"


def _totals(counts: Mapping[Mark, int]) -> str:
    return " ".join(f"{n}{m.value}" for m, n in counts.items() if n) or "—"


def _problems(matrix: Matrix) -> list[str]:
    shown = (Mark.FAILED, Mark.INTERMITTENT, Mark.KNOWN)
    problems = sorted(
        (c for c in matrix.cells.values() if c.mark in shown),
        key=lambda c: (_SEVERITY[c.mark], c.target, c.program),
    )
    if not problems:
        return []
    lines = ["", "<details><summary>Failures</summary>", ""]
    lines += [f"- {c.mark.value} `{c.target}` `{c.program}`: {_escape(c.reason)}" for c in problems]
    return lines + ["", "</details>"]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def summarise(paths: Sequence[Path]) -> str:
    """Read junit files and render their matrix."""
    cases: list[Case] = []
    for path in paths:
        cases += read_junit(path)
    return render_markdown(build_matrix(cases))
