"""The host VM's lanes: one pytest process runs programs on several VMs side by side, and
reports each program's own result, in order (real host VMs, through pytest)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from projects import hil_project

from hilrig.capabilities import CPYTHON_CAPS, Capabilities
from hilrig.results import Outcome, RunResult
from hilrig.run.lanes import Lanes, host_resource
from hilrig.run.pipeline import BoardRun, LaneLost, RunAhead
from hilrig.run.program import Program
from hilrig.run.runner import Prepared, Runner

pytest_plugins = ["pytester"]

# Each program marks that it runs, then waits (10 s) for the other programs' marks: it
# prints "together" only if all of them ran at the same time (one VM at a time cannot).
BARRIER = """\
import os, time
open({mark!r}, "w").close()
def seen():
    try:
        return len([n for n in os.listdir({folder!r}) if n.endswith(".mark")])
    except OSError:
        return 0
end = time.ticks_add(time.ticks_ms(), {wait_ms})
while seen() < {count} and time.ticks_diff(end, time.ticks_ms()) > 0:
    time.sleep_ms(5)
print({name!r}, "together" if seen() >= {count} else "alone")
"""


def _barrier_project(pytester: pytest.Pytester, count: int, wait_ms: int = 10000) -> Path:
    suites = hil_project(pytester, "unix")
    folder = pytester.path / "marks"
    folder.mkdir()
    for n in range(count):
        name = f"p{n}"
        mark = str(folder / f"{name}.mark")
        source = BARRIER.format(
            mark=mark, folder=str(folder), count=count, name=name, wait_ms=wait_ms
        )
        (suites / f"{name}.py").write_text(source)
        (suites / f"{name}.py.exp").write_text(f"{name} together\n")
    return suites


def test_programs_run_side_by_side_and_each_reports_its_own_result_in_order(
    pytester: pytest.Pytester,
) -> None:
    _barrier_project(pytester, 6)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest("--target=unix", "--hil-reference=exp", f"--junitxml={xml}")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["hilrig: programs run on 8 VMs side by side, reported in order"])
    names = [case.get("name") for case in ET.parse(xml).getroot().iter("testcase")]
    assert names == [f"p{n}" for n in range(6)]


def test_n_auto_on_the_host_vm_is_one_process_with_its_vms_side_by_side(
    pytester: pytest.Pytester,
) -> None:
    _barrier_project(pytester, 6)
    result = pytester.runpytest("--target=unix", "--hil-reference=exp", "-n", "auto")
    result.assert_outcomes(passed=6)
    assert "workers" not in result.stdout.str()  # xdist started none


def test_with_one_instance_programs_run_one_at_a_time(pytester: pytest.Pytester) -> None:
    """The barrier's own check: on one VM the first program waits alone and fails."""
    _barrier_project(pytester, 2, wait_ms=2000)
    unix = pytester.path / "targets" / "unix.toml"
    unix.write_text(unix.read_text().replace("instances = 8", "instances = 1"))
    result = pytester.runpytest("--target=unix", "--hil-reference=exp", "--hil-timeout=30")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*p0 alone*"])


