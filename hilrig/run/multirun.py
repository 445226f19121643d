"""Run one multi-board program (:mod:`hilrig.run.multitest`) on several started boards.

The order is run-multitests': the instances start one after another, each once the one before
has printed ``NEXT`` (or ended), and ``SET`` lines printed while starting become globals of the
instances started after. Then all of them run together: a ``BROADCAST`` line goes to the other
boards' stdin, ``OUTPUT_METRIC`` lines are set aside, and every other line is that instance's
output. An instance that ends by raising stops the run, with its traceback as its last lines.
The whole run has one wall-clock limit; past it the instances still running get a ``TIMEOUT``
line, and every board is brought back to a clean prompt afterwards.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from hilrig.boards.board import Board
from hilrig.deadline import Deadline
from hilrig.errors import BoardBroken, BoardReset, HilrigError, LinkError, LinkTimeout, ReplError
from hilrig.run.multitest import IGNORED, host_ip, merged, script
from hilrig.transport.stream import OutputStream, TextDecoder

log = logging.getLogger(__name__)

POLL_S = 0.01  # how long each running instance is listened to in turn
STOP_BUDGET_S = 5.0  # from Ctrl-C to the prompt when the run stops an instance


class MultiOutcome(enum.Enum):
    """How a multi-board run ended."""

    DONE = "done"  # every instance ended (or one raised, which stops the run as in run-multitests)
    SKIP = "skip"  # an instance called multitest.skip()
    TIMEOUT = "timeout"  # the run passed its wall-clock limit
    CRASH = "crash"  # a board rebooted when it was not expected to, or its link failed


@dataclass(frozen=True)
class MultiRun:
    """The merged output of every instance (``--- instance0 ---`` …) and how the run ended."""

    outcome: MultiOutcome
    output: str
    metrics: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class _Instance:
    """One instance on its board: the running copy's stream and its unfinished last line."""

    board: Board
    index: int
    stream: OutputStream | None = None
    decoder: TextDecoder = field(default_factory=TextDecoder)
    partial: str = ""
    resume: str | None = None  # multitest.expect_reboot(): what to run once the board is back
    crashed: bool = False  # its board rebooted unannounced or its link failed
    emitted: int = 0  # lines of the running copy handed out so far

    @property
    def running(self) -> bool:
        return self.stream is not None and not self.stream.finished

    def start(self, code: bytes, deadline: Deadline, max_output: int) -> None:
        self.stream = self.board.launch(code, max(deadline.remaining(), 1.0), max_output)
        self.decoder, self.partial, self.emitted = TextDecoder(), "", 0

    def lines(self, deadline: Deadline) -> tuple[list[str], str, bool]:
        """New complete lines (right-stripped), the traceback text once it raised, and whether
        the board rebooted (its boot banner arrived; the lines are what came before it)."""
        assert self.stream is not None
        try:
            text = self.partial + self.decoder.feed(self.stream.pump(deadline))
        except BoardReset as exc:
            # Up to the banner, which may have begun in a piece already read (the partial line);
            # micro:bit 1.9.2 sends a NUL as it resets.
            every = TextDecoder().feed(exc.stdout, final=True).replace("\x00", "").split("\n")
            self.stream, self.partial = None, ""
            return [line.rstrip() for line in every[self.emitted :] if line.strip()], "", True
        *done, self.partial = text.split("\n")
        if self.stream.finished and self.partial.strip():
            done.append(self.partial)
        self.emitted += len(done)
        if not self.stream.finished:
            return [line.rstrip() for line in done], "", False
        self.partial = ""
        error = TextDecoder().feed(bytes(self.stream.exception), final=True).rstrip()
        return [line.rstrip() for line in done], error, False


