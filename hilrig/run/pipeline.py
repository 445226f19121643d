"""The pipeline around the board, so that the board waits for nothing hilrig does.

Two helpers ahead of the board:

- :class:`Prefetcher`: while the board runs program N, the programs after it are compiled and
  their references run, on two threads (a reference is another process: CPython or a host VM).
  It only fills the caches the session reads anyway (compiled ``.mpy`` files, reference
  results). Where the whole run's order is known (one process, no xdist), the whole run is
  queued at its first program, so that this work is done in the run's first seconds rather than
  spread along it: on a two-core machine every process that computes beside an emulator slows
  its serial port (with four programs warmed ahead, an emulated STM32 took in the programs of
  ``tests/basics`` 70 % slower in a cold run than in a warm one), and done at once, on both threads,
  this work overlaps the board for a shorter time (the cold run: 19.4-20.6 s before, 14.2-17.0
  after; the warm run is unchanged). Under xdist each worker queues its share of the run (every
  Nth program of the order, N the number of workers): any worker may be handed any program,
  and the caches are on disk, so between them the workers warm the whole run from its start,
  while the programs that sleep for seconds (which the order starts first) leave the cores
  idle. MicroPython's micropython, float, misc and extmod on the host VM, ``-n auto``, cold:
  6.7-7.6 s (median 7.15) against 7.3-7.7 s (median 7.6) with only the next program warmed,
  in six alternating pairs.
- :class:`RunAhead`: as soon as the board has finished program N, it starts program N+1, while
  hilrig judges N and pytest reports it. The board still runs one program at a time and in the
  plugin's order; anything else that wants the board first waits for the program under way
  (:meth:`RunAhead.wait`). Its result is used only by that program's own turn: results are
  identical and in order. A run stopped early (``-x``, Ctrl-C) may have run one program more
  on the board than it reports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hilrig.results import RunResult
from hilrig.run.program import Program
from hilrig.run.runner import Prepared
from hilrig.transport.transcript import Transcript

log = logging.getLogger(__name__)


class Prefetcher:
    """Background workers that warm the caches for the programs coming next.

    ``depth`` programs at most are queued or being warmed at once (unless a call asks for more),
    by ``workers`` threads, in the order given; a program is warmed once (the last
    ``REMEMBERED`` are remembered).
    """

    REMEMBERED = 65536

    def __init__(self, warm: Callable[[Program], None], workers: int = 2, depth: int = 4):
        self.warm = warm
        self.depth = depth
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hilrig-prefetch")
        self.pending: dict[Path, Future[None]] = {}  # in the order queued
        self.warmed: dict[Path, None] = {}  # in order, oldest first

    def prefetch(self, programs: Sequence[Program], depth: int | None = None) -> None:
        """Start warming the first of ``programs`` that are not warm yet, up to ``depth`` (the
        prefetcher's own if None) queued or under way.

        Called for every program, with the whole run queued: finished warm-ups are moved out
        from the front of the queue only (they finish in about the order queued), so a call
        costs nothing like the length of the queue.
        """
        depth = self.depth if depth is None else depth
        while self.pending:
            path, future = next(iter(self.pending.items()))
            if not future.done():
                break
            del self.pending[path]
            self.warmed[path] = None
        while len(self.warmed) > self.REMEMBERED:
            del self.warmed[next(iter(self.warmed))]
        for program in programs:
            if len(self.pending) >= depth:
                break
            if program.path not in self.pending and program.path not in self.warmed:
                self.pending[program.path] = self.pool.submit(self._warm, program)

    def _warm(self, program: Program) -> None:
        try:
            self.warm(program)
        except Exception as exc:  # noqa: BLE001 - the program's own turn will meet it again
            log.debug("prefetching %s: %s", program.name, exc)

    def close(self) -> None:
        """Wait for the warm-ups under way (they hold references) and stop."""
        self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class BoardRun:
    """The board's part of a program: what was sent, what came back, and its transcript (in
    memory: written only if it is kept)."""

    prepared: Prepared
    result: RunResult
    transcript: Transcript | None


class RunAhead:
    """The board's part of the next programs, each started the moment the board is free.

    ``run`` does the board's part of a program (None: not now — it skips, or does not compile;
    its own turn finds out again). The board runs one program at a time, in the order the plugin
    names them (``expect``): a program that ends on the board starts the one expected next on the
    same thread at once, without waiting for this program's turn to collect it.
    """

    def __init__(self, run: Callable[[Program], BoardRun | None]) -> None:
        self.run = run
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hilrig-ahead")
        self.lock = threading.Lock()
        self.next: Program | None = None  # the program whose turn comes next
        self.runs: list[tuple[Program, Future[BoardRun | None]]] = []  # in board order
        self.closing = False

    @property
    def pending(self) -> bool:
        """A program is under way on the board, or done and not yet taken."""
        with self.lock:
            return bool(self.runs)

    def expect(self, program: Program) -> None:
        """``program`` is next (the plugin knows its order)."""
        with self.lock:
            self.next = program

    def start(self) -> None:
        """The board is free: start the program expected next, if one is."""
        with self.lock:
            if all(future.done() for _, future in self.runs):
                self._start_next()

    def _start_next(self) -> None:
        """With the lock held: queue the expected program behind whatever runs."""
        program, self.next = self.next, None
        if program is None or self.closing or any(p is program for p, _ in self.runs):
            return
        self.runs.append((program, self.pool.submit(self._run_then_next, program)))

    def _run_then_next(self, program: Program) -> BoardRun | None:
        try:
            return self.run(program)
        finally:
            with self.lock:
                self._start_next()

    def wait(self) -> None:
        """Let the programs under way finish (their results stay for their own turns)."""
        with self.lock:
            self.next = None  # the board is wanted for something else next
            futures = [future for _, future in self.runs]
        for future in futures:
            future.exception()

    def take(self, program: Program | None) -> BoardRun | None:
        """The board's run of ``program`` if it was run ahead, else None. If it was, a program
        started after it may still be under way; if not, every run ahead is dropped and the board
        is free afterwards."""
        with self.lock:
            first = self.runs[0] if self.runs else None
            mine = (
                first is not None
                and program is not None
                and first[0].path == program.path
                and first[0].source == program.source
            )
            if mine:
                self.runs.pop(0)
        if first is None:
            return None
        if not mine:
            self.wait()
            with self.lock:
                dropped, self.runs = self.runs, []
            for ran, future in dropped:
                error = future.exception()
                if error is not None:
                    log.debug("running %s ahead: %s", ran.name, error)
            return None
        return first[1].result()

    def close(self) -> None:
        """Wait for the programs under way and stop."""
        with self.lock:
            self.next = None
            self.closing = True
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            self.runs = []
