"""A multi-board program's verdict: its instances on the boards, then the same instances on host
VMs (or its ``.exp`` file), and the merged outputs compared line for line as run-multitests does.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hilrig.boards.board import Board
from hilrig.boards.hostvm import HostVM, host_vm_command
from hilrig.compare.judge import Comparison, Verdict
from hilrig.run.multirun import MultiOutcome, MultiRun, run_instances
from hilrig.run.multitest import instance_count
from hilrig.run.program import Program


@dataclass(frozen=True)
class MultiReport:
    """Everything known about one multi-board program's run."""

    program: Program
    comparison: Comparison
    board: MultiRun | None = None
    reference: MultiRun | None = None
    transcripts: tuple[Path, ...] = ()


class HostFleet:
    """Host VMs that run the instances for the reference; started as needed, kept for the run."""

    label = "host VMs"

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = command
        self.boards: list[Board] = []

    def take(self, count: int) -> list[Board]:
        """``count`` started host VMs."""
        while len(self.boards) < count:
            vm = HostVM(host_vm_command(self.command), label=f"reference VM {len(self.boards)}")
            board = Board(vm)
            self.boards.append(board)
            board.start()
        return self.boards[:count]

    def close(self) -> None:
        """Stop every VM."""
        for board in self.boards:
            board.close()
        self.boards.clear()


def check_multi(
    program: Program,
    boards: Sequence[Board],
    reference: HostFleet | None,
    limit_s: float,
    max_output: int,
    transcripts: Path | None = None,
) -> MultiReport:
    """Run the instances on ``boards``, then on the reference, and compare the merged outputs.

    ``reference`` None: only a ``.exp`` file can say what the program should print.
    ``transcripts``: the folder that keeps each board's transcript when the program fails.
    """
    count = instance_count(program.source)
    board = run_instances(boards[:count], program.source, limit_s, max_output)
    report = _verdict(program, board, reference, count, limit_s, max_output)
    if report.comparison.verdict is Verdict.MISMATCH and transcripts is not None:
        saved = _save(program, boards[:count], transcripts)
        return MultiReport(program, report.comparison, board, report.reference, saved)
    return report


def _verdict(
    program: Program,
    board: MultiRun,
    reference: HostFleet | None,
    count: int,
    limit_s: float,
    max_output: int,
) -> MultiReport:
    if board.outcome is MultiOutcome.SKIP:
        return MultiReport(program, Comparison(Verdict.SKIP, board.detail, "", ()), board)
    if board.outcome is not MultiOutcome.DONE:
        shown = f"merged output of the boards:\n{board.output}"
        return MultiReport(program, Comparison(Verdict.MISMATCH, board.detail, shown, ()), board)
    if program.expected is not None:
        expected = program.expected.decode("utf-8", "backslashreplace").replace("\r\n", "\n")
        return MultiReport(program, _compare(board, expected, f"{program.name}.exp"), board)
    if reference is None:
        reason = f"no {program.name}.exp file (--hil-reference=exp)"
        return MultiReport(program, Comparison(Verdict.SKIP, reason, "", ()), board)
    ref = run_instances(reference.take(count), program.source, limit_s, max_output)
    if ref.outcome is not MultiOutcome.DONE:
        reason = f"the reference ({count} {reference.label}) did not run it: {ref.detail}"
        return MultiReport(
            program, Comparison(Verdict.MISMATCH, reason, ref.output, ()), board, ref
        )
    return MultiReport(program, _compare(board, ref.output, reference.label), board, ref)


def _compare(board: MultiRun, expected: str, label: str) -> Comparison:
    if board.output == expected:
        return Comparison(Verdict.MATCH, "", "", ())
    diff = difflib.unified_diff(
        expected.splitlines(keepends=True),
        board.output.splitlines(keepends=True),
        fromfile=f"reference ({label})",
        tofile="boards",
    )
    return Comparison(
        Verdict.MISMATCH, "the boards' merged output differs from the reference", "".join(diff), ()
    )


def _save(program: Program, boards: Sequence[Board], folder: Path) -> tuple[Path, ...]:
    saved = []
    safe = program.name.replace("/", "__")
    for index, board in enumerate(boards):
        if board.link is None:
            continue
        try:
            saved.append(board.link.transcript.save(folder / f"{safe}.instance{index}.txt"))
        except OSError:
            continue
    return tuple(saved)


def describe_multi(report: MultiReport) -> str:
    """Reason, diff (or the merged output), metrics and where each board's transcript is."""
    c = report.comparison
    parts = [c.reason]
    if c.diff:
        parts.append(c.diff.rstrip())
    parts += [f"transcript: {path}" for path in report.transcripts]
    return "\n".join(parts)
