"""A failing program as people read it: reason, diff, source lines of the traceback, and where
the transcript and bundle are. The test report and the bundle's ``diff.txt`` show the same text.
"""

from __future__ import annotations

from pathlib import Path

from hilrig.compare.excerpt import annotate
from hilrig.run.session import ProgramRun


def describe_failure(
    report: ProgramRun, headline: str | None = None, bundle: Path | None = None
) -> str:
    """Reason (or the gate's headline), diff, notes, and where the transcript and bundle are."""
    c = report.comparison
    parts = [headline or c.reason]
    if c.diff:
        parts.append(c.diff.rstrip())
    board = report.board
    if board is not None and board.traceback:
        mpy = report.prepared.mpy if report.prepared is not None else None
        source = annotate(board.traceback_text(), report.program.name, report.program.source, mpy)
        if source:
            parts.append(source)
    parts += [f"note: {n}" for n in c.notes]
    if report.transcript is not None and report.transcript.is_file():
        parts.append(f"transcript: {report.transcript}")
    if bundle is not None:
        parts.append(f"bundle: {bundle} (rerun it: hilrig repro {bundle})")
    return "\n".join(parts)