class _Run:
    def __init__(self, boards: Sequence[Board], source: bytes, limit_s: float, max_output: int):
        self.instances = [_Instance(board, i) for i, board in enumerate(boards)]
        self.source = source
        self.deadline = Deadline.after(limit_s)
        self.max_output = max_output
        unix_only = all(b.connection.soft_reset_restarts for b in boards)  # the unix port
        self.injected = host_ip(source, unix_only)
        self.output: list[list[str]] = [[] for _ in boards]
        self.metrics: list[str] = []
        self.outcome = MultiOutcome.DONE
        self.detail = ""
        self.stopped = False  # an instance raised, skipped or timed out

    def start_in_order(self) -> None:
        for inst in self.instances:
            inst.board.begin(f"instance{inst.index}")
            inst.start(self._script(f"instance{inst.index}"), self.deadline, self.max_output)
            while inst.running and not self.stopped:
                if self._starting_lines(inst):
                    break
            if self.stopped:
                return

    def _starting_lines(self, inst: _Instance) -> bool:
        """Read one piece while ``inst`` starts; True once it said NEXT (or cannot go on)."""
        lines, error, rebooted = self._read(inst, self.deadline)
        said_next = self._starting(inst, lines, error)
        if rebooted and not self.stopped:
            self._rebooted(inst)  # announced after NEXT: it resumes; else a crash
        return said_next

    def _starting(self, inst: _Instance, lines: list[str], error: str) -> bool:
        for at, line in enumerate(lines):
            if line.startswith("SET "):
                self.injected += line[4:] + "\n"
            elif line == "SKIP":
                self._stop(MultiOutcome.SKIP, f"instance{inst.index} called multitest.skip()")
                return True
            elif line == "NEXT":  # what came with it is already the running instance's
                self._running(inst, lines[at + 1 :], error)
                return True
            elif not any(m in line for m in IGNORED):
                self.output[inst.index].append(line)
        self._raised(inst, error)
        return False

    def follow_all(self) -> None:
        while not self.stopped and any(inst.running for inst in self.instances):
            for inst in self.instances:
                if inst.running and not self.stopped:
                    self._running_lines(inst)
            if self.deadline.expired() and not self.stopped:
                self._timeout()

    def _running_lines(self, inst: _Instance) -> None:
        lines, error, rebooted = self._read(inst, self.deadline.sooner(POLL_S), quiet=True)
        self._running(inst, lines, error)
        if rebooted and not self.stopped:
            self._rebooted(inst)

    def _running(self, inst: _Instance, lines: list[str], error: str) -> None:
        for line in lines:
            # Once a reboot is announced, what the board prints until it is back (its boot
            # banner) is dropped, as run-multitests' wait_for_reboot does.
            if any(m in line for m in IGNORED) or inst.resume is not None:
                continue
            if line.startswith("WAIT_FOR_REBOOT"):
                self._expect_reboot(inst, line)
            if line.startswith("BROADCAST "):
                for other in self.instances:
                    if other is not inst and other.board.link is not None:
                        other.board.link.write(line.encode() + b"\r\n")
            elif line.startswith("OUTPUT_METRIC "):
                self.metrics.append(line.split(" ", 1)[1])
            else:
                self.output[inst.index].append(line)
        self._raised(inst, error)

    def _read(
        self, inst: _Instance, deadline: Deadline, quiet: bool = False
    ) -> tuple[list[str], str, bool]:
        try:
            return inst.lines(deadline)
        except LinkTimeout:
            if not quiet:
                self._timeout()
        except (ReplError, LinkError) as exc:
            self._crash(inst, f"instance{inst.index} on {inst.board.label}: {exc}")
        return [], "", False

    def _rebooted(self, inst: _Instance) -> None:
        """The board rebooted: resume it if the program said it would, else the run crashed."""
        if inst.resume is None:
            self._crash(inst, f"instance{inst.index}'s board rebooted ({inst.board.label})")
            return
        resume, inst.resume = inst.resume, None
        inst.board.recover()  # from the friendly REPL it booted into to a clean raw prompt
        inst.start(self._script(resume), self.deadline, self.max_output)

    def _expect_reboot(self, inst: _Instance, line: str) -> None:
        parts = line.split(" ")
        resume = parts[1] if len(parts) == 3 else ""
        if not resume.startswith(f"instance{inst.index}"):
            self._crash(
                inst,
                f"expect_reboot({resume!r}): the resume function of instance"
                f"{inst.index} must be named instance{inst.index}…",
            )
            return
        inst.resume = resume

    def _raised(self, inst: _Instance, error: str) -> None:
        if error:
            self.output[inst.index] += error.split("\n")
            self._stop(MultiOutcome.DONE, f"instance{inst.index} raised an exception")

    def _timeout(self) -> None:
        for inst in self.instances:
            if inst.running:
                self.output[inst.index].append("TIMEOUT")
        self._stop(
            MultiOutcome.TIMEOUT,
            f"the instances did not finish within {self.deadline.budget_s:g} s",
        )

    def _crash(self, inst: _Instance, detail: str) -> None:
        inst.stream, inst.crashed = None, True
        self._stop(MultiOutcome.CRASH, detail)

    def _stop(self, outcome: MultiOutcome, detail: str) -> None:
        if not self.stopped:
            self.stopped, self.outcome, self.detail = True, outcome, detail

    def _script(self, call: str) -> bytes:
        return script(self.source, self.injected, call)

    def settle(self) -> None:
        """Stop what still runs and bring every board to a clean prompt (or mark it broken)."""
        for inst in self.instances:
            try:
                _settle(inst)
            except BoardBroken as exc:
                log.warning("%s", exc)

    def result(self) -> MultiRun:
        return MultiRun(self.outcome, merged(self.output), tuple(self.metrics), self.detail)


def _settle(inst: _Instance) -> None:
    stream = inst.stream
    if inst.crashed:
        inst.board.recover()
    if stream is None:
        return
    try:
        if not stream.finished:
            inst.board.interrupt()
            stream.finish(Deadline.after(STOP_BUDGET_S))
        inst.board.after_program(stream.exited)
    except HilrigError as exc:
        log.info("%s: %s; recovering", inst.board.label, exc)
        inst.board.recover()


def run_instances(
    boards: Sequence[Board], source: bytes, limit_s: float, max_output: int = 1_000_000
) -> MultiRun:
    """Run a multi-board program's instances on ``boards`` (instance i on boards[i])."""
    run = _Run(boards, source, limit_s, max_output)
    try:
        run.start_in_order()
        run.follow_all()
    except HilrigError as exc:
        run._stop(MultiOutcome.CRASH, str(exc))
    finally:
        run.settle()
    return run.result()
