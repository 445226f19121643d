"""Lanes: more boards of the same target in one session, for programs run ahead side by side.

Only the host VM target has them (:func:`lane_count`): its boards are local processes, so a
session can start several, and MicroPython's own tests spend much of their time asleep (the
extmod folder's asyncio, timer and ``time`` tests), which one VM at a time would wait through
one by one. Lane 0 is the session's own board; the others are started on first use, on the
thread that first runs a program there, and must report the same capabilities as the board
(free heap aside). A lane that cannot start is left out with a warning, and the others go on
(the program it was given runs on its own turn).

The VMs share the host, though, and its network: programs that bind a socket
(:func:`host_resource`) never run side by side (MicroPython's ``select_poll_udp.py`` and
``socket_udp_nonblock.py`` both bind 127.0.0.1:8000, and whichever comes second prints SKIP).
Files are no such resource: each VM runs in a folder of its own.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import replace

from hilrig.boards.board import Board
from hilrig.errors import HilrigError
from hilrig.run.program import Program
from hilrig.run.runner import Runner
from hilrig.targets.spec import Kind, TargetSpec

log = logging.getLogger(__name__)

WINDOW_PER_LANE = 1024  # programs started ahead and not yet reported, per lane
_BINDS = re.compile(rb"\.bind\s*\(")


def lane_count(spec: TargetSpec, under_xdist: bool) -> int:
    """How many boards one session runs programs on: every instance of a host VM target (its
    ``instances``), unless xdist already starts a process per instance; else one."""
    if under_xdist or spec.kind is not Kind.HOSTVM:
        return 1
    return max(1, spec.board_count())


def host_resource(program: Program) -> str | None:
    """What of the host ``program`` may hold that another VM's program could ask for too:
    "network" for a program that binds a socket; None for anything else."""
    return "network" if _BINDS.search(program.source) else None


class Lanes:
    """The session's board (lane 0) and more, each with its own runner (as many as the
    RunAhead that asks for them has lanes)."""

    def __init__(self, open_board: Callable[[], Board], main: Runner) -> None:
        self.open_board = open_board
        self.main = main
        self.lock = threading.Lock()
        self.runners: dict[int, Runner] = {0: main}
        self.failed: dict[int, str] = {}
        self.boards: list[Board] = []  # the extra ones, to close

    def runner(self, lane: int) -> Runner | None:
        """Lane ``lane``'s runner, its board started on first use; None if it could not be."""
        with self.lock:
            if lane in self.runners or lane in self.failed:
                return self.runners.get(lane)
        try:
            runner = self._start(lane)
        except (HilrigError, OSError) as exc:
            log.warning("lane %d of %s left out: %s", lane, self.main.board.label, exc)
            with self.lock:
                self.failed[lane] = str(exc)
            return None
        with self.lock:
            self.runners[lane] = runner
        return runner

    def _start(self, lane: int) -> Runner:
        board = self.open_board()
        with self.lock:
            self.boards.append(board)
        caps = board.start()
        if replace(caps, mem_free=None) != replace(self.main.caps, mem_free=None):
            raise HilrigError(
                f"its board reports {caps.banner!r}, the session's {self.main.caps.banner!r}"
            )
        main = self.main
        runner = Runner(board, main.caps, main.compiler, main.max_output, main.emit, main.role)
        runner.wiring = main.wiring
        return runner

    def cut_short(self, why: str) -> None:
        """Close the extra boards under whatever they run (Ctrl-C, the end of the session)."""
        with self.lock:
            boards = list(self.boards)
        for board in boards:
            board.broken = why
            board.close()

    def close(self) -> None:
        """Stop the extra boards; never raises."""
        with self.lock:
            boards, self.boards = self.boards, []
        for board in boards:
            try:
                board.close()
            except Exception as exc:  # noqa: BLE001 - shutting down must finish
                log.warning("closing a lane: %s", exc)
