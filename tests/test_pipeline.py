"""The work done ahead of the board: the prefetch window, a whole run queued at once, payloads
prepared ahead, and references asked for by two threads at once run once."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

from real_targets import started_board

from hilrig.mpy.compiler import Compiler, select_compiler
from hilrig.results import Outcome, RunResult
from hilrig.run.pipeline import Prefetcher
from hilrig.run.program import Program
from hilrig.run.reference import ResultCache
from hilrig.run.runner import Runner


def programs(tmp_path: Path, count: int) -> list[Program]:
    return [Program(tmp_path / f"p{i}.py", f"p{i}.py", b"print(%d)\n" % i) for i in range(count)]


def test_the_prefetch_warms_the_window_once_each(tmp_path: Path) -> None:
    gate = threading.Event()
    warmed: list[str] = []
    lock = threading.Lock()

    def warm(program: Program) -> None:
        gate.wait(10)
        with lock:
            warmed.append(program.name)

    prefetcher = Prefetcher(warm, workers=2, depth=3)
    try:
        todo = programs(tmp_path, 6)
        prefetcher.prefetch(todo)
        assert len(prefetcher.pending) == 3  # the window, no further
        prefetcher.prefetch(todo)  # asked again while they run: nothing new
        assert len(prefetcher.pending) == 3
        gate.set()
        for future in list(prefetcher.pending.values()):
            future.result(10)
        prefetcher.prefetch(todo[1:])  # the next item's turn: p0..p2 are warm, p3..p5 start
        assert sorted(p.name for p in todo if p.path in prefetcher.pending) == [
            "p3.py",
            "p4.py",
            "p5.py",
        ]
        for future in list(prefetcher.pending.values()):
            future.result(10)
    finally:
        prefetcher.close()
    assert sorted(warmed) == [f"p{i}.py" for i in range(6)]  # each once


def test_a_whole_run_queued_at_once_is_warmed_in_its_order_once_each(tmp_path: Path) -> None:
    warmed: list[str] = []
    prefetcher = Prefetcher(lambda program: warmed.append(program.name), workers=1, depth=2)
    try:
        todo = programs(tmp_path, 8)
        prefetcher.prefetch(todo, depth=len(todo))  # the plugin's plan at the first program
        assert len(prefetcher.pending) == 8  # beyond the prefetcher's own depth
        prefetcher.prefetch(todo[1:4])  # the next items' turns ask again: nothing new
        for future in list(prefetcher.pending.values()):
            future.result(10)
        prefetcher.prefetch(todo[4:])
        assert not prefetcher.pending
    finally:
        prefetcher.close()
    assert warmed == [f"p{i}.py" for i in range(8)]


def test_a_payload_prepared_ahead_is_handed_out_once(tmp_path: Path) -> None:
    with started_board("host") as board:
        assert board.caps is not None
        compiler = Compiler(select_compiler(board.caps, tmp_path), tmp_path)
        runner = Runner(board, board.caps, compiler, 10_000)
        program = programs(tmp_path, 1)[0]
        ahead = runner.prepare(program, keep=True)  # the prefetch
        assert runner.prepare(program) is ahead  # the board's turn: no work in between
        again = runner.prepare(program)  # not kept twice: made again, the same bytes
        assert again is not ahead and again == ahead
        runner.prepare(program, keep=True)
        changed = dataclasses.replace(program, source=b"print('changed')\n")
        assert runner.prepare(changed).payload != ahead.payload  # edited since: not the kept one


def _recall_on_two_threads(cache: ResultCache, run: Callable[[], RunResult]) -> list[RunResult]:
    """Two threads ask ``cache`` for the key "k" at once; their results."""
    results: list[RunResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.recall("k", run))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_one_key_asked_by_two_threads_runs_once(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "ref")
    calls: list[int] = []

    def slow() -> RunResult:
        calls.append(1)
        time.sleep(0.3)
        return RunResult(Outcome.OK, b"42\n")

    results = _recall_on_two_threads(cache, slow)
    assert len(calls) == 1 and [r.stdout for r in results] == [b"42\n", b"42\n"]
    assert cache.get("k") == RunResult(Outcome.OK, b"42\n")


def test_a_result_that_is_not_kept_is_run_again_by_the_waiter(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "ref")
    calls: list[int] = []

    def timing_out() -> RunResult:
        calls.append(1)
        time.sleep(0.2)
        return RunResult(Outcome.TIMEOUT, detail="timeout after 1 s")  # never stored

    _recall_on_two_threads(cache, timing_out)
    assert len(calls) == 2 and cache.get("k") is None
