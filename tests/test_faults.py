"""Faults on the real host VM and the real QEMU micro:bit, through Board and Runner.

Every fault ends as a RunResult with an outcome and a sentence, the board comes back, the next
program passes, nothing hangs, and no state leaks from one program into the next.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_targets import started_board

from hilrig.boards.board import Board
from hilrig.boards.hostvm import HostVM
from hilrig.boards.qemu import QemuMachine
from hilrig.forkserver import ForkedChild
from hilrig.mpy.compiler import Compiler, select_compiler
from hilrig.results import Outcome, RunResult
from hilrig.run.program import Program
from hilrig.run.runner import Runner

MAX_OUTPUT = 64 * 1024


@dataclass
class Rig:
    kind: str  # "host" or "microbit"
    board: Board
    runner: Runner

    def run(self, source: str, timeout_s: float = 5.0, name: str = "prog") -> RunResult:
        path = Path(f"suites/{name}.py")
        program = Program(path=path, name=path.as_posix(), source=source.encode())
        return self.runner.run(program, self.runner.prepare(program), timeout_s)

    def next_passes(self) -> None:
        result = self.run("print('next')", name="next")
        assert result.outcome is Outcome.OK, result
        assert result.stdout.replace(b"\r\n", b"\n") == b"next\n"

    def pid(self) -> int:
        connection = self.board.connection
        if isinstance(connection, HostVM):
            assert connection.current is not None
            return connection.current.proc.pid
        assert isinstance(connection, QemuMachine) and connection.proc is not None
        return connection.proc.pid


@pytest.fixture(scope="module", params=["host", "microbit"])
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """One started board per target for the module; programs as the session sends them."""
    with started_board(request.param) as board:
        assert board.caps is not None
        compiler = None  # the micro:bit's 1.9.2 firmware cannot import .mpy: source mode
        if board.caps.can_import_mpy:
            cache = tmp_path_factory.mktemp("mpy-cache")
            compiler = Compiler(select_compiler(board.caps, cache), cache)
        yield Rig(request.param, board, Runner(board, board.caps, compiler, MAX_OUTPUT))


def test_hang_times_out_is_interrupted_and_next_passes(rig: Rig) -> None:
    started = time.monotonic()
    result = rig.run("print('spinning')\nwhile True:\n    pass\n", timeout_s=1)
    assert result.outcome is Outcome.TIMEOUT
    assert result.detail == "timeout after 1 s (board recovered by Ctrl-C)"
    assert result.stdout.strip() == b"spinning"
    assert time.monotonic() - started < 8  # Ctrl-C ended it, not a hard reset's boot
    rig.next_passes()


UNINTERRUPTIBLE = """\
def spin():
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
spin()
"""


def test_uninterruptible_hang_climbs_to_hard_reset(rig: Rig) -> None:
    before = rig.pid()
    result = rig.run(UNINTERRUPTIBLE, timeout_s=0.5)
    assert result.outcome is Outcome.TIMEOUT
    assert result.detail == "timeout after 0.5 s (board recovered by hard reset)"
    assert rig.pid() != before
    assert rig.board.link is not None
    notes = [text for _, text in rig.board.link.transcript.notes]
    assert notes[:2] == ["timeout: timeout after 0.5 s", "recovery: trying Ctrl-C"]
    assert "recovery: trying soft reset" in notes and notes[-1] == "recovery: hard reset worked"
    rig.next_passes()


def test_emulator_or_vm_killed_mid_program_is_a_crash(rig: Rig) -> None:
    victim = rig.pid()
    connection = rig.board.connection
    if isinstance(connection, HostVM):
        assert connection.current is not None
        proc: subprocess.Popen[bytes] | ForkedChild | None = connection.current.proc
    else:
        assert isinstance(connection, QemuMachine)
        proc = connection.proc
    assert proc is not None
    timer = threading.Timer(0.3, proc.kill)
    timer.start()
    started = time.monotonic()
    try:
        result = rig.run("while True:\n    pass\n", timeout_s=10)
    finally:
        timer.cancel()
    assert result.outcome is Outcome.CRASH, result
    assert "closed" in result.detail and result.detail.endswith("(board recovered by hard reset)")
    assert time.monotonic() - started < 9  # seen at once, not at the 10 s limit
    assert rig.pid() != victim
    rig.next_passes()


def test_memory_error_is_an_exception_and_next_passes(rig: Rig) -> None:
    size = "10**9" if rig.kind == "host" else "100000"  # the micro:bit has ~9 KB of heap
    result = rig.run(f"x = [0] * {size}\n")
    assert result.outcome is Outcome.EXCEPTION
    assert result.traceback_text().strip().splitlines()[-1].startswith("MemoryError")
    rig.next_passes()


def test_megabytes_of_output_are_truncated_and_the_board_stays_usable(rig: Rig) -> None:
    lines = 30000 if rig.kind == "host" else 10000  # 3 MB; 1 MB through the emulated UART
    result = rig.run(f"s = 'x' * 99\nfor i in range({lines}):\n    print(s)\n", timeout_s=20)
    assert result.outcome is Outcome.OK and result.truncated
    assert len(result.stdout) == MAX_OUTPUT
    assert rig.board.link is not None
    transcript = rig.board.link.transcript
    assert transcript.dropped > 500_000  # the transcript kept its head and tail only
    rig.next_passes()


def test_binary_garbage_on_the_wire_is_a_crash_and_the_board_recovers(rig: Rig) -> None:
    if rig.kind == "host":
        source = "import sys\nsys.stdout.write(bytes(range(256)))\n"
    else:
        source = "print(''.join(chr(i) for i in range(256)))\n"
    result = rig.run(source)
    assert result.outcome is Outcome.CRASH
    assert "Ctrl-D" in result.detail and "board recovered by" in result.detail
    rig.next_passes()


LEAK = """\
leak_global = 1
import builtins, gc, micropython, sys
builtins.hilrig_leak = 1
gc.disable()
micropython.opt_level(3)
if hasattr(sys, 'modules'):
    sys.modules['hilrig_leak'] = sys
"""

CHECK = """\
import builtins, gc, micropython, sys
print('leak_global' in globals(), hasattr(builtins, 'hilrig_leak'), gc.isenabled(),
      micropython.opt_level(), 'hilrig_leak' in getattr(sys, 'modules', {}))
"""

ENDINGS = {
    "normally": "",
    "by an exception": "raise ValueError('x')\n",
    "by SystemExit": "raise SystemExit\n",
    "by a timeout": "while True:\n    pass\n",
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_state_never_leaks_into_the_next_program(rig: Rig, ending: str) -> None:
    rig.run(LEAK + ENDINGS[ending], timeout_s=0.5, name="leak")
    result = rig.run(CHECK, name="check")
    assert result.outcome is Outcome.OK, result
    assert result.stdout.strip() == b"False False True 0 False"