def test_a_program_that_hangs_on_one_vm_fails_alone(pytester: pytest.Pytester) -> None:
    suites = hil_project(pytester, "unix")
    (suites / "a.py").write_text("# hilrig: timeout_s=1\nwhile True:\n    pass\n")
    for name in ("b", "c", "d"):
        (suites / f"{name}.py").write_text(f"print({name!r})\n")
        (suites / f"{name}.py.exp").write_text(f"{name}\n")
    result = pytester.runpytest("--target=unix", "--hil-reference=exp", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*a.py*timeout after 1 s*recovered*"])


def test_a_board_fixture_test_between_programs_has_the_board_to_itself(
    pytester: pytest.Pytester,
) -> None:
    suites = hil_project(pytester, "unix")
    log = pytester.path / "board.log"
    log.write_text("")
    write = "f = open({log!r}, 'a')\nf.write('{what}\\n')\nf.close()\n"
    for name in ("a1", "a2", "a3", "a4"):
        slow = "import time\ntime.sleep_ms(300)\n" if name in ("a1", "a3") else ""
        (suites / f"{name}.py").write_text(slow + write.format(log=str(log), what=f"{name} ran"))
        (suites / f"{name}.py.exp").write_text("")
    (pytester.path / "test_fixture.py").write_text(
        "def test_between(board):\n"
        f"    board.exec({write.format(log=str(log), what='fixture ran')!r})\n"
    )
    args = ["suites/a1.py", "suites/a2.py", "test_fixture.py", "suites/a3.py", "suites/a4.py"]
    pytester.runpytest("--target=unix", "--hil-reference=exp", *args).assert_outcomes(passed=5)
    ran = log.read_text().splitlines()
    # a1 and a2 may run side by side, and a3 and a4; none of them beside the fixture's test
    assert sorted(ran[:2]) == ["a1 ran", "a2 ran"] and ran[2] == "fixture ran"
    assert sorted(ran[3:]) == ["a3 ran", "a4 ran"]


def _program(name: str) -> Program:
    return Program(path=Path(f"/suites/{name}.py"), name=f"{name}.py", source=name.encode())


@contextlib.contextmanager
def _started(
    run: Callable[[Program, int], BoardRun | None], names: list[str], **how: Any
) -> Iterator[tuple[RunAhead, list[Program]]]:
    """A RunAhead (``how``: lanes, window, exclusive) told to expect the programs ``names``,
    and started; closed afterwards."""
    programs = [_program(name) for name in names]
    ahead = RunAhead(run, **how)
    try:
        ahead.expect(programs)
        ahead.start()
        yield ahead, programs
    finally:
        ahead.close()


def _ran(program: Program, stdout: bytes) -> BoardRun:
    """What a board run of ``program`` that printed ``stdout`` hands its turn."""
    return BoardRun(Prepared(program.source, None, ()), RunResult(Outcome.OK, stdout), None)


def test_run_ahead_keeps_to_its_lanes_and_window_and_hands_results_in_order() -> None:
    under_way: list[str] = []
    most = [0]
    lock = threading.Lock()

    def run(program: Program, lane: int) -> BoardRun:
        with lock:
            under_way.append(program.name)
            most[0] = max(most[0], len(under_way))
        time.sleep(0.05 if program.name == "p0.py" else 0.01)
        with lock:
            under_way.remove(program.name)
        return _ran(program, f"{program.name} on {lane}".encode())

    programs = [_program(f"p{n}") for n in range(8)]
    ahead = RunAhead(run, lanes=3, window=4)
    try:
        ahead.expect(programs)
        first = ahead.run_now(programs[0])
        assert first is not None and first.result.stdout.startswith(b"p0.py on ")
        time.sleep(0.2)
        with ahead.lock:
            assert len(ahead.runs) == 4  # the window: started and not taken
        for index, program in enumerate(programs[1:], start=1):
            ahead.expect(programs[index + 1 :])
            done = ahead.take(program)
            assert done is not None and done.result.stdout.startswith(program.name.encode())
            ahead.start()
        assert most[0] == 3  # never more than the lanes at once
    finally:
        ahead.close()


def test_a_turn_out_of_order_drops_what_ran_ahead() -> None:
    def run(program: Program, lane: int) -> BoardRun:
        return _ran(program, program.source)

    with _started(run, ["p0", "p1", "p2", "p3"], lanes=2, window=4) as (ahead, programs):
        assert ahead.take(programs[2]) is None  # not the next one started: everything dropped
        assert not ahead.pending


def test_programs_that_hold_the_same_host_resource_never_run_side_by_side() -> None:
    events: list[str] = []
    lock = threading.Lock()

    def run(program: Program, lane: int) -> BoardRun:
        with lock:
            events.append(f"start {program.name}")
        time.sleep(0.05)
        with lock:
            events.append(f"end {program.name}")
        return _ran(program, program.source)

    def network(program: Program) -> str | None:
        return "network" if b"net" in program.source else None

    names = ["net1", "other", "net2", "net3"]
    with _started(run, names, lanes=4, window=8, exclusive=network) as (ahead, programs):
        for program in programs:
            done = ahead.take(program)
            assert done is not None and done.result.stdout == program.source
    assert events.index("end net1.py") < events.index("start net2.py")
    assert events.index("end net2.py") < events.index("start net3.py")
    assert events.index("start other.py") < events.index("end net1.py")  # the others go on


def test_a_program_binding_a_socket_holds_the_network() -> None:
    assert host_resource(_program("x")) is None
    udp = Program(Path("/s/u.py"), "u.py", b"s = socket.socket()\ns.bind(('127.0.0.1', 8000))\n")
    assert host_resource(udp) == "network"


def test_a_lost_lane_is_not_used_again_and_the_others_go_on() -> None:
    used: list[int] = []

    def run(program: Program, lane: int) -> BoardRun:
        if lane == 1:
            raise LaneLost(lane)
        used.append(lane)
        return _ran(program, program.source)

    results: list[bytes | None] = []
    with _started(run, [f"p{n}" for n in range(6)], lanes=2, window=8) as (ahead, programs):
        for index, program in enumerate(programs):
            done = ahead.take(program)
            results.append(None if done is None else done.result.stdout)
            ahead.expect(programs[index + 1 :])
            ahead.start()
    assert results.count(None) == 1  # the one program lane 1 was given: its turn runs it
    for program, stdout in zip(programs, results, strict=True):
        assert stdout in (None, program.source)  # each result is its own program's
    assert set(used) == {0} and len(used) == 5


class _FakeBoard:
    """A board whose probe reports the given capabilities (the lanes' only question)."""

    label = "fake"
    broken = ""

    def __init__(self, caps: Capabilities) -> None:
        self.caps = caps
        self.closed = False

    def start(self) -> Capabilities:
        return self.caps

    def close(self) -> None:
        self.closed = True


def test_a_lane_whose_board_differs_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    main = Runner(_FakeBoard(CPYTHON_CAPS), CPYTHON_CAPS, None, 4096)  # type: ignore[arg-type]
    other = dataclasses.replace(CPYTHON_CAPS, banner="MicroPython v9.9 on another build")
    roomier = dataclasses.replace(CPYTHON_CAPS, mem_free=(CPYTHON_CAPS.mem_free or 0) + 64)
    boards = [_FakeBoard(roomier), _FakeBoard(other)]
    lanes = Lanes(lambda: boards.pop(0), main)  # type: ignore[arg-type, return-value]
    with caplog.at_level(logging.WARNING):
        assert lanes.runner(0) is main
        same = lanes.runner(1)
        assert same is not None and same is not main and same.caps == CPYTHON_CAPS  # the heap
        assert lanes.runner(2) is None and lanes.runner(2) is None  # asked once
    assert caplog.text.count("lane 2 of fake left out") == 1 and "v9.9" in caplog.text
    lanes.close()


def test_what_was_expected_is_not_named_again_until_the_board_is_wanted_elsewhere() -> None:
    with _started(lambda p, lane: _ran(p, p.source), ["p0", "p1", "p2"], lanes=2) as (
        ahead,
        programs,
    ):
        assert ahead.expecting(programs[1]) and ahead.expecting(programs[2])
        assert not ahead.expecting(_program("elsewhere"))
        ahead.wait()  # a board-fixture test next: what comes after it is named anew
        assert not ahead.expecting(programs[2])
