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


class LaneLost(Exception):
    """Raised by :class:`RunAhead`'s ``run`` when its lane can run nothing more: the program
    was not run (its own turn runs it), and the lane is not used again."""


class RunAhead:
    """The board's part of the next programs, each started the moment a lane is free.

    A lane is a board: one for most targets; the host VM target has several (VMs are local
    processes), so that programs which sleep or wait overlap. ``run(program, lane)`` does the
    board's part of a program on that lane (None: not now — it skips, or does not compile; its
    own turn finds out again). Programs start in the order the plugin names them (``expect``),
    at most ``window`` of them started and not yet taken by their turns; a program that ends
    starts the next expected one on the same thread at once, without waiting for its own turn.
    Programs for which ``exclusive`` names the same host resource never run at the same time:
    the next expected one waits for the other to end (the order is kept). With one lane the
    board runs one program at a time, in the plugin's order.
    """

    def __init__(
        self,
        run: Callable[[Program, int], BoardRun | None],
        lanes: int = 1,
        window: int = 1,
        exclusive: Callable[[Program], str | None] = lambda program: None,
    ) -> None:
        self.run = run
        self.window = max(window, lanes)
        self.exclusive = exclusive
        self.held: dict[int, str] = {}  # lane -> the host resource its program holds
        self.pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="hilrig-ahead")
        self.lock = threading.Lock()
        self.queue: list[Program] = []  # expected next, in order, not started yet
        self.free = list(range(lanes))  # lanes with nothing under way
        self.runs: list[tuple[Program, Future[BoardRun | None]]] = []  # in the order started
        self.started: set[tuple[Path, bytes]] = set()  # the programs in ``runs``
        self.expected: set[tuple[Path, bytes]] = set()  # the last ``expect``'s programs
        self.closing = False

    @property
    def pending(self) -> bool:
        """A program is under way on a lane, or done and not yet taken."""
        with self.lock:
            return bool(self.runs)

    def expect(self, programs: Sequence[Program]) -> None:
        """``programs`` come next, in this order (the plugin knows its order); those already
        started are left as they are."""
        with self.lock:
            self.queue = [p for p in programs if _key(p) not in self.started]
            self.expected = {_key(p) for p in programs}

    def expecting(self, program: Program) -> bool:
        """``program`` was expected and still is: the programs after it, to the end of what
        was expected with it, need not be named again (they start as lanes come free)."""
        with self.lock:
            return _key(program) in self.expected

    def start(self) -> None:
        """Every lane is free of the caller's own work: start what is expected, as far as the
        lanes and the window allow."""
        with self.lock:
            self._start_next()

    def _start_next(self) -> None:
        """With the lock held: start expected programs on free lanes, within the window."""
        while self.queue and self.free and len(self.runs) < self.window and not self.closing:
            resource = self.exclusive(self.queue[0])
            if resource is not None and resource in self.held.values():
                break  # its turn to start comes when the program holding it ends
            program = self.queue.pop(0)
            lane = self.free.pop(0)
            if resource is not None:
                self.held[lane] = resource
            self.runs.append((program, self.pool.submit(self._run_then_next, program, lane)))
            self.started.add(_key(program))

    def _run_then_next(self, program: Program, lane: int) -> BoardRun | None:
        lost = False
        try:
            return self.run(program, lane)
        except LaneLost:
            lost = True
            return None
        finally:
            with self.lock:
                self.held.pop(lane, None)
                if not lost:
                    self.free.append(lane)
                self._start_next()

    def run_now(self, program: Program) -> BoardRun | None:
        """Run ``program`` on a lane now, before anything else expected, and wait for it; the
        programs expected after it start on the other lanes meanwhile. For a turn that found
        nothing run ahead (``pending`` was false): None if it was not run (as ``take``)."""
        with self.lock:
            self.queue = [program, *(p for p in self.queue if _key(p) != _key(program))]
            self._start_next()
        return self.take(program)

    def wait(self) -> None:
        """Let the programs under way finish (their results stay for their own turns), and
        start nothing more until told: the board is wanted for something else next."""
        with self.lock:
            self.queue = []
            self.expected = set()
            futures = [future for _, future in self.runs]
        for future in futures:
            future.exception()

    def take(self, program: Program | None) -> BoardRun | None:
        """The board's run of ``program`` if it was run ahead, else None. If it was, programs
        started after it may still be under way; if not, every run ahead is dropped and every
        lane is free afterwards."""
        with self.lock:
            first = self.runs[0] if self.runs else None
            mine = first is not None and program is not None and _key(first[0]) == _key(program)
            if mine:
                taken, _ = self.runs.pop(0)
                self.started.discard(_key(taken))
        if first is None:
            return None
        if not mine:
            self.wait()
            with self.lock:
                dropped, self.runs = self.runs, []
                self.started.clear()
            for ran, future in dropped:
                error = future.exception()
                if error is not None:
                    log.debug("running %s ahead: %s", ran.name, error)
            return None
        return first[1].result()

    def close(self) -> None:
        """Wait for the programs under way and stop."""
        with self.lock:
            self.queue = []
            self.expected = set()
            self.closing = True
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            self.runs = []
            self.started.clear()


def _key(program: Program) -> tuple[Path, bytes]:
    """What makes two programs the same one here: the file and the bytes it held when read."""
    return program.path, program.source
