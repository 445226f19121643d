"""Faults through the pytest plugin on the host VM and the QEMU micro:bit, and pytest itself
interrupted: the run goes on after a hang, says what happened, and leaves no process behind.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from real_targets import MICROBIT, descendants, microbit_spec

from hilrig.deadline import Deadline
from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]

TARGETS = {"host": "unix", "microbit": MICROBIT}


@pytest.fixture
def project(
    pytester: pytest.Pytester,
) -> pytest.Pytester:
    """A user project with both target files; board leases in a folder of its own."""
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    for name in TARGETS.values():
        text = (BUILTIN_DIR / f"{name}.toml").read_text()
        (pytester.path / "targets" / f"{name}.toml").write_text(text)
    (pytester.path / "suites").mkdir()
    return pytester


def program(project: pytest.Pytester, name: str, text: str) -> None:
    (project.path / "suites" / name).write_text(text)


@pytest.mark.parametrize("kind", ["host", "microbit"])
def test_hang_fails_with_timeout_and_next_program_passes(
    project: pytest.Pytester, kind: str
) -> None:
    if kind == "microbit":
        microbit_spec()
    program(project, "a_hang.py", "print('spinning')\nwhile True:\n    pass\n")
    program(project, "b_next.py", "print('next')\n")
    started = time.monotonic()
    result = project.runpytest(f"--target={TARGETS[kind]}", "--hil-timeout=1", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*a_hang.py::a_hang FAILED*",
            "*b_next.py::b_next PASSED*",
            "*timeout after 1 s (board recovered by Ctrl-C)*",
            "*spinning*",
            "*transcript: *a_hang.py.txt*",
        ]
    )
    assert time.monotonic() - started < 15


def test_memory_error_skips_without_output_and_fails_with_it(project: pytest.Pytester) -> None:
    microbit_spec()
    program(project, "a_too_big.py", "x = [0] * 100000\nprint(len(x))\n")
    program(project, "b_too_big_after_output.py", "print('before')\nx = [0] * 100000\n")
    program(project, "c_next.py", "print('next')\n")
    result = project.runpytest(f"--target={MICROBIT}", "-v", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*a_too_big.py::a_too_big SKIPPED*",
            "*b_too_big_after_output.py::b_too_big_after_output FAILED*",
            "*c_next.py::c_next PASSED*",
        ]
    )
    out = result.stdout.str()
    assert "too large for the board's heap (MemoryError)" in out
    assert "MemoryError" in out.split("b_too_big_after_output", 2)[-1]


def _read_until(proc: subprocess.Popen[bytes], marker: bytes | None, deadline: Deadline) -> bytes:
    """Output until ``marker`` (None: until the end) or the deadline."""
    assert proc.stdout is not None
    got = b""
    while (marker is None or marker not in got) and not deadline.expired():
        ready, _, _ = select.select([proc.stdout], [], [], deadline.remaining())
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            got += chunk
    return got


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_interrupted_pytest_writes_junit_and_leaves_no_emulator(project: pytest.Pytester) -> None:
    spec = microbit_spec()
    program(project, "a_hang.py", "while True:\n    pass\n")
    program(project, "b_never.py", "print('never run')\n")

    def emulator(children: set[int]) -> bool:
        return any(str(spec.firmware) in _cmdline(pid) for pid in children)

    _interrupt(project, MICROBIT, emulator)


def test_interrupted_with_programs_side_by_side_leaves_no_vm(project: pytest.Pytester) -> None:
    """On the host VM eight programs hang at once, each in a VM of its own, when Ctrl-C comes."""
    for n in range(8):
        program(project, f"a_hang{n}.py", "while True:\n    pass\n")
    program(project, "b_never.py", "print('never run')\n")

    def eight_vms(children: set[int]) -> bool:
        return len(children) >= 16  # each of the eight VMs: its fork server and a VM or more

    _interrupt(project, "unix", eight_vms)


def _interrupt(project: pytest.Pytester, target: str, ready: Callable[[set[int]], bool]) -> None:
    """Run the project's suites, Ctrl-C once its processes are ``ready``: pytest says it was
    interrupted, writes junit, and no process it started outlives it."""
    junit = project.path / "out.xml"
    # On a hang, SIGABRT makes faulthandler print every thread's stack into the failure message.
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    # Ctrl-C must reach it even where this run was started with SIGINT ignored (an asynchronous
    # command of a shell without job control is), which its child would inherit.
    main = "import signal,sys,pytest;signal.signal(signal.SIGINT,signal.default_int_handler);"
    main += "sys.exit(pytest.console_main())"
    argv = [sys.executable, "-c", main, f"--target={target}", f"--junitxml={junit}"]
    argv += ["-v", "-p", "no:cacheprovider", "--hil-timeout=60"]
    proc = subprocess.Popen(
        argv, cwd=project.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    children: set[int] = set()
    try:
        said = _read_until(proc, b"a_hang", Deadline.after(30))
        assert b"a_hang" in said, said.decode(errors="replace")
        # Wait for the board (under load it may start well after the item's name is shown).
        started = Deadline.after(30)
        while not ready(children) and not started.expired():
            children = descendants(proc.pid)
            time.sleep(0.05)
        assert ready(children), f"not ready: {[_cmdline(p) for p in children]}"
        time.sleep(0.5)  # let it boot and start the program; SIGINT at any point must work
        proc.send_signal(signal.SIGINT)
        rest = _read_until(proc, None, Deadline.after(40))
        if proc.poll() is None:
            proc.send_signal(signal.SIGABRT)
            rest += _read_until(proc, None, Deadline.after(10))
        assert proc.wait(10) == pytest.ExitCode.INTERRUPTED, (said + rest).decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert b"KeyboardInterrupt" in said + rest
    root = ET.parse(junit).getroot()  # written, and well-formed
    assert root.tag == "testsuites" and root.find("testsuite") is not None
    deadline = Deadline.after(5)
    while any(_alive(pid) for pid in children) and not deadline.expired():
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)], "processes outlived pytest"


@pytest.mark.parametrize("line", [6, 7])
def test_source_mode_keeps_a_frame_on_any_line(project: pytest.Pytester, line: int) -> None:
    """The micro:bit runs source: its module-level frames are all the program's own. A frame on
    the line the .mpy loader imports from (6 or 7) was once dropped as the loader's, and the
    program failed with 'traceback has 0 frames on the board, 1 in the reference'."""
    microbit_spec()
    body = "".join(f"v{i} = {i}\n" for i in range(1, line - 1)) + "print(v1)\nraise ValueError(2)\n"
    program(project, f"line{line}.py", body)
    result = project.runpytest(f"--target={MICROBIT}")
    result.assert_outcomes(passed=1)
