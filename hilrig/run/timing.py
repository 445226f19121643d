"""Timing regressions (``--hil-slower X``): a program that became more than X times slower on
the board than on the reference target, and slower by more than :data:`FLOOR_S`, fails.

A program's time is the wall time from sending it to its end (the payload's transfer included),
as the raw REPL measures it; the reference's comes from its own run, or from the cache of that
run. The floor keeps programs of a few milliseconds, whose times are mostly link and scheduler
noise, from failing on a ratio.
"""

from __future__ import annotations

from hilrig.compare.judge import Comparison, Verdict
from hilrig.limits import Limit
from hilrig.results import RunResult

FLOOR_S = 0.05  # slower by less than this never fails, whatever the ratio
SLOWER = Limit(1.0, 1000.0, "times")


def judge_time(
    comparison: Comparison, board: RunResult, reference: RunResult, factor: float | None
) -> Comparison:
    """``comparison``, unless the outputs matched and the board was too slow."""
    if factor is None or comparison.verdict is not Verdict.MATCH:
        return comparison
    board_s, ref_s = board.duration_s, reference.duration_s
    if board_s <= factor * ref_s or board_s - ref_s <= FLOOR_S:
        return comparison
    ratio = f"{board_s / ref_s:.1f} times" if ref_s > 0 else "infinitely"
    reason = (
        f"{ratio} slower than on the reference: board {board_s:.3f} s, reference {ref_s:.3f} s "
        f"(--hil-slower {factor:g}; differences under {FLOOR_S:g} s never fail)"
    )
    return Comparison(Verdict.MISMATCH, reason, "", comparison.notes)
